"""A scenario run over an imported history: which calls it screens in (by the live screening
code), and the figures of a run worked out by hand."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from server.dispatch.incidents import screening
from server.dispatch.models import CallType, Incident
from server.errors import InvalidInput
from server.planner import services
from server.planner.demand import duty_changes, screen_history, teams_by_slot
from server.planner.history import import_export
from server.planner.models import PlanRun, Scenario
from server.planner.selectors import history_rows
from tests.conftest import NO
from tests.server.planner.test_history import CENTRAL, export, row

PERSON_DOWN = "DOWN - CHECK FOR DOWN PERSON"
EVERY_DAY_11_TO_23 = [
    {"weekday": d, "start": "11:00", "end": "23:00", "teams": 1} for d in range(7)
]


def scenario(**changes) -> Scenario:
    values = {
        "name": "pilot, one team",
        "areas": ["DOWNTOWN COMMERICAL"],
        "hours": EVERY_DAY_11_TO_23,
        "call_types": [PERSON_DOWN],
        "wait_limit_minutes": 0,
        "travel_source": "fixed",
        "travel_minutes": 10,
        "scene_source": "fixed",
        "scene_minutes": 30,
        "police_freed_minutes": 20,
        "replications": 3,
    } | changes
    return services.save_scenario(actor=None, **values)


@pytest.fixture
def monday(reference):
    """Monday 2 March 2026: calls at 12:00, 12:20, 12:50 downtown; one at 23:30 (after hours);
    a welfare check at 13:00 (a type this scenario doesn't take); one in the Central District."""
    return import_export(
        export(
            [
                row("03/02/2026 12:00:00 PM"),
                row("03/02/2026 12:20:00 PM"),
                row("03/02/2026 12:50:00 PM"),
                row("03/02/2026 11:30:00 PM"),
                row("03/02/2026 1:00:00 PM", call_type="SERVICE - WELFARE CHECK"),
                row("03/02/2026 2:00:00 PM", where=CENTRAL),
            ]
        ),
        name="a Monday",
    )


def test_only_calls_of_its_types_in_its_areas_and_hours_are_eligible(monday):
    screened = screen_history(scenario(), history_rows(monday))
    assert screened.screened == 6
    assert [c.at for c in screened.calls] == [0.0, 20.0, 50.0]


def test_a_city_wide_24_7_scenario_of_both_types_takes_every_call(monday):
    all_day = [{"weekday": d, "start": "00:00", "end": "00:00", "teams": 1} for d in range(7)]
    wide = scenario(
        name="city-wide",
        city_wide=True,
        areas=[],
        hours=all_day,
        call_types=[PERSON_DOWN, "SERVICE - WELFARE CHECK"],
    )
    assert len(screen_history(wide, history_rows(monday)).calls) == 6


def test_one_team_reaches_two_of_the_three_eligible_calls(monday):
    run = services.run_plan(scenario=scenario(), history=monday, seed=1)
    figures = run.results
    assert figures["eligible"] == 3
    assert figures["share"]["mean"] == pytest.approx(2 / 3)
    assert figures["reached"]["mean"] == 2
    assert figures["wait_median"]["mean"] == 10
    # One team on duty from the first call (12:00) to the last (23:30, when none is): 11 hours.
    assert figures["team_hours"] == pytest.approx(11)
    assert figures["per_team_hour"]["mean"] == pytest.approx(2 / 11)
    assert figures["police_hours_freed"]["mean"] == pytest.approx(40 / 60)
    # The unserved call was at 12:20 on a Monday: hour 12 of the week, downtown.
    assert figures["unserved_by_hour"]["12"] == 1
    assert sum(figures["unserved_by_hour"].values()) == 1
    assert figures["unserved_by_area"] == {"DOWNTOWN COMMERICAL": 1.0}


def test_a_run_keeps_its_inputs_seeds_and_code_version_and_repeats_exactly(monday):
    plan = scenario(scene_source="history")
    first = services.run_plan(scenario=plan, history=monday, seed=7, replications=4)
    again = services.run_plan(scenario=plan, history=monday, seed=7, replications=4)
    assert first.seeds == [7, 8, 9, 10]
    assert first.inputs["call_types"] == [PERSON_DOWN]
    assert first.code_version
    assert first.results == again.results
    assert PlanRun.objects.count() == 2


def test_teams_on_duty_add_up_where_rows_overlap(reference):
    rows = [
        {"weekday": 0, "start": "11:00", "end": "23:00", "teams": 2},
        {"weekday": 0, "start": "15:00", "end": "19:00", "teams": 1},
        {"weekday": 6, "start": "22:00", "end": "02:00", "teams": 1},
    ]
    teams = teams_by_slot(scenario(hours=rows), "America/Los_Angeles")
    quarter = {(day, hour): teams[day * 96 + hour * 4] for day in range(7) for hour in range(24)}
    assert (quarter[0, 10], quarter[0, 11], quarter[0, 15], quarter[0, 19]) == (0, 2, 3, 2)
    assert (quarter[6, 23], quarter[0, 1], quarter[0, 2]) == (1, 1, 0)  # past Sunday midnight


def test_team_hours_follow_the_clock_across_a_daylight_saving_change():
    # Clocks went forward on Sunday 8 March 2026: Saturday noon to Monday noon is 47 hours.
    pacific = ZoneInfo("America/Los_Angeles")
    start = datetime.datetime(2026, 3, 7, 12, tzinfo=pacific)
    end = datetime.datetime(2026, 3, 9, 12, tzinfo=pacific)
    changes, team_hours = duty_changes([1] * 672, start, end, "America/Los_Angeles")
    assert changes == [(0.0, 1)]
    assert team_hours == pytest.approx(47)
    # 11:00-23:00 only: Saturday 11 hours (from noon), Sunday 12, Monday 1 (to noon).
    day_only = [1 if 44 <= q % 96 < 92 else 0 for q in range(672)]
    assert duty_changes(day_only, start, end, "America/Los_Angeles")[1] == pytest.approx(24)


def test_no_teams_are_needed_where_no_call_is_eligible(monday):
    plan = scenario(call_types=["THEFT - SHOPLIFT"])
    prepared = services.prepare(plan, history_rows(monday))
    assert services.teams_for_target(plan, prepared, 0.8, [1, 2])["teams"] == 0


def test_the_teams_needed_for_a_target_share_are_found_by_search(monday):
    # Three calls within 50 minutes, each team busy 40: two teams reach all three, one team two.
    plan = scenario()
    prepared = services.prepare(plan, history_rows(monday))
    found = services.teams_for_target(plan, prepared, 1.0, [1, 2, 3])
    assert found["teams"] == 2
    assert found["share"]["mean"] == 1.0
    two_thirds = services.teams_for_target(plan, prepared, 0.6, [1, 2, 3])
    assert two_thirds["teams"] == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hours": [{"weekday": 7, "start": "11:00", "end": "23:00", "teams": 1}]}, "hours"),
        ({"hours": [{"weekday": 1, "start": "25:00", "end": "23:00", "teams": 1}]}, "hours"),
        ({"hours": [{"weekday": 1, "start": "11:00", "end": "23:00", "teams": 0}]}, "hours"),
        ({"hours": []}, "hours"),
        ({"call_types": []}, "call_types"),
        ({"areas": [], "city_wide": False}, "areas"),
        ({"wait_limit_minutes": -1}, "wait_limit_minutes"),
        ({"road_factor": 0.5}, "road_factor"),
        ({"replications": 1}, "replications"),
    ],
)
def test_a_scenario_that_cannot_be_run_is_refused_naming_the_field(reference, changes, field):
    with pytest.raises(InvalidInput) as refused:
        scenario(**changes)
    assert field in refused.value.fields
    assert not Scenario.objects.exists()


def test_todays_program_is_built_from_the_live_protocol_units_and_call_types(units):
    today = services.todays_program()
    assert today.live
    assert today.call_types == sorted(
        CallType.objects.filter(eligible=True, active=True).values_list("code", flat=True)
    )
    assert "BELLTOWN" in today.areas and "CAPITOL HILL" not in today.areas
    assert {row["teams"] for row in today.hours} == {2}  # CARE-1 and CARE-2
    assert {(row["start"], row["end"]) for row in today.hours} == {("11:00", "23:00")}
    CallType.objects.filter(code=PERSON_DOWN).update(eligible=False)
    assert PERSON_DOWN not in services.todays_program().call_types
    assert Scenario.objects.filter(live=True).count() == 1


def _live_incident(people, api, at: str) -> Incident:
    client = api(people["dispatcher"])
    answer = client.post(
        "/api/v1/incidents",
        {
            "cad_number": at.replace(":", "").replace("-", "")[:14],
            "call_type": PERSON_DOWN,
            "priority": 3,
            "address": "3rd Ave & Pine St",
            "latitude": 47.6107,
            "longitude": -122.3396,
            "received_at": at,
            "screening": NO,
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    return answer.json()["eligibility"]["eligible"]


def test_the_planner_screens_with_the_live_screening_code(people, monkeypatch, reference):
    """A change to an eligibility rule moves the live screening and the planner's demand alike."""
    from rest_framework.test import APIClient

    def api(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    history = import_export(export([row("03/02/2026 12:00:00 PM")]), name="one call")
    plan = services.todays_program()
    assert _live_incident(people, api, "2026-03-02T12:00:00-08:00") is True
    assert len(screen_history(plan, history_rows(history)).calls) == 1

    # A stricter rule: nothing is inside CARE's hours before 13:00.
    def from_one(protocol, received_at, schedule=()):
        local = received_at.astimezone(datetime.timezone(datetime.timedelta(hours=-8)))
        return local.hour >= 13

    monkeypatch.setattr(screening, "within_pilot_hours", from_one)
    assert _live_incident(people, api, "2026-03-03T12:00:00-08:00") is False
    assert screen_history(plan, history_rows(history)).calls == []


def test_measured_travel_takes_each_calls_recorded_minutes_to_arrive(reference):
    history = import_export(
        export(
            [
                row("03/02/2026 12:00:00 PM", **{"Arrived Time": "03/02/2026 12:07:00 PM"}),
                row("03/02/2026 2:00:00 PM", **{"Arrived Time": "03/02/2026 2:19:30 PM"}),
            ]
        ),
        name="arrivals",
    )
    run = services.run_plan(scenario=scenario(travel_source="measured"), history=history, seed=1)
    # One call each way of the median: waits of 7 and 19.5 minutes, a median of 13.25.
    assert run.results["wait_median"]["mean"] == pytest.approx(13.25)
    assert run.results["wait_p90"]["mean"] == pytest.approx(19.5)
