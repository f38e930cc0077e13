"""The planner page: supervisors only; a run's figures, charts, heat table and CSV; scenarios
written in a supervisor's words; aggregate figures only, never a call or a person."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from server.planner.history import import_export
from server.planner.models import PlanRun, Scenario
from tests.conftest import PASSWORD
from tests.server.planner.test_history import export, row
from tests.server.planner.worlds import record_call


def signed_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def history(reference):
    return import_export(
        export(
            [
                row("03/02/2026 12:00:00 PM", **{"CAD Event Number": "2026000111111"}),
                row("03/02/2026 12:20:00 PM", **{"CAD Event Number": "2026000222222"}),
                row("03/02/2026 12:50:00 PM", **{"CAD Event Number": "2026000333333"}),
            ]
        ),
        name="a Monday",
    )


def test_only_supervisors_open_the_planner(people):
    assert signed_in(people["admin"]).get("/planner/").status_code == 200
    for name in ("dispatcher", "coordinator", "care1", "officer1"):
        assert signed_in(people[name]).get("/planner/").status_code == 403
    assert Client().get("/planner/").status_code == 302
    assert Client().post("/planner/run", {"scenario": 1, "history": 1}).status_code == 302


def test_the_page_offers_todays_program_built_from_the_live_protocol(people):
    page = signed_in(people["admin"]).get("/planner/").content.decode()
    assert "Today&#x27;s program" in page or "Today's program" in page
    assert Scenario.objects.filter(live=True).count() == 1


def test_a_run_from_the_page_shows_its_figures_and_charts_and_gives_a_csv(people, history):
    client = signed_in(people["admin"])
    client.get("/planner/")
    today = Scenario.objects.get(live=True)
    asked = {"scenario": today.pk, "history": history.pk, "target": 100}
    answer = client.post("/planner/run", asked)
    run = PlanRun.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/planner/?run={run.pk}"
    page = client.get(answer["Location"]).content.decode()
    assert 'id="side-by-side"' in page and 'id="heat"' in page
    assert page.count("<svg") >= 3  # share, hours, map
    assert 'id="target"' in page
    written = client.get(f"/planner/run.csv?run={run.pk}").content.decode()
    table = list(csv.reader(io.StringIO(written)))
    assert table[0][:5] == ["run", "scenario", "history", "section", "figure"]
    assert table[1][4:6] == ["eligible", "3"]
    assert any(r[3] == "unserved_by_hour" for r in table)


def test_no_call_or_person_leaves_the_planner(people, history):
    secret = record_call(people, at="2026-03-02T13:00:00-08:00", reached=True)
    client = signed_in(people["admin"])
    client.get("/planner/")
    client.post("/planner/histories/program")
    client.post("/planner/validate")
    today = Scenario.objects.get(live=True)
    client.post("/planner/run", {"scenario": today.pk, "history": history.pk})
    shown = client.get("/planner/").content.decode()
    for run in PlanRun.objects.all():
        shown += client.get(f"/planner/run.csv?run={run.pk}").content.decode()
    for private in ("2026000111111", "2026000222222", secret.cad_number, secret.address, "care1"):
        assert private not in shown


def test_a_scenario_is_written_in_a_supervisors_words(people):
    client = signed_in(people["admin"])
    answer = client.post(
        "/planner/scenarios",
        {
            "name": "Belltown 24/7",
            "areas": ["BELLTOWN"],
            "hours": "Mon-Fri 07:00-19:00 2\nSat-Sun 00:00-00:00 1",
            "call_types": ["DOWN - CHECK FOR DOWN PERSON"],
            "wait_limit_minutes": 15,
            "travel_source": "distance",
            "scene_source": "history",
            "replications": 5,
        },
    )
    assert answer.status_code == 302
    saved = Scenario.objects.get(name="Belltown 24/7")
    assert len(saved.hours) == 7
    assert saved.hours[0] == {"weekday": 0, "start": "07:00", "end": "19:00", "teams": 2}
    assert saved.hours[6] == {"weekday": 6, "start": "00:00", "end": "00:00", "teams": 1}


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("hours", "weekdays 11-23 two", "Line 1"),
        ("hours", "Mon-Fri 11:00-23:00 0", "teams"),
        ("wait_limit_minutes", "-5", "wait_limit_minutes"),
        ("call_types", "NOT A CALL TYPE", "call_types"),
    ],
)
def test_a_scenario_the_planner_cannot_run_is_refused_with_the_reason(people, field, value, says):
    good = {
        "name": "x",
        "areas": ["BELLTOWN"],
        "hours": "daily 11:00-23:00 2",
        "call_types": ["DOWN - CHECK FOR DOWN PERSON"],
        "wait_limit_minutes": 10,
        "travel_source": "distance",
        "scene_source": "history",
        "replications": 5,
    }
    answer = signed_in(people["admin"]).post("/planner/scenarios", good | {field: value})
    assert answer.status_code == 400
    assert says in answer.content.decode()
    assert not Scenario.objects.filter(name="x").exists()


def test_validation_from_the_page_shows_the_recorded_and_simulated_share(people):
    for hour in (12, 14, 16):
        record_call(people, at=f"2026-03-02T{hour}:00:00-08:00", reached=True)
    client = signed_in(people["admin"])
    answer = client.post("/planner/validate")
    assert answer.status_code == 302
    page = client.get("/planner/").content.decode()
    assert 'id="validation"' in page
    assert 'id="share-recorded">1.000<' in page


def test_validation_with_no_calls_is_refused_not_an_error(people):
    answer = signed_in(people["admin"]).post("/planner/validate")
    assert answer.status_code == 400
    assert "no calls yet" in answer.content.decode()


def test_todays_program_keeps_its_live_rules_when_its_assumptions_are_changed(people):
    client = signed_in(people["admin"])
    client.get("/planner/")
    today = Scenario.objects.get(live=True)
    answer = client.post(
        "/planner/scenarios",
        {
            "scenario": today.pk,
            "name": "renamed",
            "areas": ["BELLTOWN"],
            "hours": "daily 00:00-00:00 9",
            "call_types": ["DOWN - CHECK FOR DOWN PERSON"],
            "wait_limit_minutes": 25,
            "travel_source": "fixed",
            "scene_source": "fixed",
            "replications": 4,
        },
    )
    assert answer.status_code == 302
    today.refresh_from_db()
    assert (today.wait_limit_minutes, today.travel_source, today.replications) == (25, "fixed", 4)
    assert today.name == "Today's program"
    assert {row["teams"] for row in today.hours} == {2}
    assert "PIONEER SQUARE" in today.areas


def test_a_csv_of_no_stored_run_is_refused_in_the_projects_error_shape(people):
    answer = signed_in(people["admin"]).get("/planner/run.csv?run=999")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid" and "run" in answer.json()["fields"]
