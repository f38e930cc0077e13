"""Shifts and duty status: signing on to a unit, the unit's duty status, and dispatch
recommending only staffed, available units."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from server.accounts.models import Role, User
from server.dispatch.incidents import selectors
from server.dispatch.models import DutyStatus, Incident, ProgramHours, RosterEntry, Shift, Unit
from server.feed.models import Event
from tests.conftest import PASSWORD, call_body, local_time
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data


@pytest.fixture
def rookie(people) -> User:
    """A CARE responder on no unit yet."""
    return User.objects.create_user(username="rookie", password=PASSWORD, role=Role.CARE_RESPONDER)


@pytest.fixture
def off_duty(people, units):
    """Everyone signed off: the day has not started."""
    Shift.objects.filter(ended_at__isnull=True).update(ended_at=timezone.now())
    User.objects.update(unit=None)


def roster(unit: Unit, *persons: User) -> None:
    """A supervisor put these people on `unit` for today."""
    admin = User.objects.get(username="admin")
    today = timezone.localdate()
    for person in persons:
        RosterEntry.objects.create(
            unit=unit, user=person, first_day=today, last_day=today, created_by=admin
        )


def sign_on(client, **body):
    return client.post("/api/v1/shifts", body, format="json")


def test_a_supervisor_signs_a_responder_on_with_a_partner(
    client_for, units, people, rookie, off_duty
):
    answer = sign_on(
        client_for("admin"),
        unit=units["CARE-1"].pk,
        user=people["care3"].pk,
        partner=rookie.pk,
        vehicle="Van 4",
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["vehicle"] == "Van 4"
    assert User.objects.get(username="care3").unit == units["CARE-1"]
    assert User.objects.get(username="rookie").unit == units["CARE-1"]
    listed = {u["call_sign"]: u for u in client_for("dispatcher").get("/api/v1/units").json()}
    assert {p["username"] for p in listed["CARE-1"]["signed_on"]} == {"care3", "rookie"}
    assert listed["CARE-1"]["duty_status"] == "available"
    assert Event.objects.filter(stream_id="dispatch", kind="unit.updated").exists()


def test_a_responder_can_not_put_a_partner_on_a_unit(client_for, units, people, rookie, off_duty):
    roster(units["CARE-1"], people["care3"], rookie)
    answer = sign_on(client_for("care3"), unit=units["CARE-1"].pk, partner=rookie.pk)
    assert answer.status_code == 403
    assert set(answer.json()["fields"]) == {"partner"}
    assert not Shift.objects.filter(ended_at__isnull=True).exists()
    assert User.objects.get(pk=rookie.pk).unit is None


def test_a_rostered_responder_signs_on_and_an_unrostered_one_is_refused(
    client_for, units, people, off_duty
):
    refused = sign_on(client_for("care3"), unit=units["CARE-1"].pk)
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_rostered"
    assert User.objects.get(username="care3").unit is None
    roster(units["CARE-1"], people["care3"])
    assert sign_on(client_for("care3"), unit=units["CARE-1"].pk).status_code == 201
    assert User.objects.get(username="care3").unit == units["CARE-1"]


def test_a_roster_for_another_day_or_another_unit_does_not_let_you_sign_on(
    client_for, units, people, off_duty
):
    admin = people["admin"]
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    RosterEntry.objects.create(
        unit=units["CARE-1"],
        user=people["care3"],
        first_day=tomorrow,
        last_day=tomorrow,
        created_by=admin,
    )
    roster(units["CARE-2"], people["care3"])
    assert sign_on(client_for("care3"), unit=units["CARE-1"].pk).status_code == 403
    assert sign_on(client_for("care3"), unit=units["CARE-2"].pk).status_code == 201


def test_an_officer_can_not_sign_on_to_a_care_unit(client_for, units, people, off_duty):
    roster_entry_count = RosterEntry.objects.count()
    answer = sign_on(client_for("officer1"), unit=units["CARE-1"].pk)
    assert answer.status_code == 403
    assert not Shift.objects.filter(ended_at__isnull=True).exists()
    assert RosterEntry.objects.count() == roster_entry_count


def test_a_care_responder_can_not_take_an_officer_as_partner(client_for, units, people, off_duty):
    answer = sign_on(
        client_for("admin"),
        unit=units["CARE-1"].pk,
        user=people["care1"].pk,
        partner=people["officer1"].pk,
    )
    assert answer.status_code == 403
    assert "partner" in answer.json()["fields"]


def test_nobody_signs_on_twice(client_for, units, people, off_duty):
    roster(units["CARE-1"], people["care1"])
    roster(units["CARE-2"], people["care1"])
    assert sign_on(client_for("care1"), unit=units["CARE-1"].pk).status_code == 201
    assert sign_on(client_for("care1"), unit=units["CARE-2"].pk).status_code == 409


def test_only_an_administrator_signs_someone_else_on(client_for, units, rookie):
    refused = sign_on(client_for("care1"), unit=units["CARE-2"].pk, user=rookie.pk)
    assert refused.status_code == 403
    answer = sign_on(client_for("admin"), unit=units["CARE-2"].pk, user=rookie.pk)
    assert answer.status_code == 201
    assert (
        Shift.objects.get(ended_at__isnull=True, unit=units["CARE-2"], user=rookie).user == rookie
    )


def test_signing_off_the_last_person_takes_the_unit_off_duty_and_out_of_suggestions(
    client_for, units, people, new_call, off_duty
):
    roster(units["CARE-2"], people["care3"])
    roster(units["CARE-1"], people["care1"])
    assert sign_on(client_for("care1"), unit=units["CARE-1"].pk).status_code == 201
    shift = sign_on(client_for("care3"), unit=units["CARE-2"].pk).json()
    incident = Incident.objects.get(pk=new_call()["id"])
    assert units["CARE-2"] in [c.unit for c in selectors.suggested_units(incident, "care")]
    ended = client_for("care3").post(f"/api/v1/shifts/{shift['id']}/end")
    assert ended.status_code == 200, ended.content
    assert Unit.objects.get(pk=units["CARE-2"].pk).duty_status == DutyStatus.OFF_DUTY
    assert units["CARE-2"] not in [c.unit for c in selectors.suggested_units(incident, "care")]


def test_someone_else_can_not_end_my_shift(client_for, units, people):
    shift = Shift.objects.get(user=people["care1"], ended_at__isnull=True)
    assert client_for("care3").post(f"/api/v1/shifts/{shift.pk}/end").status_code == 404
    assert Shift.objects.get(pk=shift.pk).ended_at is None
    assert client_for("admin").post(f"/api/v1/shifts/{shift.pk}/end").status_code == 200


def test_a_unit_on_break_is_not_recommended(client_for, units, new_call):
    answer = client_for("care1").post(
        f"/api/v1/units/{units['CARE-1'].pk}/duty-status",
        {"status": "on_break", "at": timezone.now().isoformat()},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    incident = Incident.objects.get(pk=new_call()["id"])
    assert units["CARE-1"] not in [c.unit for c in selectors.suggested_units(incident, "care")]
    assert units["CARE-2"] in [c.unit for c in selectors.suggested_units(incident, "care")]


@pytest.mark.parametrize(
    ("who", "status"), [("care3", 404), ("officer1", 404), ("coordinator", 403)]
)
def test_only_the_unit_or_dispatch_sets_its_duty_status(client_for, units, who, status):
    answer = client_for(who).post(
        f"/api/v1/units/{units['CARE-1'].pk}/duty-status", {"status": "on_break"}, format="json"
    )
    assert answer.status_code == status
    assert Unit.objects.get(pk=units["CARE-1"].pk).duty_status == DutyStatus.AVAILABLE


def test_a_duty_status_must_be_one_of_the_list_and_not_in_the_future(client_for, units):
    path = f"/api/v1/units/{units['CARE-1'].pk}/duty-status"
    assert client_for("care1").post(path, {"status": "napping"}, format="json").status_code == 400
    later = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    answer = client_for("care1").post(path, {"status": "on_break", "at": later}, format="json")
    assert answer.status_code == 400


def test_the_weekday_schedule_decides_the_program_hours(client_for, units):
    # 18 November 2026 is a Wednesday (weekday 2): CARE runs 08:00-12:00 that day only.
    ProgramHours.objects.create(weekday=2, start=datetime.time(8), end=datetime.time(12))
    early = client_for("dispatcher").post(
        "/api/v1/incidents", call_body(received_at=local_time(9).isoformat()), format="json"
    )
    late = client_for("dispatcher").post(
        "/api/v1/incidents", call_body(received_at=local_time(14).isoformat()), format="json"
    )
    assert early.json()["eligibility"]["eligible"] is True
    assert late.json()["eligibility"]["eligible"] is False
    assert "08:00–12:00" in " ".join(late.json()["eligibility"]["reasons"])
