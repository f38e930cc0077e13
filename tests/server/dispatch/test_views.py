"""The dispatch board pages: who may open them, a call screened from the form, one-click dual
dispatch with the nearest units suggested, overrides, and the token the live board uses."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from server.care.models import Disposition
from server.dispatch.models import Assignment, DispatchModel, Incident, Protocol, Unit
from tests.conftest import DOWNTOWN, PASSWORD


def signed_in(username: str, **options) -> Client:
    client = Client(**options)
    assert client.login(username=username, password=PASSWORD)
    return client


def call_form(**overrides) -> dict:
    form = {
        "cad_number": "W-1",
        "call_type": "DOWN - CHECK FOR DOWN PERSON",
        "priority": "3",
        "address": "3rd Ave & Pine St",
        "latitude": str(DOWNTOWN["latitude"]),
        "longitude": str(DOWNTOWN["longitude"]),
        "narrative": "Man lying on the sidewalk.",
        "received_at": "2026-11-18T14:00",  # inside the pilot hours
    }
    return form | overrides


@pytest.fixture
def dispatcher(people) -> Client:
    return signed_in("dispatcher")


def test_the_board_sends_a_stranger_to_sign_in_and_refuses_other_roles(people, client):
    assert client.get("/dispatch/")["Location"].startswith("/login/?next=/dispatch/")
    assert signed_in("coordinator").get("/dispatch/").status_code == 403
    assert signed_in("officer1").get("/dispatch/").status_code == 403
    assert signed_in("dispatcher").get("/dispatch/").status_code == 200


def test_a_call_from_the_form_is_screened_and_shows_its_recommendation(dispatcher):
    answer = dispatcher.post("/dispatch/calls/new", call_form(screening_weapons="yes"))

    assert answer.status_code == 302
    incident = Incident.objects.get(cad_number="W-1")
    assert incident.screening["weapons"] is True
    page = dispatcher.get(answer["Location"]).content.decode()
    assert "Police only" in page
    for reason in incident.eligibility_reasons:
        assert reason.replace("'", "&#x27;") in page


def test_a_form_with_a_bad_number_says_so_and_creates_nothing(dispatcher):
    answer = dispatcher.post("/dispatch/calls/new", call_form(latitude="north"))

    assert answer.status_code == 400
    page = answer.content.decode()
    beside = page.split('id="e-latitude"')[1].split("</span>")[0]
    assert "A valid number is required." in beside  # said beside the field, as the API says it
    assert not Incident.objects.exists()


def test_one_click_dispatches_the_nearest_available_units(dispatcher, units):
    Unit.objects.filter(call_sign="CARE-2").update(home_beat="M1")
    Unit.objects.filter(call_sign="2K21").update(home_beat="M3")
    call = dispatcher.post("/dispatch/calls/new", call_form())["Location"]
    page = dispatcher.get(call).content.decode()
    assert re.search(r"Dual dispatch CARE-2 \+ 2K21", page)

    answer = dispatcher.post(
        call,
        {"action": "dispatch", "care_unit": units["CARE-2"].pk, "spd_unit": units["2K21"].pk},
    )

    assert answer.status_code == 302
    sent = set(Assignment.objects.values_list("unit__call_sign", flat=True))
    assert sent == {"CARE-2", "2K21"}
    assert "CARE-2: Dispatched" in dispatcher.get("/dispatch/board/").content.decode()


def test_sending_police_only_on_an_eligible_call_needs_a_reason(dispatcher, units):
    call = dispatcher.post("/dispatch/calls/new", call_form())["Location"]

    refused = dispatcher.post(call, {"action": "dispatch", "spd_unit": units["2M12"].pk})
    assert refused.status_code == 400
    assert not Assignment.objects.exists()

    refused = dispatcher.post(
        call,
        {"action": "dispatch", "spd_unit": units["2M12"].pk, "override_reason": "CARE busy"},
    )
    assert refused.status_code == 400
    assert "Choose why this eligible call goes police only" in refused.content.decode()

    dispatcher.post(
        call,
        {
            "action": "dispatch",
            "spd_unit": units["2M12"].pk,
            "police_only_code": "no_care_team",
            "override_reason": "CARE busy",
        },
    )
    incident = Incident.objects.get()
    assert (incident.police_only_code_id, incident.police_only_note) == (
        "no_care_team",
        "CARE busy",
    )


def test_the_console_token_needs_the_session_and_csrf_and_opens_the_api(people):
    assert Client().post("/dispatch/console-token").status_code == 302
    strict = signed_in("dispatcher", enforce_csrf_checks=True)
    assert strict.post("/dispatch/console-token").status_code == 403

    token = signed_in("dispatcher").post("/dispatch/console-token").json()["token"]

    me = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200 and me.json()["username"] == "dispatcher"


def test_the_dispatcher_sees_how_the_calls_they_sent_to_care_ended(
    dispatcher, dispatched, client_for
):
    call = dispatched(cad_number="OUT-1")
    answer = client_for("care1").put(
        f"/api/v1/encounters/{uuid.uuid4()}",
        {
            "assignment": call["care"],
            "started_at": timezone.now().isoformat(),
            "people_contacted": 1,
            "disposition": "referred",
        },
        format="json",
    )
    assert answer.status_code in (200, 201), answer.content

    page = dispatcher.get("/dispatch/").content.decode()

    outcomes = page.split('id="outcomes"')[1].split("</table>")[0]
    assert "OUT-1" in outcomes
    assert Disposition.objects.get(code="referred").label in outcomes


def test_the_triage_queue_shows_under_the_embedded_professional_model(dispatcher, reference):
    Protocol.objects.update(dispatch_model=DispatchModel.EMBEDDED_PROFESSIONAL)
    call = dispatcher.post("/dispatch/calls/new", call_form(cad_number="TRI-1"))["Location"]

    board = dispatcher.get("/dispatch/board/").content.decode()
    assert 'id="triage-queue"' in board and "TRI-1" in board

    dispatcher.post(call, {"action": "resolve_by_phone", "note": "Caller is fine now."})
    assert Incident.objects.get(cad_number="TRI-1").status == "resolved_by_phone"
    assert "TRI-1" not in dispatcher.get("/dispatch/board/").content.decode()
