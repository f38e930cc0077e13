"""One definition per write: the bad inputs a new dispatcher and a tablet slipped past the
console and the offline push are refused on every door — REST, console form, offline push, admin
action — with the same code and the same field, and nothing is written."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from server.care.models import ServiceGiven
from server.dispatch.models import Assignment, AssignmentTransition, Incident
from tests.conftest import PASSWORD, call_body
from tests.server.sync.conftest import change, results

# The three inputs the console stored while the API refused them, and the field that's wrong.
BAD_CALLS = [
    pytest.param({"received_at": "2030-06-01T14:00:00-07:00"}, "received_at", id="in-2030"),
    pytest.param({"address": "A" * 500}, "address", id="500-character-address"),
    pytest.param({"cad_number": '<script>x</script>">'}, "cad_number", id="markup-cad-number"),
]


def _console(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def _form(body: dict) -> dict:
    """A call body as the board's new-call form posts it."""
    form = {k: str(v) for k, v in body.items() if k != "screening"}
    return form


@pytest.mark.parametrize(("bad", "field"), BAD_CALLS)
def test_a_bad_call_is_refused_over_rest_naming_the_field(client_for, units, bad, field):
    answer = client_for("dispatcher").post("/api/v1/incidents", call_body(**bad), format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid" and field in answer.json()["fields"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("bad", "field"), BAD_CALLS)
def test_a_bad_call_is_refused_on_the_console_form_beside_the_field(people, units, bad, field):
    answer = _console("dispatcher").post("/dispatch/calls/new", _form(call_body(**bad)))
    assert answer.status_code == 400
    page = answer.content.decode()
    assert f'id="e-{field}"' in page  # the message stands beside the field it is about
    assert "<script>x</script>" not in page  # and what was typed comes back escaped
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("bad", "field"), BAD_CALLS)
def test_the_service_itself_refuses_a_bad_call_whoever_calls_it(people, units, bad, field):
    """The service is the last word: a caller that skipped the schema (a script, a new door)
    gets the same refusal."""
    from server.dispatch.incidents import services
    from server.errors import InvalidInput

    body = call_body(**bad)
    body["received_at"] = datetime.datetime.fromisoformat(body["received_at"])
    with pytest.raises(InvalidInput) as refused:
        services.create_incident(actor=people["dispatcher"], **body)
    assert field in refused.value.fields
    assert not Incident.objects.exists()


def test_a_tablet_cannot_clear_an_assignment_as_of_2001(dispatched, client_for):
    call = dispatched()
    care1 = client_for("care1")
    [answer] = results(
        care1,
        change(
            "assignment.transition",
            call["care"],
            {"to": "acknowledged"},
            occurred_at="2001-01-01T12:00:00-08:00",
        ),
    )
    assert answer["status"] == "rejected"
    assert answer["code"] == "invalid" and "occurred_at" in answer["fields"]
    assert Assignment.objects.get(pk=call["care"]).status == "dispatched"
    assert not AssignmentTransition.objects.filter(assignment_id=call["care"]).exists()


def test_rest_refuses_the_same_backdated_transition_with_the_same_code(dispatched, move):
    call = dispatched()
    answer = move("care1", call["care"], "acknowledged", occurred_at="2001-01-01T12:00:00-08:00")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid" and "occurred_at" in answer.json()["fields"]
    assert Assignment.objects.get(pk=call["care"]).status == "dispatched"


def _open_encounter(client_for, call) -> str:
    encounter = str(uuid.uuid4())
    answer = client_for("care1").put(
        f"/api/v1/encounters/{encounter}",
        {"assignment": call["care"], "people_contacted": 1},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    return encounter


def test_a_service_dated_2099_is_refused_over_rest(dispatched, client_for):
    encounter = _open_encounter(client_for, dispatched())
    answer = client_for("care1").post(
        "/api/v1/services-given",
        {
            "id": str(uuid.uuid4()),
            "encounter": encounter,
            "service": "de-escalation",
            "occurred_at": "2099-01-01T10:00:00-08:00",
        },
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid" and "occurred_at" in answer.json()["fields"]
    assert not ServiceGiven.objects.exists()


def test_a_service_dated_2099_pushed_offline_is_stored_at_the_servers_time_and_flagged(
    dispatched, client_for
):
    """A time ahead of the device's own clock can't be true: the push records it when it
    arrived, keeps what the device said as data, and flags it (never 2099 in the figures)."""
    encounter = _open_encounter(client_for, dispatched())
    service = change(
        "service.create",
        uuid.uuid4(),
        {"encounter": encounter, "service": "de-escalation"},
        occurred_at="2099-01-01T10:00:00-08:00",
    )
    [answer] = results(client_for("care1"), service)
    assert answer["status"] == "applied" and answer["clock_flagged"] is True
    stored = ServiceGiven.objects.get(pk=service["entity_id"]).occurred_at
    assert stored <= timezone.now()


def test_a_service_dated_before_the_dispatch_is_refused_over_rest_and_push(dispatched, client_for):
    encounter = _open_encounter(client_for, dispatched())
    before = (timezone.now() - datetime.timedelta(days=3)).isoformat()
    body = {"encounter": encounter, "service": "de-escalation", "occurred_at": before}
    rest = client_for("care1").post(
        "/api/v1/services-given", {"id": str(uuid.uuid4()), **body}, format="json"
    )
    [pushed] = results(
        client_for("care1"),
        change("service.create", uuid.uuid4(), body, occurred_at=before),
    )
    assert rest.status_code == 400 and pushed["status"] == "rejected"
    assert rest.json()["code"] == pushed["code"] == "invalid"
    assert "occurred_at" in rest.json()["fields"] and "occurred_at" in pushed["fields"]
    assert not ServiceGiven.objects.exists()


def test_the_admin_cancel_action_runs_the_same_command_as_the_api(dispatched, people):
    call = dispatched()
    supervisor = get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    client = Client()
    client.force_login(supervisor)
    answer = client.post(
        "/admin/dispatch/incident/",
        {"action": "cancel", "_selected_action": [call["incident"]["id"]]},
    )
    assert answer.status_code == 302
    incident = Incident.objects.get(pk=call["incident"]["id"])
    assert incident.status == "cancelled"
    assert incident.cancel_reason == "cancelled by a supervisor in admin"
    assert set(incident.assignments.values_list("status", flat=True)) == {"cancelled"}
