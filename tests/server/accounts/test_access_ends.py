"""A person's access ends the moment they are deactivated, or given another role or unit: their
old tokens stop working over REST and on the live feed, their open sockets close, and a socket
never goes on carrying a stream its person may no longer read — whichever door made the change
(a service, the admin, a `save()` from a shell, or a bulk update that skips every signal)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from server.accounts import services as accounts
from server.accounts.models import DeviceToken, Role, User
from server.audit.models import AuditEntry
from server.care.services import record_service_given
from server.dispatch.models import Shift
from server.feed.models import Stream
from server.feed.services import publish_event
from tests.conftest import PASSWORD, SHIFTS_SINCE, put_on_shift
from tests.server.sync.conftest import change, results, statuses
from tests.server.sync.test_consumers import (  # noqa: F401 - fresh_layer is a fixture
    HANG_SECONDS,
    close_code,
    frames,
    fresh_layer,
    hello,
    run,
    signed_in,
    socket,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def care2(people, units) -> User:
    person = User.objects.create_user(
        username="care2", password=PASSWORD, role=Role.CARE_RESPONDER, unit=units["CARE-1"]
    )
    put_on_shift(person, units["CARE-1"], since=SHIFTS_SINCE)
    return person


def move_quietly(person: User, unit) -> None:
    """Sign a person off and on to `unit` with bulk writes that send no signal (a shell, a
    script): the heartbeat's re-check still finds it."""
    now = timezone.now()
    Shift.objects.filter(user=person, ended_at__isnull=True).update(ended_at=now)
    floor = Stream.objects.filter(name=f"unit:{unit.pk}").values_list("last_seq", flat=True)
    Shift.objects.bulk_create(
        [
            Shift(
                unit=unit,
                user=person,
                started_at=now,
                signed_on_by=person,
                stream_floor=floor.first() or 0,
            )
        ]
    )
    User.objects.filter(pk=person.pk).update(unit=unit)


def tablet(username: str) -> APIClient:
    client = APIClient()
    answer = client.post(
        "/api/v1/auth/token",
        {"username": username, "password": PASSWORD, "device_name": f"{username}-tablet"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    return client


def deactivate_by_save(user: User) -> None:
    user.is_active = False
    user.save()


def deactivate_by_bulk_update(user: User) -> None:
    # A queryset update sends no signal: the token check itself must refuse the person.
    User.objects.filter(pk=user.pk).update(is_active=False)


DOORS = [deactivate_by_save, deactivate_by_bulk_update]


@pytest.fixture
def care1_encounter(dispatched, client_for) -> str:
    """An encounter on CARE-1 with notes, recorded by care1 through push."""
    call = dispatched()
    care1 = client_for("care1")
    steps = [
        change("assignment.transition", call["care"], {"to": to})
        for to in ("acknowledged", "en_route", "on_scene")
    ]
    encounter_id = uuid.uuid4()
    opened = change(
        "encounter.upsert",
        encounter_id,
        {"assignment": call["care"], "people_contacted": 1, "notes": "Talked about detox."},
    )
    assert statuses(results(care1, *steps, opened)) == ["applied"] * 4
    return str(encounter_id)


@pytest.mark.parametrize("door", DOORS)
def test_a_deactivated_person_old_token_reads_and_writes_nothing(care2, care1_encounter, door):
    client = tablet("care2")
    assert client.get("/api/v1/me").status_code == 200
    door(care2)
    assert client.get("/api/v1/me").status_code == 401
    assert client.get(f"/api/v1/encounters/{care1_encounter}").status_code == 401
    pushed = client.post(
        "/api/v1/sync/push",
        {
            "device_time": timezone.now().isoformat(),
            "mutations": [
                change(
                    "service.create",
                    uuid.uuid4(),
                    {"encounter": care1_encounter, "service": "first-aid"},
                )
            ],
        },
        format="json",
    )
    assert pushed.status_code == 401
    assert "first-aid" not in json.dumps(pushed.json())


def test_deactivating_revokes_every_device_of_the_person(care2):
    tablet("care2")
    tablet("care2")
    deactivate_by_save(care2)
    assert not DeviceToken.objects.filter(device__user=care2, revoked_at=None).exists()
    assert care2.devices.filter(revoked_at=None).count() == 0


@pytest.mark.parametrize(
    ("change_person", "field"),
    [
        # A new role takes the person off their unit: a coordinator rides none.
        (
            lambda user, units: (
                setattr(user, "role", Role.COORDINATOR),
                setattr(user, "unit", None),
            ),
            "role",
        ),
        (lambda user, units: setattr(user, "unit", units["CARE-2"]), "unit"),
    ],
    ids=["role", "unit"],
)
def test_a_new_role_or_unit_revokes_the_old_tokens_and_a_new_sign_in_works(
    care2, units, change_person, field
):
    old = tablet("care2")
    change_person(care2, units)
    care2.save()
    assert old.get("/api/v1/me").status_code == 401
    assert tablet("care2").get("/api/v1/me").status_code == 200


def test_saving_a_person_without_changing_access_keeps_their_tokens(care2):
    client = tablet("care2")
    care2.first_name = "Robin"
    care2.save()
    assert client.get("/api/v1/me").status_code == 200


def test_the_deactivate_service_is_audited_with_who_did_it(people, care2):
    tablet("care2")
    accounts.deactivate_person(actor=people["admin"], user=care2)
    care2.refresh_from_db()
    assert care2.is_active is False
    done = AuditEntry.objects.filter(action="accounts.deactivated", object_id=str(care2.pk))
    assert done.filter(actor=people["admin"]).exists()


# ---- the live feed -------------------------------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_a_deactivated_person_old_token_is_refused_at_hello(care2, door):
    key = token_for("care2")
    door(care2)

    async def scenario():
        ws = await socket()
        await ws.send_json_to(hello(key))
        code, before = await close_code(ws)
        assert code in (4401, 4403)
        assert not [f for f in before if f["type"] == "welcome"]

    run(scenario)


def test_deactivating_closes_the_open_socket_at_once(care2):
    key = token_for("care2")

    async def scenario():
        ws, _ = await signed_in(key)
        await frames(ws)
        await database_sync_to_async(deactivate_by_save)(care2)
        code, _ = await close_code(ws)
        assert code == 4403

    run(scenario)


def service_on_care1(care1: User, encounter_id: str, note: str) -> None:
    record_service_given(
        actor=care1,
        service_id=uuid.uuid4(),
        encounter_id=encounter_id,
        service="first-aid",
        occurred_at=timezone.now(),
        note=note,
    )


def test_a_responder_moved_to_another_unit_stops_getting_the_old_unit_events(
    people, care2, units, care1_encounter
):
    key = token_for("care2")
    note = "Bandaged the left hand; client named the shelter on 3rd."

    def move_to_care2() -> None:
        care2.unit = units["CARE-2"]
        care2.save()

    async def scenario():
        ws, _ = await signed_in(key)
        await frames(ws)
        await database_sync_to_async(move_to_care2)()
        await database_sync_to_async(service_on_care1)(people["care1"], care1_encounter, note)
        code, before = await close_code(ws)
        assert code == 4401
        assert note not in json.dumps(before)

    run(scenario)


def test_a_socket_leaves_a_stream_its_person_lost_even_when_no_signal_was_sent(
    people, care2, units, care1_encounter, settings
):
    """A bulk update skips the signals: the heartbeat's re-check finds the new unit."""
    settings.CARE_FEED_HEARTBEAT_SECONDS = 0.2
    settings.CARE_FEED_TOKEN_CHECK_BEATS = 1  # the re-check on every beat, before any reaping
    key = token_for("care2")
    note = "Walked with the client to the day center."

    async def scenario():
        ws, welcome = await signed_in(key)
        unit_stream = f"unit:{units['CARE-1'].pk}"
        assert unit_stream in welcome["streams"]
        await database_sync_to_async(move_quietly)(care2, units["CARE-2"])
        # Two heartbeats (each answered, so the socket is not reaped as silent) pass the re-check.
        pings = 0
        while pings < 2:
            frame = await ws.receive_json_from(timeout=5)
            if frame["type"] == "ping":
                pings += 1
                await ws.send_json_to({"type": "pong"})
        await database_sync_to_async(service_on_care1)(people["care1"], care1_encounter, note)
        seen = []
        while len([f for f in seen if f["type"] == "ping"]) < 2:
            message = await ws.receive_output(timeout=5)
            if message["type"] == "websocket.close":
                break
            frame = json.loads(message["text"])
            seen.append(frame)
            if frame["type"] == "ping":
                await ws.send_json_to({"type": "pong"})
        assert note not in json.dumps(seen)
        await ws.disconnect()

    run(scenario)


def test_an_open_socket_joins_the_new_unit_stream_at_the_next_check_without_reconnecting(
    people, care2, units, settings
):
    """Signed on to another unit by bulk writes (no signal): the re-check opens the new unit's
    stream on the same socket, from the point the person joined it: what the unit's stream
    carried before they joined is another crew's and never arrives."""
    settings.CARE_FEED_HEARTBEAT_SECONDS = 0.2
    settings.CARE_FEED_TOKEN_CHECK_BEATS = 1
    key = token_for("care2")
    new_stream = f"unit:{units['CARE-2'].pk}"

    def before_joining_then_join() -> None:
        publish_event(stream=new_stream, kind="test.event", data={"n": "before"})
        move_quietly(care2, units["CARE-2"])
        publish_event(stream=new_stream, kind="test.event", data={"n": "after"})

    async def scenario():
        ws, welcome = await signed_in(key)
        assert new_stream not in welcome["streams"]
        await database_sync_to_async(before_joining_then_join)()
        seen = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANG_SECONDS  # heartbeats keep coming: bound the whole wait
        while not any(f.get("kind") == "test.event" for f in seen):
            assert loop.time() < deadline, f"no event from {new_stream} after {HANG_SECONDS} s"
            frame = await ws.receive_json_from(timeout=HANG_SECONDS)
            seen.append(frame)
            if frame["type"] == "ping":
                await ws.send_json_to({"type": "pong"})
        opened = [f for f in seen if f["type"] == "stream_opened"]
        assert opened == [{"type": "stream_opened", "stream": new_stream}]
        replayed = [f["data"] for f in seen if f["type"] == "event" and f["stream"] == new_stream]
        assert replayed == [{"n": "after"}]
        await ws.disconnect()

    run(scenario)


def test_an_inactive_person_reads_no_stream(care2):
    from server.sync.access import readable_streams

    User.objects.filter(pk=care2.pk).update(is_active=False)
    care2.refresh_from_db()
    assert readable_streams(care2) == []
    assert readable_streams(AnonymousUser()) == []


def test_an_open_socket_of_a_person_deactivated_without_a_signal_closes_at_the_heartbeat(
    care2, settings
):
    settings.CARE_FEED_HEARTBEAT_SECONDS = 0.2
    settings.CARE_FEED_TOKEN_CHECK_BEATS = 1  # the re-check on every beat, before any reaping
    key = token_for("care2")

    async def scenario():
        ws, _ = await signed_in(key)
        await database_sync_to_async(deactivate_by_bulk_update)(care2)
        code, _ = await close_code(ws, timeout=5)
        assert code == 4401

    run(scenario)


def test_the_admin_deactivate_action_ends_the_person_access_and_names_the_admin(people, care2):
    client = tablet("care2")
    admin = people["admin"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    browser = Client()
    browser.force_login(admin)
    answer = browser.post(
        "/admin/accounts/user/", {"action": "deactivate", "_selected_action": [care2.pk]}
    )
    assert answer.status_code == 302
    assert client.get("/api/v1/me").status_code == 401
    assert AuditEntry.objects.filter(
        action="accounts.deactivated", object_id=str(care2.pk), actor=admin
    ).exists()


def test_the_admin_form_can_not_move_a_person_to_another_unit(people, care2, units):
    """The unit someone rides with is set by signing on (a shift from a roster): the admin's
    person form shows it and ignores a unit posted to it, so the tokens stand."""
    client = tablet("care2")
    admin = people["admin"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    browser = Client()
    browser.force_login(admin)
    joined = timezone.localtime(care2.date_joined)
    answer = browser.post(
        f"/admin/accounts/user/{care2.pk}/change/",
        {
            "username": "care2",
            "is_active": "on",
            "role": Role.CARE_RESPONDER,
            "unit": units["CARE-2"].pk,
            "date_joined_0": joined.strftime("%Y-%m-%d"),
            "date_joined_1": joined.strftime("%H:%M:%S"),
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    care2.refresh_from_db()
    assert care2.unit == units["CARE-1"]
    assert client.get("/api/v1/me").status_code == 200


def test_the_admin_form_refuses_to_make_a_care_responder_on_a_care_unit_an_officer(
    people, care2, units
):
    admin = people["admin"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    browser = Client()
    browser.force_login(admin)
    joined = timezone.localtime(care2.date_joined)
    answer = browser.post(
        f"/admin/accounts/user/{care2.pk}/change/",
        {
            "username": "care2",
            "is_active": "on",
            "role": Role.SPD_OFFICER,
            "date_joined_0": joined.strftime("%Y-%m-%d"),
            "date_joined_1": joined.strftime("%H:%M:%S"),
        },
    )
    assert answer.status_code == 200  # the form again, with the reason beside the role
    assert b"sign them off first" in answer.content
    care2.refresh_from_db()
    assert care2.role == Role.CARE_RESPONDER
