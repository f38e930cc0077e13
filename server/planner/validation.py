"""Validation against reality: today's program replayed over the period the system has run,
its simulated share reached, waits and police time freed set beside the recorded ones."""

from __future__ import annotations

import datetime
import statistics
import time

from django.forms.models import model_to_dict

from server.errors import InvalidInput
from server.planner import demand, selectors, services
from server.planner.models import MAX_REPLICATIONS, PlanRun

# A model whose share reached is off the recorded one by more than this says so on the page.
SHARE_MARGIN = 0.10
VALIDATION = "The program's own incidents"


def _period(start, end) -> tuple[datetime.datetime, datetime.datetime]:
    calls = selectors.program_incidents().order_by("received_at")
    first, last = calls.first(), calls.last()
    if first is None:
        raise InvalidInput("The program has no calls yet to compare with.")
    start = start or first.received_at
    end = end or last.received_at + datetime.timedelta(seconds=1)
    if start >= end:
        raise InvalidInput("The period's start is not before its end.", fields={"from": []})
    return start, end


def _compare(figures: dict, recorded: selectors.Recorded) -> dict:
    share = figures["share"]
    recorded_share = recorded.reached / recorded.eligible if recorded.eligible else 0.0
    error = share["mean"] - recorded_share
    return {
        "share": {
            "recorded": recorded_share,
            "simulated": share,
            "error": error,
            "within_interval": share["predicted_low"] <= recorded_share <= share["predicted_high"],
        },
        "eligible": {"recorded": recorded.eligible, "simulated": figures["eligible"]},
        "wait_median": {
            "recorded": statistics.median(recorded.waits) if recorded.waits else None,
            "simulated": figures["wait_median"]["mean"],
        },
        "police_hours_freed": {
            "recorded": recorded.police_freed_hours,
            "simulated": figures["police_hours_freed"]["mean"],
        },
        "margin": SHARE_MARGIN,
        "off": abs(error) > SHARE_MARGIN,
    }


def validate(
    *, start=None, end=None, seed: int = services.DEFAULT_SEED, replications: int = 10
) -> PlanRun:
    """Run today's program over the program's own calls and store the comparison as a run."""
    if not 2 <= replications <= MAX_REPLICATIONS:
        raise InvalidInput(f"Replications are 2 to {MAX_REPLICATIONS}.")
    began = time.perf_counter()
    start, end = _period(start, end)
    scenario = services.todays_program()
    seeds = [seed + i for i in range(replications)]
    # The calls the live system screened eligible then: the model is judged on what the
    # program faced, whatever the protocol has become since.
    faced = demand.as_screened(
        selectors.program_rows(start, end, eligible_only=True),
        screened=selectors.program_incidents(start, end).count(),
    )
    prepared = services.prepare(scenario, [], selectors.program_times(start, end), faced)
    figures = services.simulate(scenario, prepared, seeds)
    figures["validation"] = _compare(figures, selectors.recorded(start, end))
    figures["from"], figures["to"] = start.isoformat(), end.isoformat()
    return PlanRun.objects.create(
        scenario=scenario,
        scenario_name=scenario.name,
        inputs=model_to_dict(scenario, fields=services.SCENARIO_FIELDS),
        history=None,
        history_name=f"{VALIDATION}, {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        seeds=seeds,
        code_version=services.code_version(),
        seconds=time.perf_counter() - began,
        results=figures,
    )


def latest_validation() -> PlanRun | None:
    return PlanRun.objects.filter(history_name__startswith=VALIDATION).first()
