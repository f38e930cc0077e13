"""Responder safety after the officers leave: the emergency button, police backup, on-scene
check-ins and caution history, through the service, REST and offline-push doors."""

from __future__ import annotations

import datetime
import threading
import uuid

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from server.audit.models import AuditEntry
from server.dispatch.models import (
    Assignment,
    BackupRequest,
    CheckIn,
    CheckInLapse,
    Emergency,
    Protocol,
    Unit,
)
from server.dispatch.safety import services as safety
from server.dispatch.safety.services import raise_check_in_lapses
from server.errors import Forbidden
from server.feed.models import Event
from tests.conftest import PASSWORD
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data
from tests.server.sync.conftest import change, results, statuses

EMERGENCIES = "/api/v1/emergencies"


def events(stream: str, kind: str) -> list[dict]:
    return list(
        Event.objects.filter(stream_id=stream, kind=kind)
        .order_by("seq")
        .values_list("data", flat=True)
    )


def press(client, unit: Unit, **extra):
    body = {"id": str(uuid.uuid4()), "unit": unit.pk, "started_at": timezone.now().isoformat()}
    return client.post(EMERGENCIES, {**body, **extra}, format="json")


def walk(move, who: str, assignment: str, *states: str, **extra) -> None:
    for to in states:
        answer = move(who, assignment, to, **extra)
        assert answer.status_code == 200, answer.content


# ---- emergencies ---------------------------------------------------------------------------


def test_an_emergency_alerts_the_board_its_unit_and_the_officers_on_its_call(
    dispatched, client_for, units
):
    call = dispatched()
    care = units["CARE-1"]
    Unit.objects.filter(pk=care.pk).update(
        last_latitude=47.61, last_longitude=-122.34, last_position_at=timezone.now()
    )
    answer = press(client_for("care1"), care)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["incident"]["cad_number"] == call["incident"]["cad_number"]
    assert (body["latitude"], body["longitude"]) == (47.61, -122.34)
    assert [e["id"] for e in events("dispatch", "emergency.started")] == [body["id"]]
    assert [e["id"] for e in events(f"unit:{care.pk}", "emergency.started")] == [body["id"]]
    assert [e["id"] for e in events(f"unit:{units['2M12'].pk}", "emergency.alert")] == [body["id"]]
    assert AuditEntry.objects.filter(action="emergency.started", object_id=body["id"]).exists()


def test_the_nearest_staffed_officers_are_alerted_too(client_for, units, people):
    for sign, lat in (("2M12", 47.611), ("2K21", 47.70)):
        Unit.objects.filter(pk=units[sign].pk).update(last_latitude=lat, last_longitude=-122.34)
    answer = press(client_for("care1"), units["CARE-1"], latitude=47.61, longitude=-122.34)
    assert answer.status_code == 201, answer.content
    assert answer.json()["alerted_units"][0] == units["2M12"].pk
    assert answer.json()["incident"] is None


def test_the_same_press_sent_twice_is_one_emergency(client_for, units, people):
    same = str(uuid.uuid4())
    first = press(client_for("care1"), units["CARE-1"], id=same)
    again = press(client_for("care1"), units["CARE-1"], id=same)
    assert (first.status_code, again.status_code) == (201, 201), first.content
    assert Emergency.objects.count() == 1
    assert len(events("dispatch", "emergency.started")) == 1


def test_a_second_press_while_one_is_open_re_alerts_it_and_opens_no_second(
    client_for, units, people
):
    first = press(client_for("care1"), units["CARE-1"])
    again = press(client_for("care1"), units["CARE-1"])
    assert (first.status_code, again.status_code) == (201, 201), again.content
    assert again.json()["id"] == first.json()["id"]  # the tablet ends exactly the open one
    assert Emergency.objects.count() == 1
    told = events("dispatch", "emergency.started")
    assert [e["id"] for e in told] == [first.json()["id"]] * 2
    assert "realerted_at" in told[1] and "realerted_at" not in told[0]


def _open_emergency(unit: Unit, person) -> Emergency:
    return Emergency.objects.create(
        id=uuid.uuid4(), unit=unit, started_by=person, started_at=timezone.now()
    )


def test_the_database_holds_one_open_emergency_per_unit(units, people):
    first = _open_emergency(units["CARE-1"], people["care1"])
    with pytest.raises(IntegrityError), transaction.atomic():
        _open_emergency(units["CARE-1"], people["care1"])
    _open_emergency(units["CARE-2"], people["care3"])  # another unit's is its own
    Emergency.objects.filter(pk=first.pk).update(ended_at=timezone.now())
    _open_emergency(units["CARE-1"], people["care1"])  # once ended, a new one may open
    assert Emergency.objects.filter(ended_at__isnull=True).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_holds_arriving_at_the_same_instant_open_one_emergency(units, people):
    presses = 6
    start = threading.Barrier(presses)
    answers: list[str] = []
    errors: list[BaseException] = []

    def press_now(n: int) -> None:
        client = APIClient()
        client.force_authenticate(people["care1"])
        try:
            start.wait()
            answer = press(client, units["CARE-1"])
            assert answer.status_code in (200, 201), answer.content
            answers.append(answer.json()["id"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=press_now, args=(n,)) for n in range(presses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    opened = Emergency.objects.get(unit=units["CARE-1"], ended_at__isnull=True)
    assert answers == [str(opened.pk)] * presses


def test_after_an_emergency_ended_a_new_press_opens_a_new_one(client_for, units, people):
    first = press(client_for("care1"), units["CARE-1"])
    Emergency.objects.filter(pk=first.json()["id"]).update(ended_at=timezone.now())
    again = press(client_for("care1"), units["CARE-1"])
    assert again.json()["id"] != first.json()["id"]
    assert Emergency.objects.count() == 2


@pytest.mark.parametrize(
    ("who", "unit", "status"),
    [("officer1", "CARE-1", 403), ("dispatcher", "CARE-1", 403), ("coordinator", "CARE-1", 403)],
)
def test_only_a_unit_s_own_responders_send_its_emergency(client_for, units, who, unit, status):
    assert press(client_for(who), units[unit]).status_code == status
    assert not Emergency.objects.exists()


def test_a_future_start_is_refused(client_for, units):
    later = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    answer = press(client_for("care1"), units["CARE-1"], started_at=later)
    assert answer.status_code == 400
    assert "started_at" in answer.json()["fields"]


def test_dispatch_acknowledges_and_the_tablet_hears_it(client_for, units):
    emergency = press(client_for("care1"), units["CARE-1"]).json()
    ack = f"{EMERGENCIES}/{emergency['id']}/acknowledge"
    assert client_for("care1").post(ack).status_code == 403
    answer = client_for("dispatcher").post(ack)
    assert answer.status_code == 200, answer.content
    assert answer.json()["acknowledged_at"]
    heard = events(f"unit:{units['CARE-1'].pk}", "emergency.acknowledged")
    assert [e["id"] for e in heard] == [emergency["id"]]


def test_the_raising_tablet_ends_it_with_the_pin_and_no_other_unit_can(client_for, units):
    emergency = press(client_for("care1"), units["CARE-1"]).json()
    end = f"{EMERGENCIES}/{emergency['id']}/end"
    outsider = client_for("care3").post(end, {"pin_verified": True}, format="json")
    assert outsider.status_code == 404  # another unit's emergency is, to it, not there
    assert outsider.json()["detail"] == "No such emergency."
    assert Emergency.objects.get(pk=emergency["id"]).ended_at is None
    assert client_for("care1").post(end, {}, format="json").status_code == 400
    answer = client_for("care1").post(end, {"pin_verified": True}, format="json")
    assert answer.status_code == 200, answer.content
    stored = Emergency.objects.get(pk=emergency["id"])
    assert stored.ended_at and stored.ended_with_pin
    again = client_for("care1").post(end, {"pin_verified": True}, format="json")
    assert again.status_code == 409


def test_the_same_person_on_another_tablet_can_not_end_it(client_for, units):
    """The PIN is checked by the tablet that raised the alarm: the server trusts that device,
    not a `pin_verified` flag from any other (a stolen password on a second tablet)."""
    emergency = press(client_for("care1"), units["CARE-1"]).json()
    second = APIClient()
    token = second.post(
        "/api/v1/auth/token",
        {"username": "care1", "password": PASSWORD, "device_name": "spare-tablet"},
        format="json",
    ).json()["token"]
    second.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    end = f"{EMERGENCIES}/{emergency['id']}/end"
    answer = second.post(end, {"pin_verified": True}, format="json")
    assert answer.status_code == 404
    assert Emergency.objects.get(pk=emergency["id"]).ended_at is None


def test_a_dispatcher_ends_it_only_after_acknowledging_and_with_a_note(client_for, units):
    emergency = press(client_for("care1"), units["CARE-1"]).json()
    end = f"{EMERGENCIES}/{emergency['id']}/end"
    unacknowledged = client_for("dispatcher").post(end, {"note": "Radio."}, format="json")
    assert unacknowledged.status_code == 409
    assert Emergency.objects.get(pk=emergency["id"]).ended_at is None
    acknowledged = client_for("dispatcher").post(f"{EMERGENCIES}/{emergency['id']}/acknowledge")
    assert acknowledged.status_code == 200
    assert client_for("dispatcher").post(end, {}, format="json").status_code == 400
    answer = client_for("dispatcher").post(end, {"note": "Reached by radio."}, format="json")
    assert answer.status_code == 200
    assert Emergency.objects.get(pk=emergency["id"]).end_note == "Reached by radio."


def test_an_emergency_queued_offline_is_applied_before_the_changes_queued_ahead_of_it(
    dispatched, client_for, units
):
    call = dispatched()
    care1 = client_for("care1")
    emergency_id = uuid.uuid4()
    steps = [
        change("assignment.transition", call["care"], {"to": "acknowledged"}),
        change("assignment.transition", call["care"], {"to": "en_route"}),
        change("emergency.start", emergency_id, {"unit": units["CARE-1"].pk}),
    ]
    found = results(care1, *steps)
    assert statuses(found) == ["applied"] * 3
    assert [r["id"] for r in found] == [s["id"] for s in steps]  # answered in the order sent
    kinds = list(
        Event.objects.filter(stream_id=f"unit:{units['CARE-1'].pk}")
        .exclude(kind="assignment.dispatched")
        .order_by("seq")
        .values_list("kind", flat=True)
    )
    assert kinds[0] == "emergency.started"
    assert Emergency.objects.get(pk=emergency_id).incident_id is not None


def test_an_officer_can_not_push_another_unit_s_emergency(client_for, units):
    theirs = change("emergency.start", uuid.uuid4(), {"unit": units["CARE-1"].pk})
    found = results(client_for("officer1"), theirs)
    assert statuses(found) == ["rejected"]
    assert not Emergency.objects.exists()


def test_the_emergency_ends_through_the_push_with_the_pin(client_for, units):
    emergency = press(client_for("care1"), units["CARE-1"]).json()
    found = results(
        client_for("care1"), change("emergency.end", emergency["id"], {"pin_verified": True})
    )
    assert statuses(found) == ["applied"]
    assert Emergency.objects.get(pk=emergency["id"]).ended_at is not None


# ---- police backup -------------------------------------------------------------------------


def test_care_asks_for_backup_and_dispatch_sends_a_second_officer_to_the_same_call(
    dispatched, client_for, units, move
):
    call = dispatched()
    walk(move, "officer1", call["spd"], "acknowledged", "en_route", "on_scene", "scene_safe")
    walk(move, "officer1", call["spd"], "cleared")
    request_id = str(uuid.uuid4())
    answer = client_for("care1").post(
        f"/api/v1/assignments/{call['care']}/backup",
        {"id": request_id, "urgent": True, "reason": "escalating"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert [e["id"] for e in events("dispatch", "backup.requested")] == [request_id]

    again = client_for("dispatcher").post(
        f"/api/v1/incidents/{call['incident']['id']}/dispatch",
        {
            "care_unit": None,
            "spd_unit": units["2K21"].pk,
            "police_only_code": "other",
            "override_reason": "backup",
        },
        format="json",
    )
    assert again.status_code == 409  # the first dispatch can't be repeated
    sent = client_for("dispatcher").post(
        f"/api/v1/incidents/{call['incident']['id']}/backup",
        {"spd_unit": units["2K21"].pk},
        format="json",
    )
    assert sent.status_code == 201, sent.content
    backup = Assignment.objects.get(pk=sent.json()["id"])
    assert (backup.unit, str(backup.incident_id)) == (units["2K21"], call["incident"]["id"])
    assert BackupRequest.objects.get(pk=request_id).answered_by == backup
    assert events(f"unit:{units['2K21'].pk}", "assignment.dispatched")
    assert events(f"unit:{units['CARE-1'].pk}", "backup.sent")
    walk(move, "officer2", str(backup.pk), "acknowledged", "en_route", "on_scene")


def test_a_backup_reason_must_be_one_of_the_list(dispatched, client_for):
    call = dispatched()
    answer = client_for("care1").post(
        f"/api/v1/assignments/{call['care']}/backup",
        {"id": str(uuid.uuid4()), "reason": "<script>"},
        format="json",
    )
    assert answer.status_code == 400
    assert "reason" in answer.json()["fields"]
    assert not BackupRequest.objects.exists()


@pytest.mark.parametrize(("who", "status"), [("officer1", 403), ("care3", 404)])
def test_only_the_care_team_on_the_call_asks_for_backup(dispatched, client_for, who, status):
    call = dispatched()
    answer = client_for(who).post(
        f"/api/v1/assignments/{call['care']}/backup", {"id": str(uuid.uuid4())}, format="json"
    )
    assert answer.status_code == status
    assert not BackupRequest.objects.exists()


def test_another_calls_backup_request_id_still_asks_for_help_and_tells_nothing_of_it(
    dispatched, new_call, client_for, units
):
    first = dispatched()
    request_id = str(uuid.uuid4())
    theirs = client_for("care1").post(
        f"/api/v1/assignments/{first['care']}/backup", {"id": request_id}, format="json"
    )
    assert theirs.status_code == 201, theirs.content
    incident = new_call()
    sent = client_for("dispatcher").post(
        f"/api/v1/incidents/{incident['id']}/dispatch",
        {"care_unit": units["CARE-2"].pk, "spd_unit": units["2K21"].pk},
        format="json",
    )
    assert sent.status_code == 201, sent.content
    care2 = next(a["id"] for a in sent.json()["assignments"] if a["kind"] == "care")
    mine = client_for("care3").post(
        f"/api/v1/assignments/{care2}/backup", {"id": request_id}, format="json"
    )
    assert mine.status_code == 201, mine.content
    assert set(mine.json()) == set(theirs.json())
    assert mine.json()["id"] != request_id
    assert str(BackupRequest.objects.get(pk=mine.json()["id"]).assignment_id) == care2
    assert str(BackupRequest.objects.get(pk=request_id).assignment_id) == first["care"]


def test_the_same_backup_request_sent_twice_is_one_request(dispatched, client_for):
    call = dispatched()
    body = {"id": str(uuid.uuid4())}
    path = f"/api/v1/assignments/{call['care']}/backup"
    assert client_for("care1").post(path, body, format="json").json()["id"] == body["id"]
    assert client_for("care1").post(path, body, format="json").json()["id"] == body["id"]
    assert BackupRequest.objects.count() == 1


def test_backup_is_asked_for_through_the_push(dispatched, client_for):
    call = dispatched()
    request_id = uuid.uuid4()
    found = results(
        client_for("care1"),
        change("backup.request", call["care"], {"id": str(request_id), "urgent": False}),
    )
    assert statuses(found) == ["applied"], found
    assert BackupRequest.objects.filter(pk=request_id).exists()


def test_a_backup_request_answered_once_is_not_stamped_again(dispatched, client_for, units, move):
    call = dispatched()
    path = f"/api/v1/assignments/{call['care']}/backup"
    first_request = client_for("care1").post(path, {"id": str(uuid.uuid4())}, format="json")
    assert first_request.status_code == 201, first_request.content
    send = f"/api/v1/incidents/{call['incident']['id']}/backup"
    first = client_for("dispatcher").post(send, {"spd_unit": units["2K21"].pk}, format="json")
    assert first.status_code == 201, first.content
    answered = BackupRequest.objects.get(pk=first_request.json()["id"])
    walk(move, "officer2", first.json()["id"], "acknowledged", "en_route", "on_scene", "cleared")
    second_request = client_for("care1").post(path, {"id": str(uuid.uuid4())}, format="json")
    assert second_request.status_code == 201, second_request.content

    second = client_for("dispatcher").post(send, {"spd_unit": units["2K21"].pk}, format="json")
    assert second.status_code == 201, second.content
    again = BackupRequest.objects.get(pk=answered.pk)
    assert (str(again.answered_by_id), again.answered_at) == (
        first.json()["id"],
        answered.answered_at,
    )
    # The request made after the first officer was sent is the one the second answers.
    assert (
        str(BackupRequest.objects.get(pk=second_request.json()["id"]).answered_by_id)
        == (second.json()["id"])
    )
    sent_for = [e["id"] for e in events("dispatch", "backup.sent")]
    assert sorted(sent_for) == sorted([str(answered.pk), second_request.json()["id"]])


def test_a_busy_officer_is_not_sent_as_backup(dispatched, client_for, units):
    call = dispatched()
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{call['incident']['id']}/backup",
        {"spd_unit": units["2M12"].pk},
        format="json",
    )
    assert answer.status_code == 409


# ---- check-ins -----------------------------------------------------------------------------


@pytest.fixture
def care_alone(dispatched, move):
    """CARE-1 on scene; the officer marked it safe and cleared."""
    call = dispatched()
    walk(move, "officer1", call["spd"], "acknowledged", "en_route", "on_scene", "scene_safe")
    walk(move, "care1", call["care"], "acknowledged", "en_route", "on_scene")
    walk(move, "officer1", call["spd"], "cleared")
    return call


def test_an_unanswered_check_in_raises_one_alert_per_lapse(care_alone, client_for):
    minutes = Protocol.objects.get().check_in_minutes
    soon = timezone.now() + datetime.timedelta(minutes=minutes + 1)
    assert raise_check_in_lapses(now=soon) == []  # within the two minutes' grace
    late = timezone.now() + datetime.timedelta(minutes=minutes + 3)
    assert len(raise_check_in_lapses(now=late)) == 1
    assert raise_check_in_lapses(now=late) == []
    assert len(events("dispatch", "check_in.lapsed")) == 1

    lapse = CheckInLapse.objects.get()
    clear = f"/api/v1/check-in-alerts/{lapse.pk}/clear"
    assert client_for("care1").post(clear, {}, format="json").status_code == 403
    answer = client_for("dispatcher").post(clear, {"note": "Reached by phone."}, format="json")
    assert answer.status_code == 200
    assert CheckInLapse.objects.get().cleared_at is not None


def test_no_check_in_is_asked_while_police_are_still_there(dispatched, move):
    call = dispatched()
    walk(move, "care1", call["care"], "acknowledged", "en_route", "on_scene")
    later = timezone.now() + datetime.timedelta(hours=2)
    assert raise_check_in_lapses(now=later) == []


def test_a_check_in_falls_due_an_interval_after_police_cleared_not_after_arrival(care_alone):
    minutes = Protocol.objects.get().check_in_minutes
    now = timezone.now()
    police_left = now - datetime.timedelta(minutes=1)
    Assignment.objects.filter(pk=care_alone["care"]).update(
        on_scene_at=now - datetime.timedelta(minutes=3 * minutes)
    )
    Assignment.objects.filter(pk=care_alone["spd"]).update(cleared_at=police_left)
    # An hour on scene with police, who left a minute ago: the first check-in is still ahead.
    assert raise_check_in_lapses(now=now) == []
    [lapse] = raise_check_in_lapses(now=police_left + datetime.timedelta(minutes=minutes + 3))
    assert lapse.due_at == police_left + datetime.timedelta(minutes=minutes)


def test_an_answer_resets_the_clock(care_alone, client_for):
    answer = client_for("care1").post(
        f"/api/v1/assignments/{care_alone['care']}/check-ins",
        {"id": str(uuid.uuid4()), "at": timezone.now().isoformat()},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    minutes = Protocol.objects.get().check_in_minutes
    just_before = timezone.now() + datetime.timedelta(minutes=minutes + 1)
    assert raise_check_in_lapses(now=just_before) == []


def test_an_offline_answer_counts_by_the_tablet_s_time(care_alone, client_for):
    answered = timezone.now() - datetime.timedelta(seconds=30)
    mutation = change("check_in.create", care_alone["care"], {"id": str(uuid.uuid4())})
    mutation["occurred_at"] = answered.isoformat()
    assert statuses(results(client_for("care1"), mutation)) == ["applied"]
    assert abs((CheckIn.objects.get().at - answered).total_seconds()) < 1


def test_another_calls_check_in_id_still_counts_here_and_tells_nothing_of_it(
    care_alone, new_call, client_for, units, move
):
    check_in_id = str(uuid.uuid4())
    body = {"id": check_in_id, "at": timezone.now().isoformat()}
    theirs = client_for("care1").post(
        f"/api/v1/assignments/{care_alone['care']}/check-ins", body, format="json"
    )
    assert theirs.status_code == 201, theirs.content
    incident = new_call()
    sent = client_for("dispatcher").post(
        f"/api/v1/incidents/{incident['id']}/dispatch",
        {"care_unit": units["CARE-2"].pk, "spd_unit": units["2K21"].pk},
        format="json",
    )
    care2 = next(a["id"] for a in sent.json()["assignments"] if a["kind"] == "care")
    walk(move, "care3", care2, "acknowledged", "en_route", "on_scene")
    mine = client_for("care3").post(f"/api/v1/assignments/{care2}/check-ins", body, format="json")
    assert mine.status_code == 201, mine.content
    assert set(mine.json()) == set(theirs.json())
    assert mine.json()["id"] != check_in_id
    assert str(CheckIn.objects.get(pk=mine.json()["id"]).assignment_id) == care2
    assert str(CheckIn.objects.get(pk=check_in_id).assignment_id) == care_alone["care"]


def test_the_watch_command_raises_a_lapse_once_however_often_it_runs(care_alone):
    CheckIn.objects.all().delete()
    Assignment.objects.filter(pk=care_alone["care"]).update(
        on_scene_at=timezone.now() - datetime.timedelta(hours=1)
    )
    from server.dispatch.models import Assignment as A

    A.objects.filter(pk=care_alone["spd"]).update(
        cleared_at=timezone.now() - datetime.timedelta(hours=1)
    )
    call_command("watch_acknowledgements", "--once")
    call_command("watch_acknowledgements", "--once")
    assert CheckInLapse.objects.count() == 1


def test_dispatch_s_safety_services_refuse_a_responder_even_past_every_door(
    care_alone, people, units
):
    """Each door checks the role first; the services hold the rule too, for a caller that
    reaches them without one (a management command, a new door)."""
    responder, dispatcher = people["care1"], people["dispatcher"]
    with pytest.raises(Forbidden):
        safety.send_backup(
            actor=responder, incident_id=care_alone["incident"]["id"], spd_unit=units["2K21"].pk
        )
    assert not Assignment.objects.filter(unit=units["2K21"]).exists()

    minutes = Protocol.objects.get().check_in_minutes
    [lapse] = raise_check_in_lapses(now=timezone.now() + datetime.timedelta(minutes=minutes + 3))
    with pytest.raises(Forbidden):
        safety.clear_lapse(actor=responder, lapse_id=lapse.pk, note="Fine.")
    assert CheckInLapse.objects.get().cleared_at is None
    assert safety.clear_lapse(actor=dispatcher, lapse_id=lapse.pk).cleared_by == dispatcher

    emergency = _open_emergency(units["CARE-1"], responder)
    with pytest.raises(Forbidden):
        safety.acknowledge_emergency(actor=responder, emergency_id=emergency.pk)
    assert Emergency.objects.get(pk=emergency.pk).acknowledged_at is None
    acknowledged = safety.acknowledge_emergency(actor=dispatcher, emergency_id=emergency.pk)
    assert acknowledged.acknowledged_by == dispatcher


@pytest.mark.parametrize("who", ["officer1", "care3"])
def test_only_the_care_team_checks_in(care_alone, client_for, who):
    answer = client_for(who).post(
        f"/api/v1/assignments/{care_alone['care']}/check-ins",
        {"id": str(uuid.uuid4()), "at": timezone.now().isoformat()},
        format="json",
    )
    assert answer.status_code in (403, 404)
    assert not CheckIn.objects.exists()


def test_the_protocol_publishes_the_check_in_interval_and_backup_reasons(client_for):
    protocol = client_for("care1").get("/api/v1/protocol").json()
    assert protocol["check_in_minutes"] == 20
    assert "escalating" in [r["code"] for r in protocol["backup_reasons"]]


# ---- caution history -----------------------------------------------------------------------


def test_assigned_units_see_earlier_unsafe_scenes_nearby_and_no_one_else_does(
    dispatched, client_for, move
):
    earlier = dispatched()
    walk(move, "officer1", earlier["spd"], "acknowledged", "en_route", "on_scene")
    walk(move, "officer1", earlier["spd"], "scene_unsafe", note="Dog on the property.")
    walk(move, "officer1", earlier["spd"], "cleared")
    walk(move, "care1", earlier["care"], "acknowledged", "en_route", "on_scene", "cleared")
    far = dispatched(latitude=47.6070, longitude=-122.3350)
    for a, who in ((far["spd"], "officer1"), (far["care"], "care1")):
        walk(move, who, a, "acknowledged", "en_route", "on_scene", "cleared")
    now = dispatched()
    path = f"/api/v1/incidents/{now['incident']['id']}/cautions"
    answer = client_for("care1").get(path)
    assert answer.status_code == 200, answer.content
    cautions = answer.json()["cautions"]
    assert [(c["kind"], c["note"]) for c in cautions] == [("scene_unsafe", "Dog on the property.")]
    assert client_for("care3").get(path).status_code == 404
    assert client_for("coordinator").get(path).status_code == 403
