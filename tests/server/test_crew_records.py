"""A crew's records stay the crew's: the outside review's reproductions, each now refused.

1. A responder who signs on to another team's unit reads none of its past calls (REST, pull,
   snapshot, an open socket).
2. Nobody but a supervisor moves a colleague (a partner signs on from their own tablet).
3. Only the raising tablet, or dispatch after acknowledging, ends an emergency.
4. No configuration puts police on a CARE unit (model validation and a database trigger).
5. Coordinators get the follow-up summary, never the crew's notes, from every door.
6. Dispatch reads CARE's step codes, never the words a CARE responder typed.
7. "Not yours" and "not there" get the same answer.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import uuid

import pytest
from channels.testing import WebsocketCommunicator
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from server.accounts.models import Role, User
from server.asgi import application
from server.dispatch.models import Emergency, RosterEntry, Shift
from tests.conftest import PASSWORD, put_on_shift
from tests.server.sync.conftest import change, results, statuses

NOTES = "Client disclosed daily fentanyl use; gave 4 mg naloxone."
STEP_NOTE = "cleared: gave 4mg naloxone, client to detox"
HANG_SECONDS = 30  # only a guard against hanging

# The coordinator's follow-up summary, field by field (docs/security.md, "Minimum necessary").
FOLLOW_UP_FIELDS = {
    "id",
    "assignment",
    "version",
    "started_at",
    "people_contacted",
    "client_initials",
    "client_birth_year",
    "disposition",
    "services",
    "naloxone_given",
    "referrals",
}
CREW_ENCOUNTER_FIELDS = {
    "id",
    "assignment",
    "version",
    "started_at",
    "people_contacted",
    "client_initials",
    "client_birth_year",
    "disposition",
    "notes",
    "before_scene_safe",
}


def now() -> str:
    return timezone.now().isoformat()


def tablet(username: str, device_name: str | None = None) -> APIClient:
    client = APIClient()
    answer = client.post(
        "/api/v1/auth/token",
        {
            "username": username,
            "password": PASSWORD,
            "device_name": device_name or f"{username}-tablet",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    client.token = answer.json()["token"]
    return client


def served_call(dispatched, client_for) -> dict:
    """A call CARE-1 (care1) served and cleared: an encounter with notes, naloxone, a referral,
    and a step note typed by the responder."""
    call = dispatched()
    care1 = client_for("care1")
    encounter = uuid.uuid4()
    referral = uuid.uuid4()
    service = client_for("coordinator").get("/api/v1/directory/services").json()[0]["id"]
    steps = [
        change("assignment.transition", call["care"], {"to": to, "occurred_at": now()})
        for to in ("acknowledged", "en_route", "on_scene")
    ]
    records = [
        change(
            "encounter.upsert",
            encounter,
            {"assignment": call["care"], "people_contacted": 1, "notes": NOTES},
        ),
        change(
            "naloxone.create",
            uuid.uuid4(),
            {"encounter": str(encounter), "doses": 1, "dose_mg": "4", "route": "intranasal"},
        ),
        change(
            "referral.create",
            referral,
            {"encounter": str(encounter), "service": service, "consent": True},
        ),
    ]
    assert statuses(results(care1, *steps, *records)) == ["applied"] * 6, results
    cleared = care1.post(
        f"/api/v1/assignments/{call['care']}/transitions",
        {"to": "cleared", "occurred_at": now(), "note": STEP_NOTE},
        format="json",
    )
    assert cleared.status_code == 200, cleared.content
    return {**call, "encounter": str(encounter), "referral": str(referral)}


def roster_today(person: User, unit, supervisor: User) -> None:
    today = timezone.localdate()
    RosterEntry.objects.create(
        unit=unit, user=person, first_day=today, last_day=today, created_by=supervisor
    )


def move_care3_to_care1(client_for, people, units) -> None:
    """care3 (CARE-2) signs off and, rostered on CARE-1 by a supervisor, signs on to it."""
    care3 = client_for("care3")
    shift = Shift.objects.get(user=people["care3"], ended_at__isnull=True)
    assert care3.post(f"/api/v1/shifts/{shift.pk}/end").status_code == 200
    roster_today(people["care3"], units["CARE-1"], people["admin"])
    answer = care3.post("/api/v1/shifts", {"unit": units["CARE-1"].pk}, format="json")
    assert answer.status_code == 201, answer.content


# ---- 1. joining a unit opens its present, not its past --------------------------------------


def test_a_responder_who_signs_on_to_another_team_reads_none_of_its_past_calls(
    dispatched, client_for, people, units
):
    past = served_call(dispatched, client_for)
    move_care3_to_care1(client_for, people, units)
    care3 = client_for("care3")
    assert care3.get(f"/api/v1/encounters/{past['encounter']}").status_code == 404
    assert care3.get(f"/api/v1/referrals/{past['referral']}").status_code == 404
    assert care3.get(f"/api/v1/assignments/{past['care']}").status_code == 404
    assert past["referral"] not in {r["id"] for r in care3.get("/api/v1/referrals").json()}
    assert past["care"] not in {a["id"] for a in care3.get("/api/v1/assignments").json()}
    snapshot = care3.get("/api/v1/sync/snapshot").json()
    assert past["encounter"] not in json.dumps(snapshot)
    pulled = care3.get("/api/v1/sync/pull").json()
    unit_stream = f"unit:{units['CARE-1'].pk}"
    assert unit_stream in pulled["cursors"]
    # Only what happened since they joined: their own sign-on on the unit's staffing.
    assert {e["kind"] for e in pulled["events"] if e["stream"] == unit_stream} == {"unit.updated"}
    # Asking from the stream's start is the same as asking from the point they joined.
    from_zero = care3.get(f"/api/v1/sync/pull?cursors={unit_stream}:0").json()
    assert {e["kind"] for e in from_zero["events"]} == {"unit.updated"}


def test_the_crew_that_served_a_call_still_reads_it_after_signing_off(
    dispatched, client_for, people
):
    past = served_call(dispatched, client_for)
    care1 = client_for("care1")
    shift = Shift.objects.get(user=people["care1"], ended_at__isnull=True)
    assert care1.post(f"/api/v1/shifts/{shift.pk}/end").status_code == 200
    answer = care1.get(f"/api/v1/encounters/{past['encounter']}")
    assert answer.status_code == 200
    assert answer.json()["notes"] == NOTES


def test_joining_a_unit_mid_call_opens_that_call(dispatched, client_for, people, units):
    call = dispatched()
    move_care3_to_care1(client_for, people, units)
    care3 = client_for("care3")
    assert care3.get(f"/api/v1/assignments/{call['care']}").status_code == 200
    encounter = uuid.uuid4()
    opened = change("encounter.upsert", encounter, {"assignment": call["care"], "notes": "ok"})
    assert statuses(results(care3, opened)) == ["applied"]


def test_a_late_record_of_a_closed_call_reaches_its_crew_and_not_the_unit_new_crew(
    dispatched, client_for, people, units
):
    past = served_call(dispatched, client_for)
    move_care3_to_care1(client_for, people, units)
    late = change(
        "naloxone.create",
        uuid.uuid4(),
        {"encounter": past["encounter"], "doses": 1, "dose_mg": "4", "route": "intranasal"},
    )
    assert statuses(results(client_for("care1"), late)) == ["applied"]
    care3_events = client_for("care3").get("/api/v1/sync/pull").json()["events"]
    assert [e for e in care3_events if e["kind"].startswith("naloxone")] == []
    care1_events = client_for("care1").get("/api/v1/sync/pull").json()["events"]
    late_ones = [e for e in care1_events if e["kind"] == "naloxone.recorded"]
    assert [e["stream"] for e in late_ones if e["data"]["id"] == late["entity_id"]] == [
        f"user:{people['care1'].pk}"
    ]


@pytest.mark.django_db(transaction=True)
def test_an_open_socket_of_a_responder_who_joins_another_unit_replays_none_of_its_past(
    dispatched, client_for, people, units, settings
):
    # A beat long enough that moving the person (a few requests) never makes the socket look
    # silent; the token and streams are read again on every beat.
    settings.CARE_FEED_HEARTBEAT_SECONDS = 1
    settings.CARE_FEED_TOKEN_CHECK_BEATS = 1
    past = served_call(dispatched, client_for)
    care3 = tablet("care3", "care3-socket")
    new_stream = f"unit:{units['CARE-1'].pk}"

    async def scenario() -> list[dict]:
        ws = WebsocketCommunicator(application, "/ws/feed/")
        connected, _ = await ws.connect()
        assert connected
        await ws.send_json_to({"type": "hello", "token": care3.token, "cursors": {}})
        seen: list[dict] = []
        moved = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANG_SECONDS
        while (
            not any(f.get("type") == "stream_opened" for f in seen)
            or len([f for f in seen if f.get("type") == "ping"]) < 3
        ):
            assert loop.time() < deadline, "the socket never opened the new unit's stream"
            message = await ws.receive_output(timeout=HANG_SECONDS)
            assert message["type"] == "websocket.send", f"closed: {message}, after {seen}"
            frame = json.loads(message["text"])
            seen.append(frame)
            if frame["type"] == "welcome" and not moved:
                from asgiref.sync import sync_to_async

                await sync_to_async(move_care3_to_care1)(client_for, people, units)
                moved = True
            if frame["type"] == "ping":
                await ws.send_json_to({"type": "pong"})
        await ws.disconnect()
        return seen

    seen = asyncio.run(scenario())
    assert {"type": "stream_opened", "stream": new_stream} in seen
    from_new_unit = [f for f in seen if f.get("type") == "event" and f["stream"] == new_stream]
    assert [f["kind"] for f in from_new_unit if not f["kind"].startswith("unit.")] == []
    assert past["encounter"] not in json.dumps(seen)
    assert NOTES not in json.dumps(seen)


# ---- 2. nobody moves a colleague --------------------------------------------------------------


def test_a_responder_can_not_move_a_colleague_by_naming_them_partner(
    dispatched, client_for, people, units
):
    call = dispatched()
    care4 = User.objects.create_user(username="care4", password=PASSWORD, role="care_responder")
    put_on_shift(care4, units["CARE-2"])
    answer = tablet("care4").post(
        "/api/v1/shifts",
        {"unit": units["CARE-2"].pk, "partner": people["care1"].pk},
        format="json",
    )
    assert answer.status_code in (403, 409)
    care1 = User.objects.get(username="care1")
    assert care1.unit == units["CARE-1"]
    assert Shift.objects.get(user=care1, ended_at__isnull=True).unit == units["CARE-1"]
    assert client_for("care1").get(f"/api/v1/assignments/{call['care']}").status_code == 200
    pressed = client_for("care1").post(
        "/api/v1/emergencies",
        {"id": str(uuid.uuid4()), "unit": units["CARE-1"].pk, "started_at": now()},
        format="json",
    )
    assert pressed.status_code == 201


def test_a_responder_off_shift_can_not_name_a_partner_either(client_for, people, units, rookie):
    Shift.objects.filter(user=people["care3"]).update(ended_at=timezone.now())
    User.objects.filter(pk=people["care3"].pk).update(unit=None)
    roster_today(people["care3"], units["CARE-2"], people["admin"])
    answer = client_for("care3").post(
        "/api/v1/shifts", {"unit": units["CARE-2"].pk, "partner": rookie.pk}, format="json"
    )
    assert answer.status_code == 403
    assert not Shift.objects.filter(user=rookie).exists()


def test_signing_a_colleague_off_is_a_supervisors(client_for, people):
    shift = Shift.objects.get(user=people["care1"], ended_at__isnull=True)
    assert client_for("care3").post(f"/api/v1/shifts/{shift.pk}/end").status_code == 404
    assert Shift.objects.get(pk=shift.pk).ended_at is None
    assert client_for("admin").post(f"/api/v1/shifts/{shift.pk}/end").status_code == 200


@pytest.fixture
def rookie(people) -> User:
    return User.objects.create_user(username="rookie", password=PASSWORD, role="care_responder")


# ---- 3. emergencies end verifiably -----------------------------------------------------------


def test_an_outsider_signed_on_to_the_unit_can_not_end_its_emergency(
    dispatched, client_for, people, units
):
    pressed = client_for("care1").post(
        "/api/v1/emergencies",
        {"id": str(uuid.uuid4()), "unit": units["CARE-1"].pk, "started_at": now()},
        format="json",
    )
    assert pressed.status_code == 201
    move_care3_to_care1(client_for, people, units)
    end = f"/api/v1/emergencies/{pressed.json()['id']}/end"
    answer = client_for("care3").post(end, {"pin_verified": True}, format="json")
    assert answer.status_code == 404
    emergency = Emergency.objects.get(pk=pressed.json()["id"])
    assert emergency.ended_at is None and emergency.acknowledged_at is None


# ---- 4. police never on a CARE unit ------------------------------------------------------------


def test_the_database_refuses_an_officer_on_a_care_unit_whatever_door(people, units):
    officer = people["officer1"]
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=officer.pk).update(unit=units["CARE-1"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Shift.objects.create(
            unit=units["CARE-1"], user=officer, started_at=timezone.now(), signed_on_by=officer
        )
    assert User.objects.get(pk=officer.pk).unit == units["2M12"]


def test_the_database_refuses_a_responder_on_a_police_unit_and_a_dispatcher_on_any(people, units):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=people["care1"].pk).update(unit=units["2M12"])
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=people["dispatcher"].pk).update(unit=units["CARE-1"])
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=people["care1"].pk).update(role=Role.SPD_OFFICER)


def test_the_database_lets_a_person_ride_a_unit_of_their_kind(people, units):
    User.objects.filter(pk=people["care1"].pk).update(unit=units["CARE-2"])
    User.objects.filter(pk=people["officer1"].pk).update(unit=units["2K21"])
    assert User.objects.get(pk=people["care1"].pk).unit == units["CARE-2"]
    assert User.objects.get(pk=people["officer1"].pk).unit == units["2K21"]


def test_an_officer_pulls_no_clinical_event(dispatched, client_for):
    served_call(dispatched, client_for)
    events = client_for("officer1").get("/api/v1/sync/pull").json()["events"]
    clinical = ("encounter.", "naloxone.", "referral.", "service.", "survey.")
    assert [e["kind"] for e in events if e["kind"].startswith(clinical)] == []
    assert NOTES not in json.dumps(events)


# ---- 5. coordinators: the follow-up summary, from every door ----------------------------------


def test_a_coordinator_reads_a_referral_with_the_follow_up_summary_and_no_notes(
    dispatched, client_for
):
    past = served_call(dispatched, client_for)
    answer = client_for("coordinator").get(f"/api/v1/referrals/{past['referral']}")
    assert answer.status_code == 200
    assert set(answer.json()["encounter_summary"]) == FOLLOW_UP_FIELDS
    encounter = client_for("coordinator").get(f"/api/v1/encounters/{past['encounter']}")
    assert set(encounter.json()) == FOLLOW_UP_FIELDS


def test_the_crew_reads_the_referral_with_the_whole_encounter(dispatched, client_for):
    past = served_call(dispatched, client_for)
    answer = client_for("care1").get(f"/api/v1/referrals/{past['referral']}")
    assert set(answer.json()["encounter_summary"]) == CREW_ENCOUNTER_FIELDS
    assert answer.json()["encounter_summary"]["notes"] == NOTES


# ---- 6. dispatch reads the codes, not CARE's words ----------------------------------------------


STEP_FIELDS = {"from", "to", "occurred_at", "recorded_at"}


def test_a_dispatcher_reads_cares_steps_without_the_words_the_responder_typed(
    dispatched, client_for
):
    past = served_call(dispatched, client_for)
    steps = client_for("dispatcher").get(f"/api/v1/assignments/{past['care']}").json()
    assert [s["to"] for s in steps["transitions"]][-1] == "cleared"
    assert all(set(s) == STEP_FIELDS for s in steps["transitions"])


def test_the_crew_reads_its_own_step_notes(dispatched, client_for):
    past = served_call(dispatched, client_for)
    steps = client_for("care1").get(f"/api/v1/assignments/{past['care']}").json()["transitions"]
    assert steps[-1]["note"] == STEP_NOTE


def test_a_dispatchers_own_cancel_reason_stays_readable_to_dispatch(dispatched, client_for):
    call = dispatched()
    cancelled = client_for("dispatcher").post(
        f"/api/v1/incidents/{call['incident']['id']}/cancel",
        {"reason": "Caller called back: all fine."},
        format="json",
    )
    assert cancelled.status_code == 200
    steps = client_for("dispatcher").get(f"/api/v1/assignments/{call['care']}").json()
    assert steps["transitions"][-1]["note"] == "Caller called back: all fine."


# ---- 7. the same answer for "not yours" and "not there" -----------------------------------------


def _same(a, b) -> None:
    assert (a.status_code, a.json()) == (b.status_code, b.json())


def test_another_crews_records_answer_exactly_as_records_that_do_not_exist(dispatched, client_for):
    past = served_call(dispatched, client_for)
    care3 = client_for("care3")
    nowhere = str(uuid.uuid4())
    for path in ("encounters", "referrals", "assignments"):
        record = {"encounters": past["encounter"], "referrals": past["referral"]}.get(
            path, past["care"]
        )
        _same(care3.get(f"/api/v1/{path}/{record}"), care3.get(f"/api/v1/{path}/{nowhere}"))
    theirs = care3.put(
        f"/api/v1/encounters/{uuid.uuid4()}",
        {"assignment": past["care"], "notes": "x"},
        format="json",
    )
    missing = care3.put(
        f"/api/v1/encounters/{uuid.uuid4()}",
        {"assignment": nowhere, "notes": "x"},
        format="json",
    )
    _same(theirs, missing)
    naloxone = {"doses": 1, "dose_mg": "4", "route": "intranasal", "administered_at": now()}
    _same(
        care3.post(
            "/api/v1/naloxone-administrations",
            {"id": str(uuid.uuid4()), "encounter": past["encounter"], **naloxone},
            format="json",
        ),
        care3.post(
            "/api/v1/naloxone-administrations",
            {"id": str(uuid.uuid4()), "encounter": nowhere, **naloxone},
            format="json",
        ),
    )


def test_another_units_emergency_answers_as_one_that_does_not_exist(client_for, units):
    pressed = client_for("care1").post(
        "/api/v1/emergencies",
        {"id": str(uuid.uuid4()), "unit": units["CARE-1"].pk, "started_at": now()},
        format="json",
    )
    care3 = client_for("care3")
    body = {"pin_verified": True}
    _same(
        care3.post(f"/api/v1/emergencies/{pressed.json()['id']}/end", body, format="json"),
        care3.post(f"/api/v1/emergencies/{uuid.uuid4()}/end", body, format="json"),
    )


def test_another_units_emergency_id_raises_your_own_emergency_and_tells_nothing_of_theirs(
    client_for, units, people
):
    sent = {"unit": units["CARE-1"].pk, "started_at": now()}
    theirs = client_for("care1").post(
        "/api/v1/emergencies", {"id": str(uuid.uuid4()), **sent}, format="json"
    )
    assert theirs.status_code == 201, theirs.content
    before = Emergency.objects.values().get(pk=theirs.json()["id"])
    mine = client_for("care3").post(
        "/api/v1/emergencies",
        {"id": theirs.json()["id"], "unit": units["CARE-2"].pk, "started_at": now()},
        format="json",
    )
    # Help is never refused over an id: care3's unit has its emergency, under an id of the
    # server's, shaped as any press's answer, naming nothing of CARE-1's.
    assert mine.status_code == theirs.status_code
    assert set(mine.json()) == set(theirs.json())
    assert mine.json()["id"] != theirs.json()["id"]
    raised = Emergency.objects.get(pk=mine.json()["id"])
    assert (raised.unit_id, raised.started_by_id) == (units["CARE-2"].pk, people["care3"].pk)
    assert Emergency.objects.values().get(pk=theirs.json()["id"]) == before
    assert Emergency.objects.filter(ended_at__isnull=True).count() == 2


def test_your_own_emergency_id_sent_again_is_the_same_emergency(client_for, units):
    body = {"id": str(uuid.uuid4()), "unit": units["CARE-1"].pk, "started_at": now()}
    first = client_for("care1").post("/api/v1/emergencies", body, format="json")
    again = client_for("care1").post("/api/v1/emergencies", body, format="json")
    assert first.json()["id"] == again.json()["id"] == body["id"]
    assert Emergency.objects.count() == 1


def test_a_stale_roster_does_not_let_you_sign_on(client_for, people, units):
    """A roster that ended yesterday opens nothing today."""
    Shift.objects.filter(user=people["care3"]).update(ended_at=timezone.now())
    User.objects.filter(pk=people["care3"].pk).update(unit=None)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    RosterEntry.objects.create(
        unit=units["CARE-1"],
        user=people["care3"],
        first_day=yesterday,
        last_day=yesterday,
        created_by=people["admin"],
    )
    answer = client_for("care3").post("/api/v1/shifts", {"unit": units["CARE-1"].pk}, format="json")
    assert answer.status_code == 403
    assert answer.json()["code"] == "not_rostered"


# ---- ten more attempts in the same spirit ------------------------------------------------------


def _pending_request(person: User, unit) -> str:
    from server.dispatch.models import SignOnRequest

    return str(SignOnRequest.objects.create(unit=unit, user=person, day=timezone.localdate()).pk)


def test_attempt_1_a_responder_approves_their_own_sign_on_request(client_for, people, units):
    request = _pending_request(people["care3"], units["CARE-1"])
    answer = client_for("care3").post(
        f"/api/v1/sign-on-requests/{request}/decide", {"approve": True}, format="json"
    )
    assert answer.status_code == 403
    assert not RosterEntry.objects.filter(user=people["care3"], unit=units["CARE-1"]).exists()


def test_attempt_2_a_responder_rosters_themselves_on_another_team(client_for, people, units):
    answer = client_for("care3").post(
        "/api/v1/rosters",
        {
            "unit": units["CARE-1"].pk,
            "user": people["care3"].pk,
            "first_day": timezone.localdate().isoformat(),
        },
        format="json",
    )
    assert answer.status_code == 403
    assert not RosterEntry.objects.exists()


def test_attempt_3_an_officer_asks_to_ride_a_care_team(client_for, units):
    answer = client_for("officer1").post(
        "/api/v1/sign-on-requests", {"unit": units["CARE-1"].pk}, format="json"
    )
    assert answer.status_code == 403
    assert "unit" in answer.json()["fields"]


def test_attempt_4_a_cancelled_roster_entry_opens_nothing(client_for, people, units):
    Shift.objects.filter(user=people["care3"]).update(ended_at=timezone.now())
    User.objects.filter(pk=people["care3"].pk).update(unit=None)
    roster_today(people["care3"], units["CARE-1"], people["admin"])
    entry = RosterEntry.objects.get(user=people["care3"])
    cancelled = client_for("admin").post(f"/api/v1/rosters/{entry.pk}/cancel")
    assert cancelled.status_code == 200, cancelled.content
    answer = client_for("care3").post("/api/v1/shifts", {"unit": units["CARE-1"].pk}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (403, "not_rostered")


def test_attempt_5_a_responder_asks_for_another_units_stream(client_for, units):
    other = f"unit:{units['CARE-1'].pk}"
    answer = client_for("care3").get(f"/api/v1/sync/pull?cursors={other}:0")
    assert answer.status_code == 403
    assert answer.json()["streams"] == [other]


def test_attempt_6_the_officer_on_the_same_call_reads_no_encounter_of_it(dispatched, client_for):
    past = served_call(dispatched, client_for)
    officer = client_for("officer1")
    assert officer.get(f"/api/v1/encounters/{past['encounter']}").status_code in (403, 404)
    assert officer.get(f"/api/v1/referrals/{past['referral']}").status_code in (403, 404)
    steps = officer.get(f"/api/v1/assignments/{past['spd']}").json()
    assert NOTES not in json.dumps(steps) and STEP_NOTE not in json.dumps(steps)


def test_attempt_7_a_coordinator_moves_a_call(dispatched, client_for):
    call = dispatched()
    answer = client_for("coordinator").post(
        f"/api/v1/assignments/{call['care']}/transitions",
        {"to": "acknowledged", "occurred_at": now()},
        format="json",
    )
    assert answer.status_code == 403
    assert (
        client_for("dispatcher").get(f"/api/v1/assignments/{call['care']}").json()["status"]
        == "dispatched"
    )


def test_attempt_8_a_deactivated_supervisors_old_token_approves_nothing(client_for, people, units):
    request = _pending_request(people["care3"], units["CARE-1"])
    admin = client_for("admin")
    User.objects.filter(pk=people["admin"].pk).update(is_active=False)
    answer = admin.post(
        f"/api/v1/sign-on-requests/{request}/decide", {"approve": True}, format="json"
    )
    assert answer.status_code in (401, 403)
    assert not RosterEntry.objects.exists()


def test_attempt_9_a_colleagues_roster_does_not_let_you_sign_on(client_for, people, units):
    Shift.objects.filter(user=people["care3"]).update(ended_at=timezone.now())
    User.objects.filter(pk=people["care3"].pk).update(unit=None)
    roster_today(people["care1"], units["CARE-2"], people["admin"])
    answer = client_for("care3").post("/api/v1/shifts", {"unit": units["CARE-2"].pk}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (403, "not_rostered")


def test_attempt_10_an_officers_push_of_a_care_record_on_the_call_is_refused(
    dispatched, client_for
):
    past = served_call(dispatched, client_for)
    naloxone = change(
        "naloxone.create",
        uuid.uuid4(),
        {"encounter": past["encounter"], "doses": 1, "dose_mg": "4", "route": "intranasal"},
    )
    answer = results(client_for("officer1"), naloxone)[0]
    assert (answer["status"], answer["code"]) == ("rejected", "forbidden")
    assert "server" not in answer
