"""Validation: today's program replayed over a generated history recovers the recorded share
within its interval; and the simulation agrees with queueing theory where theory is exact."""

from __future__ import annotations

import random

import pytest

from server.planner import services
from server.planner.simulation import Call, Setup, replicate
from server.planner.validation import validate
from tests.server.planner.worlds import loss_world, record_call


def erlang_b(servers: int, load: float) -> float:
    """The share of calls a loss system turns away (Erlang's B formula, by its recursion)."""
    blocked = 1.0
    for n in range(1, servers + 1):
        blocked = load * blocked / (n + load * blocked)
    return blocked


def test_with_no_wait_the_share_reached_is_what_erlangs_formula_says():
    # Two teams, a call every 30 minutes on average, 70 minutes busy on average: 2.33 Erlangs.
    rng = random.Random(11)
    at, calls = 0.0, []
    for _ in range(20_000):
        at += rng.expovariate(1 / 30)
        calls.append(Call(at=at, call_type="DOWN", area="A", slot=0))
    setup = Setup(
        wait_limit=0,
        travel=lambda r, here, call: 0.0,
        scene=lambda r, call: (r.expovariate(1 / 70), 0.0),
        duty=[(0.0, 2)],
    )
    reached = sum(o.reached for o in replicate(calls, setup, seed=3)) / len(calls)
    assert reached == pytest.approx(1 - erlang_b(2, 70 / 30), abs=0.015)


def test_todays_program_over_a_generated_history_recovers_the_recorded_share(people):
    world = loss_world(people, days=20, per_hour=1.5, teams=2, mean_scene=60)
    # The generated program sends police alone at once when both teams are busy.
    services.save_scenario(actor=None, scenario=services.todays_program(), wait_limit_minutes=0)
    check = validate(replications=10).results["validation"]
    recorded = world["reached"] / world["eligible"]
    assert check["eligible"] == {"recorded": world["eligible"], "simulated": world["eligible"]}
    assert check["share"]["recorded"] == pytest.approx(recorded)
    assert check["share"]["within_interval"] is True
    interval = check["share"]["simulated"]
    assert interval["predicted_high"] - interval["predicted_low"] < 0.2  # not a vacuous interval
    assert check["off"] is False
    assert 0.3 < recorded < 0.9  # the teams were busy enough for the test to mean something


def test_a_model_far_from_the_record_says_it_is_off(people):
    # Every call was reached on record, but the model is told a team stays 10 hours on scene.
    for hour in range(12, 20):
        record_call(people, at=f"2026-03-02T{hour}:00:00-08:00", reached=True)
    services.save_scenario(
        actor=None,
        scenario=services.todays_program(),
        wait_limit_minutes=0,
        scene_source="fixed",
        scene_minutes=600,
    )
    check = validate(replications=3).results["validation"]
    assert check["share"]["recorded"] == 1.0
    assert check["share"]["simulated"]["mean"] == pytest.approx(2 / 8)  # two teams, one call each
    assert check["off"] is True


def test_there_is_nothing_to_validate_before_the_first_call(reference):
    from server.errors import InvalidInput

    with pytest.raises(InvalidInput):
        validate()


def test_validation_replays_the_calls_screened_eligible_then_not_by_todays_protocol(people):
    from server.dispatch.models import CallType

    for hour in (12, 14, 16):
        record_call(people, at=f"2026-03-02T{hour}:00:00-08:00", reached=True)
    record_call(people, at="2026-03-02T17:00:00-08:00", reached=False, eligible=False)
    CallType.objects.filter(code="DOWN - CHECK FOR DOWN PERSON").update(eligible=False)
    check = validate(replications=2).results["validation"]
    assert check["eligible"] == {"recorded": 3, "simulated": 3}
    assert check["share"]["recorded"] == 1.0
