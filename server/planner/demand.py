"""Which calls of a history a scenario would have sent CARE, screened by the live screening code
(`server.dispatch.incidents.screening.assess`, the function every incident goes through), and the
scenario's teams and assumptions as the simulation's setup."""

from __future__ import annotations

import datetime
import random
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from server.dispatch.geography import Place, distance_m
from server.dispatch.incidents.screening import assess, within_pilot_hours
from server.dispatch.models import CallType, Protocol, ScreeningQuestion
from server.dispatch.protocol import current_protocol
from server.planner import selectors
from server.planner.models import Scenario, SceneSource, TravelSource
from server.planner.simulation import Call, Position, Setup

SLOT_MINUTES = 15
SLOTS_PER_WEEK = 7 * 24 * 60 // SLOT_MINUTES
# Per call type, the program's own times on scene are used from this many calls on; below it,
# all types' times together, and with none at all the scenario's fixed minutes.
MIN_TYPE_SAMPLES = 5
# A Monday with no daylight-saving change: the week every schedule slot is read on.
REFERENCE_MONDAY = datetime.date(2024, 1, 1)


def slot_of(local: datetime.datetime) -> int:
    return local.weekday() * 96 + local.hour * 4 + local.minute // SLOT_MINUTES


@dataclass
class Demand:
    """A history screened for a scenario: the eligible calls, and what the history spans."""

    calls: list[Call]
    start: datetime.datetime
    end: datetime.datetime
    screened: int  # every call of the history


def _protocol(timezone: str) -> Protocol:
    live = current_protocol()
    return Protocol(pilot_start=live.pilot_start, pilot_end=live.pilot_end, timezone=timezone)


def _screen(scenario: Scenario, rows: Iterable[selectors.Row], timezone: str) -> Demand:
    protocol = _protocol(timezone)
    tz = zoneinfo.ZoneInfo(timezone)
    questions = list(ScreeningQuestion.objects.filter(active=True))
    schedule = [(weekday, start, end) for weekday, start, end, _ in scenario.schedule()]
    areas, types = set(scenario.areas), set(scenario.call_types)
    call_types: dict[str, CallType] = {}
    eligible: list[tuple[datetime.datetime, str, str, Position, float | None]] = []
    start = end = None
    screened = 0
    for received_at, code, area, beat, latitude, longitude, arrived in rows:
        screened += 1
        start = start or received_at
        end = received_at
        call_type = call_types.get(code) or call_types.setdefault(
            code, CallType(code=code, eligible=code in types)
        )
        inside = scenario.city_wide or area in areas
        result = assess(
            protocol=protocol,
            call_type=call_type,
            place=Place(beat=beat, area=area, in_pilot_area=inside),
            received_at=received_at,
            answers={},  # a history has no screening answers: none called for police only
            questions=questions,
            schedule=schedule,
        )
        if result.eligible:
            where = (latitude, longitude) if latitude is not None else None
            eligible.append((received_at, code, area, where, arrived))
    if start is None:
        now = datetime.datetime.now(tz)
        return Demand([], now, now, 0)
    calls = [
        Call(_minutes(at, start), code, area, slot_of(at.astimezone(tz)), where, arrived)
        for at, code, area, where, arrived in eligible
    ]
    return Demand(calls, start, end, screened)


def _minutes(at: datetime.datetime, start: datetime.datetime) -> float:
    # By timestamps: two times in one zone subtract as wall clocks, across a DST change too.
    return (at.timestamp() - start.timestamp()) / 60


def screen_history(scenario: Scenario, rows: Iterable[selectors.Row]) -> Demand:
    return _screen(scenario, rows, current_protocol().timezone)


def as_screened(rows: Iterable[selectors.Row], *, screened: int) -> Demand:
    """Calls the live system already screened eligible when they came in (validation replays
    what the program faced then, not what today's protocol would take)."""
    tz = zoneinfo.ZoneInfo(current_protocol().timezone)
    rows = list(rows)
    if not rows:
        now = datetime.datetime.now(tz)
        return Demand([], now, now, screened)
    start, end = rows[0][0], rows[-1][0]
    calls = [
        Call(
            _minutes(at, start),
            code,
            area,
            slot_of(at.astimezone(tz)),
            (latitude, longitude) if latitude is not None else None,
        )
        for at, code, area, _beat, latitude, longitude, _arrived in rows
    ]
    return Demand(calls, start, end, screened)


def teams_by_slot(scenario: Scenario, timezone: str) -> list[int]:
    """Teams on duty in each quarter-hour of the week (overlapping rows add up), read with the
    same hours rule screening uses."""
    protocol = _protocol(timezone)
    tz = zoneinfo.ZoneInfo(timezone)
    monday = datetime.datetime.combine(REFERENCE_MONDAY, datetime.time(0), tzinfo=tz)
    teams = [0] * SLOTS_PER_WEEK
    for weekday, start, end, count in scenario.schedule():
        for slot in range(SLOTS_PER_WEEK):
            at = monday + datetime.timedelta(minutes=slot * SLOT_MINUTES)
            if within_pilot_hours(protocol, at, [(weekday, start, end)]):
                teams[slot] += count
    return teams


def duty_changes(
    teams: list[int], start: datetime.datetime, end: datetime.datetime, timezone: str
) -> tuple[list[tuple[float, int]], float]:
    """(minute, teams) each time the number on duty changes from the history's start to its
    end, read day by day in local time (so a daylight-saving day keeps its local hours), and
    the team-hours on duty over that span."""
    tz = zoneinfo.ZoneInfo(timezone)
    day, last_day = start.astimezone(tz).date(), end.astimezone(tz).date()
    changes: list[tuple[float, int]] = []
    while day <= last_day:
        first = day.weekday() * 96
        for quarter in range(96):
            count = teams[first + quarter]
            if changes and changes[-1][1] == count:
                continue
            at = datetime.datetime.combine(
                day, datetime.time(quarter // 4, quarter % 4 * SLOT_MINUTES), tzinfo=tz
            )
            minute = _minutes(at, start)
            if minute <= 0:
                changes = []  # before the first call: only the last such change counts
            changes.append((max(minute, 0.0), count))
        day += datetime.timedelta(days=1)
    span = max(_minutes(end, start), 0.0)
    ends = [min(at, span) for at, _ in changes[1:]] + [span]
    team_hours = sum(
        n * max(stop - at, 0.0) / 60 for (at, n), stop in zip(changes, ends, strict=True)
    )
    return changes, team_hours


def _scene(scenario: Scenario, times: selectors.ProgramTimes):
    fixed = (scenario.scene_minutes, scenario.police_freed_minutes)
    if scenario.scene_source == SceneSource.FIXED:
        return lambda rng, call: fixed
    pooled = [pair for pairs in times.scene.values() for pair in pairs]

    def draw(rng: random.Random, call: Call) -> tuple[float, float]:
        own = times.scene.get(call.call_type, ())
        if len(own) >= MIN_TYPE_SAMPLES:
            return rng.choice(own)
        return rng.choice(pooled) if pooled else fixed

    return draw


def _travel(scenario: Scenario, times: selectors.ProgramTimes):
    fixed = scenario.travel_minutes
    if scenario.travel_source == TravelSource.FIXED:
        return lambda rng, here, call: fixed
    if scenario.travel_source == TravelSource.HISTORY:
        measured = times.travel
        return lambda rng, here, call: rng.choice(measured) if measured else fixed
    metres_per_minute = scenario.speed_kmh * 1000 / 60

    def drive(rng: random.Random, here: Position, call: Call) -> float:
        if here is None or call.position is None:
            return fixed
        straight = distance_m(here[0], here[1], call.position[0], call.position[1])
        return straight * scenario.road_factor / metres_per_minute

    if scenario.travel_source == TravelSource.MEASURED:
        return lambda rng, here, call: (
            call.measured if call.measured is not None else drive(rng, here, call)
        )
    return drive


def setup_for(
    scenario: Scenario,
    duty: list[tuple[float, int]],
    times: selectors.ProgramTimes,
    bases: list[Position],
) -> Setup:
    return Setup(
        wait_limit=scenario.wait_limit_minutes,
        travel=_travel(scenario, times),
        scene=_scene(scenario, times),
        duty=duty,
        bases=bases,
    )
