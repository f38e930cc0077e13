"""The dispatch board's safety panels through a browser session: emergencies acknowledged and
ended, unanswered check-ins cleared, backup sent from the call page, the staffing panel, and the
CARE team named when a dispatcher is about to send police only."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.utils import timezone

from server.dispatch.models import Assignment, CheckInLapse, Emergency, Unit
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data


@pytest.fixture
def desk(people) -> Client:
    browser = Client()
    browser.force_login(people["dispatcher"])
    return browser


def test_the_board_shows_an_emergency_and_its_buttons_run_the_commands(desk, client_for, units):
    emergency_id = str(uuid.uuid4())
    answer = client_for("care1").post(
        "/api/v1/emergencies",
        {"id": emergency_id, "unit": units["CARE-1"].pk, "started_at": timezone.now()},
        format="json",
    )
    assert answer.status_code == 201
    board = desk.get("/dispatch/board/").content.decode()
    assert f'data-emergency="{emergency_id}"' in board
    assert 'data-acknowledged="no"' in board

    assert desk.post(f"/dispatch/emergencies/{emergency_id}/acknowledge").status_code == 302
    assert Emergency.objects.get(pk=emergency_id).acknowledged_at is not None
    refused = desk.post(f"/dispatch/emergencies/{emergency_id}/end", {"note": ""})
    assert refused.status_code == 400
    assert (
        desk.post(
            f"/dispatch/emergencies/{emergency_id}/end", {"note": "Radio contact, all safe."}
        ).status_code
        == 302
    )
    assert f'data-emergency="{emergency_id}"' not in desk.get("/dispatch/board/").content.decode()


def test_an_unanswered_check_in_is_cleared_from_the_board(desk, dispatched):
    call = dispatched()
    lapse = CheckInLapse.objects.create(
        assignment_id=call["care"], due_at=timezone.now(), raised_at=timezone.now()
    )
    assert f'data-lapse="{lapse.pk}"' in desk.get("/dispatch/board/").content.decode()
    assert (
        desk.post(f"/dispatch/check-in-alerts/{lapse.pk}/clear", {"note": "Called"}).status_code
        == 302
    )
    assert CheckInLapse.objects.get().cleared_at is not None


def test_backup_is_sent_from_the_call_page(desk, dispatched, units):
    call = dispatched()
    page = desk.get(f"/dispatch/calls/{call['incident']['id']}/").content.decode()
    assert 'id="send-backup"' in page
    sent = desk.post(
        f"/dispatch/calls/{call['incident']['id']}/",
        {"action": "send_backup", "spd_unit": units["2K21"].pk},
    )
    assert sent.status_code == 302
    assert Assignment.objects.filter(
        incident_id=call["incident"]["id"], unit=units["2K21"]
    ).exists()


def test_the_call_page_names_the_care_team_passed_over_and_how_far(desk, new_call, units):
    Unit.objects.filter(pk=units["CARE-1"].pk).update(
        last_latitude=47.62, last_longitude=-122.34, last_position_at=timezone.now()
    )
    incident = new_call()
    page = desk.get(f"/dispatch/calls/{incident['id']}/").content.decode()
    assert 'id="care-available"' in page
    assert "CARE-1 is available, 1.0 km away" in page


def test_the_staffing_panel_shows_who_is_signed_on(desk, client_for, units, people):
    from server.dispatch.models import RosterEntry, Shift

    Shift.objects.filter(user=people["care1"]).update(ended_at=timezone.now())
    today = timezone.localdate()
    RosterEntry.objects.create(
        unit=units["CARE-1"], user=people["care1"], first_day=today, last_day=today,
        created_by=people["admin"],
    )  # fmt: skip
    answer = client_for("care1").post(
        "/api/v1/shifts", {"unit": units["CARE-1"].pk, "vehicle": "Van 9"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    board = desk.get("/dispatch/board/").content.decode()
    assert "care1 since" in board
    assert "Van 9" in board
