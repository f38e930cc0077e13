"""The planner's writes and runs: scenarios (today's program rebuilt from the live protocol), a
run of a scenario over a history stored with its inputs, seeds and code version, and the search
for the teams a target share needs."""

from __future__ import annotations

import functools
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata

import shapely
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import model_to_dict

from server.audit.services import record_audit
from server.dispatch.models import CallType, ProgramHours, Unit, UnitKind
from server.dispatch.protocol import current_protocol
from server.errors import InvalidInput
from server.planner import demand, selectors
from server.planner.answers import summarize
from server.planner.models import (
    MAX_REPLICATIONS,
    MAX_TEAMS,
    CallHistory,
    PlanRun,
    Scenario,
    TravelSource,
)
from server.planner.simulation import Position, replicate

TODAY = "Today's program"
DEFAULT_SEED = 20260
SEARCH_REPLICATIONS = 5  # each step of the teams search; the answer is then run in full
SCENARIO_FIELDS = [
    f.name
    for f in Scenario._meta.get_fields()
    if f.concrete and f.name not in ("id", "live", "updated_at")
]


@functools.cache
def code_version() -> str:
    """The commit the planner runs from (else the package's version): stored with every run."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return f"git:{found.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        return f"care-field {metadata.version('care-field')}"


def _refusal(error: ValidationError) -> InvalidInput:
    fields = {k: [str(m) for m in v] for k, v in error.message_dict.items()}
    first = next(iter(fields.values()))[0] if fields else "The scenario is not valid."
    return InvalidInput(first, fields=fields)


def save_scenario(*, actor, scenario: Scenario | None = None, **values) -> Scenario:
    """Create or change a scenario: everything checked by the model before it is stored."""
    unknown = set(values) - set(SCENARIO_FIELDS)
    if unknown:
        raise InvalidInput("Not a scenario field.", fields={k: ["Unknown."] for k in unknown})
    before = model_to_dict(scenario, fields=SCENARIO_FIELDS) if scenario else {}
    scenario = scenario or Scenario()
    for name, value in values.items():
        setattr(scenario, name, value)
    try:
        scenario.full_clean()
    except ValidationError as error:
        raise _refusal(error) from error
    scenario.save()
    after = model_to_dict(scenario, fields=SCENARIO_FIELDS)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    record_audit(
        actor=actor, action="planner.scenario_saved", obj=scenario, before=before, after=changed
    )
    return scenario


def delete_scenario(*, actor, scenario: Scenario) -> None:
    """Remove a scenario and its runs, audited with what it was."""
    with transaction.atomic():
        before = model_to_dict(scenario, fields=SCENARIO_FIELDS)
        record_audit(actor=actor, action="planner.scenario_deleted", obj=scenario, before=before)
        scenario.delete()


def _live_hours(teams: int) -> list[dict]:
    protocol = current_protocol()
    rows = list(ProgramHours.objects.values_list("weekday", "start", "end"))
    if not rows:
        rows = [(day, protocol.pilot_start, protocol.pilot_end) for day in range(7)]
    return [
        {"weekday": w, "start": f"{s:%H:%M}", "end": f"{e:%H:%M}", "teams": teams}
        for w, s, e in rows
    ]


def todays_program(actor=None) -> Scenario:
    """The live program as a scenario: its areas, hours, CARE units and eligible call types as
    they are now (the assumptions a supervisor set on it are kept)."""
    teams = max(1, Unit.objects.filter(kind=UnitKind.CARE, in_service=True).count())
    scenario = Scenario.objects.filter(live=True).first() or Scenario(
        live=True, travel_source=TravelSource.HISTORY
    )
    scenario.name = TODAY
    scenario.description = "Built from the live protocol: pilot areas, hours, units, call types."
    scenario.city_wide = False
    scenario.areas = selectors.pilot_areas()
    scenario.hours = _live_hours(min(teams, MAX_TEAMS))
    scenario.call_types = list(
        CallType.objects.filter(eligible=True, active=True)
        .order_by("code")
        .values_list("code", flat=True)
    )
    scenario.full_clean()
    scenario.save()
    return scenario


@dataclass
class Prepared:
    """A scenario's demand, duty and measured times over one history, ready to replicate."""

    demand: demand.Demand
    teams: list[int]  # per quarter-hour of the week
    times: selectors.ProgramTimes
    bases: list[Position]
    timezone: str


def _bases(scenario: Scenario, calls: Iterable) -> list[Position]:
    """Where teams start their shifts: a point inside each of the scenario's areas, busiest
    area first (teams are stationed where the calls are)."""
    busy = Counter(call.area for call in calls)
    named = dict(selectors.area_shapes())
    names = list(named) if scenario.city_wide else [a for a in scenario.areas if a in named]
    names.sort(key=lambda name: (-busy[name], name))
    points = []
    for name in names:
        point = shapely.geometry.shape(named[name]).representative_point()
        points.append((point.y, point.x))
    return points


def prepare(
    scenario: Scenario,
    rows: Iterable[selectors.Row],
    times: selectors.ProgramTimes | None = None,
    screened: demand.Demand | None = None,
) -> Prepared:
    """The scenario's demand over the rows (screened by the live code unless `screened` is
    given), its teams by quarter-hour, the program's measured times and the teams' bases."""
    timezone = current_protocol().timezone
    screened = screened or demand.screen_history(scenario, rows)
    return Prepared(
        demand=screened,
        teams=demand.teams_by_slot(scenario, timezone),
        times=times if times is not None else selectors.program_times(),
        bases=_bases(scenario, screened.calls),
        timezone=timezone,
    )


def simulate(
    scenario: Scenario, prepared: Prepared, seeds: list[int], teams: list[int] | None = None
) -> dict:
    """The scenario's figures over one replication per seed (`teams` overrides its duty)."""
    screened = prepared.demand
    duty, team_hours = demand.duty_changes(
        teams or prepared.teams, screened.start, screened.end, prepared.timezone
    )
    setup = demand.setup_for(scenario, duty, prepared.times, prepared.bases)
    # One replication's outcomes alive at a time: each is summed up before the next runs.
    outcomes = (replicate(screened.calls, setup, seed) for seed in seeds)
    days = max((screened.end.timestamp() - screened.start.timestamp()) / 86400, 1 / 24)
    return summarize(screened.calls, outcomes, team_hours=team_hours, days=days)


def teams_for_target(
    scenario: Scenario, prepared: Prepared, target: float, seeds: list[int]
) -> dict:
    """The fewest teams, on duty at every hour the scenario runs, whose mean share reaches the
    target: doubling to bracket it, then halving the bracket."""
    if not 0 < target <= 1:
        raise InvalidInput("The target is a share above 0 and at most 1.", fields={"target": []})
    if not prepared.demand.calls:
        return {"target": target, "teams": 0, "note": "No call of the history is eligible."}
    hours = [1 if n else 0 for n in prepared.teams]
    probe = seeds[:SEARCH_REPLICATIONS]

    def share(n: int) -> float:
        return simulate(scenario, prepared, probe, [n * h for h in hours])["share"]["mean"]

    low, high = 0, 1
    while share(high) < target:
        low, high = high, high * 2
        if high > MAX_TEAMS:
            return {"target": target, "teams": None, "most_tried": MAX_TEAMS}
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if share(middle) >= target else (middle, high)
    figures = simulate(scenario, prepared, seeds, [high * h for h in hours])
    return {"target": target, "teams": high, "share": figures["share"]}


def _seeds(seed: int, replications: int) -> list[int]:
    if not 2 <= replications <= MAX_REPLICATIONS:
        raise InvalidInput(
            f"Replications are 2 to {MAX_REPLICATIONS}.", fields={"replications": []}
        )
    return [seed + i for i in range(replications)]


def run_plan(
    *,
    scenario: Scenario,
    history: CallHistory,
    seed: int = DEFAULT_SEED,
    replications: int | None = None,
    target: float | None = None,
    actor=None,
) -> PlanRun:
    """Run a scenario over a history and store the run with everything needed to repeat it."""
    began = time.perf_counter()
    seeds = _seeds(seed, replications or scenario.replications)
    prepared = prepare(scenario, selectors.history_rows(history))
    results = simulate(scenario, prepared, seeds)
    results["screened"] = prepared.demand.screened
    results["from"] = prepared.demand.start.isoformat()
    results["to"] = prepared.demand.end.isoformat()
    if target is not None:
        results["target"] = teams_for_target(scenario, prepared, target, seeds)
    run = PlanRun.objects.create(
        scenario=scenario,
        scenario_name=scenario.name,
        inputs=model_to_dict(scenario, fields=SCENARIO_FIELDS),
        history=history,
        history_name=history.name,
        seeds=seeds,
        code_version=code_version(),
        seconds=time.perf_counter() - began,
        results=results,
    )
    if actor is not None:
        record_audit(actor=actor, action="planner.run", obj=run, after={"seeds": seeds})
    return run
