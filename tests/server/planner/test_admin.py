"""Scenarios in Django admin: saved through the planner's service (audited), a scenario the
planner cannot run refused on the form, histories and runs read-only."""

from __future__ import annotations

import json

from django.test import Client

from server.accounts.models import Role, User
from server.audit.models import AuditEntry
from server.planner.models import Scenario
from tests.conftest import PASSWORD


def supervisor(people) -> Client:
    User.objects.create_superuser("supervisor", "s@example.org", PASSWORD, role=Role.ADMIN)
    client = Client()
    assert client.login(username="supervisor", password=PASSWORD)
    return client


def form(**changes) -> dict:
    values = {
        "name": "Belltown evenings",
        "description": "",
        "city_wide": "",
        "areas": json.dumps(["BELLTOWN"]),
        "hours": json.dumps([{"weekday": 4, "start": "18:00", "end": "02:00", "teams": 2}]),
        "call_types": json.dumps(["SERVICE - WELFARE CHECK"]),
        "wait_limit_minutes": "10",
        "travel_source": "distance",
        "road_factor": "1.3",
        "speed_kmh": "30",
        "travel_minutes": "10",
        "scene_source": "history",
        "scene_minutes": "45",
        "police_freed_minutes": "20",
        "replications": "10",
    }
    return values | changes


def test_a_scenario_added_in_admin_is_saved_and_audited(people):
    answer = supervisor(people).post("/admin/planner/scenario/add/", form())
    assert answer.status_code == 302
    saved = Scenario.objects.get(name="Belltown evenings")
    assert saved.hours[0]["end"] == "02:00"
    assert AuditEntry.objects.filter(action="planner.scenario_saved").count() == 1


def test_a_scenario_with_impossible_hours_is_refused_on_the_admin_form(people):
    bad = json.dumps([{"weekday": 9, "start": "18:00", "end": "02:00", "teams": 2}])
    answer = supervisor(people).post("/admin/planner/scenario/add/", form(hours=bad))
    assert answer.status_code == 200
    assert "weekday is 0 (Monday) to 6 (Sunday)" in answer.content.decode()
    assert not Scenario.objects.exists()


def test_histories_and_runs_cannot_be_added_in_admin(people):
    client = supervisor(people)
    assert client.get("/admin/planner/callhistory/add/").status_code == 403
    assert client.get("/admin/planner/planrun/add/").status_code == 403


def test_imported_calls_are_listed_read_only_in_admin(people):
    from server.planner.history import import_export
    from tests.server.planner.test_history import export, row

    import_export(export([row("03/02/2026 12:00:00 PM")]), name="one")
    client = supervisor(people)
    listing = client.get("/admin/planner/historicalcall/")
    assert listing.status_code == 200 and "DOWN - CHECK FOR DOWN PERSON" in listing.content.decode()
    assert client.get("/admin/planner/historicalcall/add/").status_code == 403
