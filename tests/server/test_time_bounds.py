"""Times from year 1 to year 9999: every door refuses a time before the program's records begin
(`CARE_EARLIEST_TIME`) or past the clock tolerance with a clear 400 naming the field, and the
offline push refuses a batch whose device clock reads 9999-12-31 instead of failing on it."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.utils import timezone

from server.dispatch.models import Emergency, Incident, Unit, UnitPosition
from tests.server.interop import conftest as interop_fixtures
from tests.server.interop.conftest import valley_document

pytestmark = pytest.mark.django_db

cad, send = interop_fixtures.cad, interop_fixtures.send  # a CAD's key, and its documents

YEAR_ONE = "0001-01-01T00:00:00-12:00"
LAST_DAY = "9999-12-31T23:59:59+14:00"
JUST_BEFORE_THE_EPOCH = "2019-12-31T23:59:00-08:00"


def refused_for(answer, field: str) -> None:
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["code"] == "invalid", body
    assert field in body["fields"], body


@pytest.mark.parametrize("stamp", [YEAR_ONE, JUST_BEFORE_THE_EPOCH, LAST_DAY])
def test_an_emergency_dated_outside_the_program_is_refused(client_for, units, stamp):
    answer = client_for("care1").post(
        "/api/v1/emergencies",
        {"id": str(uuid.uuid4()), "unit": units["CARE-1"].pk, "started_at": stamp},
        format="json",
    )
    refused_for(answer, "started_at")
    assert not Emergency.objects.exists()


def test_an_emergency_dated_now_is_taken(client_for, units):
    answer = client_for("care1").post(
        "/api/v1/emergencies",
        {
            "id": str(uuid.uuid4()),
            "unit": units["CARE-1"].pk,
            "started_at": timezone.now().isoformat(),
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content


@pytest.mark.parametrize("stamp", [YEAR_ONE, JUST_BEFORE_THE_EPOCH, LAST_DAY])
def test_a_position_dated_outside_the_program_is_refused(client_for, units, stamp):
    answer = client_for("care1").post(
        f"/api/v1/units/{units['CARE-1'].pk}/position",
        {"latitude": 47.6107, "longitude": -122.3396, "accuracy_m": 8, "recorded_at": stamp},
        format="json",
    )
    refused_for(answer, "recorded_at")
    assert not UnitPosition.objects.exists()


@pytest.mark.parametrize("stamp", [YEAR_ONE, LAST_DAY])
def test_a_duty_status_dated_outside_the_program_is_refused(client_for, units, stamp):
    answer = client_for("care1").post(
        f"/api/v1/units/{units['CARE-1'].pk}/duty-status",
        {"status": "on_break", "at": stamp},
        format="json",
    )
    refused_for(answer, "at")
    assert Unit.objects.get(pk=units["CARE-1"].pk).duty_status != "on_break"


def an_hour_ahead() -> str:
    return (timezone.now() + datetime.timedelta(hours=1)).isoformat()


START = "/callComponent/0/callStartTimestamp"
OUT_OF_RANGE = (422, "eido_time_out_of_range")


@pytest.mark.parametrize("stamp", [YEAR_ONE, JUST_BEFORE_THE_EPOCH, LAST_DAY, "an hour ahead"])
def test_a_cad_call_starting_outside_the_program_is_refused_naming_the_timestamp(send, stamp):
    document = valley_document()
    document["callComponent"][0]["callStartTimestamp"] = (
        an_hour_ahead() if stamp == "an hour ahead" else stamp
    )
    answer = send(document)
    assert (answer.status_code, answer.json()["code"]) == OUT_OF_RANGE, answer.content
    assert START in answer.json()["fields"], answer.json()
    assert not Incident.objects.exists()


def test_a_cad_call_starting_a_minute_ago_is_taken_at_that_time(send):
    started = timezone.now().replace(microsecond=0) - datetime.timedelta(minutes=1)
    document = valley_document()
    document["callComponent"][0]["callStartTimestamp"] = started.isoformat()
    answer = send(document)
    assert answer.status_code in (200, 201), answer.content
    assert Incident.objects.get().received_at == started


def test_a_component_stamped_in_the_future_is_refused_naming_it(send):
    document = valley_document()
    document["incidentComponent"]["lastUpdateTimeStamp"] = LAST_DAY
    answer = send(document)
    assert (answer.status_code, answer.json()["code"]) == OUT_OF_RANGE, answer.content
    assert "/incidentComponent/lastUpdateTimeStamp" in answer.json()["fields"], answer.json()
    assert not Incident.objects.exists()


@pytest.mark.parametrize("stamp", [YEAR_ONE, LAST_DAY, "9999-12-31T23:59:59-12:00"])
def test_a_push_whose_device_clock_reads_outside_the_program_is_refused_clearly(client_for, stamp):
    answer = client_for("care1").post(
        "/api/v1/sync/push", {"device_time": stamp, "mutations": []}, format="json"
    )
    refused_for(answer, "device_time")


def test_a_push_from_a_clock_a_few_minutes_off_is_taken(client_for):
    off = timezone.now() + datetime.timedelta(minutes=7)
    answer = client_for("care1").post(
        "/api/v1/sync/push", {"device_time": off.isoformat(), "mutations": []}, format="json"
    )
    assert answer.status_code == 200, answer.content


def test_a_mutation_dated_year_one_is_rejected_and_the_batch_answers(client_for, dispatched):
    call = dispatched()
    answer = client_for("care1").post(
        "/api/v1/sync/push",
        {
            "device_time": (timezone.now() + datetime.timedelta(days=30)).isoformat(),
            "mutations": [
                {
                    "id": str(uuid.uuid4()),
                    "type": "assignment.transition",
                    "entity_id": call["care"],
                    "occurred_at": YEAR_ONE,
                    "data": {"to": "acknowledged"},
                }
            ],
        },
        format="json",
    )
    assert answer.status_code == 200, answer.content
    [result] = answer.json()["results"]
    assert result["status"] == "rejected", result
