"""Shifts and duty status: signing on to a unit, the unit's duty status, and dispatch
recommending only staffed, available units."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from server.accounts.models import Role, User
from server.dispatch import selectors
from server.dispatch.models import DutyStatus, Incident, ProgramHours, Shift, Unit
from server.feed.models import Event
from tests.conftest import PASSWORD, call_body, local_time
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data


@pytest.fixture
def rookie(people) -> User:
    """A CARE responder on no unit yet."""
    return User.objects.create_user(username="rookie", password=PASSWORD, role=Role.CARE_RESPONDER)


def sign_on(client, **body):
    return client.post("/api/v1/shifts", body, format="json")


def test_a_responder_signs_on_to_a_care_unit_with_a_partner(client_for, units, people, rookie):
    answer = sign_on(
        client_for("care3"), unit=units["CARE-1"].pk, partner=rookie.pk, vehicle="Van 4"
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["vehicle"] == "Van 4"
    assert User.objects.get(username="care3").unit == units["CARE-1"]
    assert User.objects.get(username="rookie").unit == units["CARE-1"]
    listed = {u["call_sign"]: u for u in client_for("dispatcher").get("/api/v1/units").json()}
    assert {p["username"] for p in listed["CARE-1"]["signed_on"]} == {"care3", "rookie"}
    assert listed["CARE-1"]["duty_status"] == "available"
    assert Event.objects.filter(stream_id="dispatch", kind="unit.updated").exists()


def test_an_officer_can_not_sign_on_to_a_care_unit(client_for, units):
    answer = sign_on(client_for("officer1"), unit=units["CARE-1"].pk)
    assert answer.status_code == 403
    assert not Shift.objects.exists()


def test_a_care_responder_can_not_take_an_officer_as_partner(client_for, units, people):
    answer = sign_on(client_for("care1"), unit=units["CARE-1"].pk, partner=people["officer1"].pk)
    assert answer.status_code == 403
    assert "partner" in answer.json()["fields"]


def test_nobody_signs_on_twice(client_for, units):
    assert sign_on(client_for("care1"), unit=units["CARE-1"].pk).status_code == 201
    assert sign_on(client_for("care1"), unit=units["CARE-2"].pk).status_code == 409


def test_only_an_administrator_signs_someone_else_on(client_for, units, rookie):
    refused = sign_on(client_for("care1"), unit=units["CARE-2"].pk, user=rookie.pk)
    assert refused.status_code == 403
    answer = sign_on(client_for("admin"), unit=units["CARE-2"].pk, user=rookie.pk)
    assert answer.status_code == 201
    assert Shift.objects.get().user == rookie


def test_signing_off_the_last_person_takes_the_unit_off_duty_and_out_of_suggestions(
    client_for, units, people, new_call
):
    User.objects.filter(unit=units["CARE-2"]).update(unit=None)
    shift = sign_on(client_for("care3"), unit=units["CARE-2"].pk).json()
    incident = Incident.objects.get(pk=new_call()["id"])
    assert units["CARE-2"] in [c.unit for c in selectors.suggested_units(incident, "care")]
    ended = client_for("care3").post(f"/api/v1/shifts/{shift['id']}/end")
    assert ended.status_code == 200, ended.content
    assert Unit.objects.get(pk=units["CARE-2"].pk).duty_status == DutyStatus.OFF_DUTY
    assert units["CARE-2"] not in [c.unit for c in selectors.suggested_units(incident, "care")]


def test_someone_else_can_not_end_my_shift(client_for, units):
    shift = sign_on(client_for("care1"), unit=units["CARE-1"].pk).json()
    assert client_for("care3").post(f"/api/v1/shifts/{shift['id']}/end").status_code == 404
    assert client_for("admin").post(f"/api/v1/shifts/{shift['id']}/end").status_code == 200


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
