"""Reads for the planner: a history's calls, the program's own measured times, and what the
program actually did over a period (for validation). Times and places only, never a person."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import QuerySet

from server.dispatch.models import Area, Assignment, CallType, Incident, UnitKind
from server.planner.models import CallHistory, HistoricalCall, PlanRun, Scenario

# (received_at, call type, area, beat, latitude, longitude, minutes to the first unit arriving)
Row = tuple[datetime.datetime, str, str, str, float | None, float | None, float | None]


def scenarios() -> QuerySet[Scenario]:
    return Scenario.objects.all()


def histories() -> QuerySet[CallHistory]:
    return CallHistory.objects.all()


def recent_runs(limit: int = 20) -> QuerySet[PlanRun]:
    return PlanRun.objects.all()[:limit]


def history_rows(history: CallHistory) -> Iterator[Row]:
    """The history's calls in time order, streamed from the database."""
    fields = ("received_at", "call_type", "area", "beat", "latitude", "longitude")
    fields += ("arrived_minutes",)
    rows = HistoricalCall.objects.filter(history=history).order_by("received_at", "id")
    yield from rows.values_list(*fields).iterator(chunk_size=5000)


def area_names() -> list[str]:
    return list(Area.objects.order_by("name").values_list("name", flat=True))


def area_shapes() -> list[tuple[str, dict]]:
    return list(Area.objects.order_by("name").values_list("name", "geometry"))


def call_type_codes() -> list[str]:
    return list(
        CallType.objects.filter(active=True).order_by("code").values_list("code", flat=True)
    )


def pilot_areas() -> list[str]:
    return list(Area.objects.filter(in_pilot=True).order_by("name").values_list("name", flat=True))


def program_incidents(
    start: datetime.datetime | None = None, end: datetime.datetime | None = None
) -> QuerySet[Incident]:
    calls = Incident.objects.exclude(latitude=None)
    if start is not None:
        calls = calls.filter(received_at__gte=start)
    if end is not None:
        calls = calls.filter(received_at__lt=end)
    return calls


def program_rows(start=None, end=None, *, eligible_only: bool = False) -> Iterator[Row]:
    """The program's own incidents as a history's rows (only those screened eligible)."""
    calls = program_incidents(start, end).order_by("received_at", "id")
    if eligible_only:
        calls = calls.filter(eligible=True)
    fields = ("received_at", "call_type__code", "area", "beat", "latitude", "longitude")
    for found in calls.values_list(*fields).iterator(chunk_size=5000):
        yield (*found, None)


def _minutes(later: datetime.datetime | None, earlier: datetime.datetime | None) -> float | None:
    if later is None or earlier is None or later < earlier:
        return None
    return (later - earlier).total_seconds() / 60


@dataclass
class ProgramTimes:
    """What the program has measured: per call type, (minutes on scene, police minutes freed)
    of each call CARE cleared; and the minutes from dispatch to CARE arriving."""

    scene: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    travel: list[float] = field(default_factory=list)


def _police_freed(spd: dict | None, care_cleared: datetime.datetime) -> float:
    """The dashboard's definition: from the SPD unit clearing to CARE clearing, on calls whose
    SPD unit marked the scene safe (zero when CARE cleared first, or with no safe scene)."""
    if not spd or spd["scene_safe_at"] is None or spd["cleared_at"] is None:
        return 0.0
    return max(0.0, (care_cleared - spd["cleared_at"]).total_seconds() / 60)


def _assignments(kind: str, start=None, end=None) -> QuerySet[Assignment]:
    rows = Assignment.objects.filter(kind=kind)
    if start is not None:
        rows = rows.filter(incident__received_at__gte=start)
    if end is not None:
        rows = rows.filter(incident__received_at__lt=end)
    return rows


def _spd_by_incident(start=None, end=None) -> dict:
    fields = ("incident_id", "scene_safe_at", "cleared_at")
    return {
        r["incident_id"]: r
        for r in _assignments(UnitKind.SPD, start, end).values(*fields).iterator(chunk_size=5000)
    }


def program_times(start=None, end=None) -> ProgramTimes:
    times = ProgramTimes()
    spd = _spd_by_incident(start, end)
    fields = ("incident_id", "incident__call_type__code", "dispatched_at", "on_scene_at")
    care = _assignments(UnitKind.CARE, start, end).exclude(on_scene_at=None)
    scene: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in care.values(*fields, "cleared_at").iterator(chunk_size=5000):
        drive = _minutes(row["on_scene_at"], row["dispatched_at"])
        if drive is not None:
            times.travel.append(drive)
        stay = _minutes(row["cleared_at"], row["on_scene_at"])
        if stay is not None:
            freed = _police_freed(spd.get(row["incident_id"]), row["cleared_at"])
            scene[row["incident__call_type__code"]].append((stay, freed))
    times.scene = dict(scene)
    return times


@dataclass
class Recorded:
    """What the program did with its eligible calls over a period."""

    eligible: int = 0
    reached: int = 0
    waits: list[float] = field(default_factory=list)  # call to CARE on scene, minutes
    police_freed_hours: float = 0.0


def recorded(start: datetime.datetime, end: datetime.datetime) -> Recorded:
    result = Recorded()
    spd = _spd_by_incident(start, end)
    result.eligible = program_incidents(start, end).filter(eligible=True).count()
    first_arrivals: dict = {}
    fields = ("incident_id", "incident__received_at", "on_scene_at", "cleared_at")
    care = _assignments(UnitKind.CARE, start, end).filter(incident__eligible=True)
    for row in care.exclude(on_scene_at=None).values(*fields).iterator(chunk_size=5000):
        known = first_arrivals.get(row["incident_id"])
        if known is None or row["on_scene_at"] < known["on_scene_at"]:
            first_arrivals[row["incident_id"]] = row
    for incident_id, row in first_arrivals.items():
        result.waits.append(_minutes(row["on_scene_at"], row["incident__received_at"]) or 0.0)
        if row["cleared_at"] is not None:
            result.police_freed_hours += _police_freed(spd.get(incident_id), row["cleared_at"]) / 60
    result.reached = len(first_arrivals)
    return result
