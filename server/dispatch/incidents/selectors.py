"""Reads of incidents, units and assignments, by who may see them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from server.accounts.policies import DISPATCHERS
from server.dispatch import policies
from server.dispatch.geography import beat_centres
from server.dispatch.models import (
    OPEN_INCIDENT_STATUSES,
    Assignment,
    AssignmentStatus,
    CallType,
    Incident,
    IncidentStatus,
    ScreeningQuestion,
    Unit,
)
from server.dispatch.units.positions import distance_m, eta_minutes, is_fresh
from server.dispatch.units.selectors import available_units

DISPATCH_ROLES = DISPATCHERS  # kept for the views that name it


def incidents() -> QuerySet[Incident]:
    """Incidents with what their presenter reads, in one query each."""
    return Incident.objects.select_related("call_type").prefetch_related(
        Prefetch("assignments", queryset=Assignment.objects.select_related("unit"))
    )


def open_incidents() -> QuerySet[Incident]:
    return incidents().filter(status__in=OPEN_INCIDENT_STATUSES).order_by("-received_at")


def triage_queue() -> QuerySet[Incident]:
    return Incident.objects.filter(status=IncidentStatus.TRIAGE).select_related("call_type")


@dataclass(frozen=True)
class Candidate:
    unit: Unit
    distance_m: float | None
    eta_minutes: float | None
    basis: str  # "position": its last fresh fix; "beat": its home beat (no fresh fix)


def suggested_units(incident: Incident, kind: str) -> list[Candidate]:
    """Available units of one kind, nearest first by straight-line distance: from a unit's last
    fresh fix, else from its home beat. Units that can't be placed at all (no fix, no beat) or
    a call with no location yet: by call sign, after the rest."""
    now = timezone.now()
    call = (
        (incident.latitude, incident.longitude)
        if incident.latitude is not None and incident.longitude is not None
        else None
    )
    centres = beat_centres()
    candidates = []
    for unit, ok in available_units(Unit.objects.filter(kind=kind)):
        if not ok:
            continue
        if is_fresh(unit, now):
            basis, where = "position", (unit.last_latitude, unit.last_longitude)
        else:
            basis, where = "beat", centres.get(unit.home_beat)
        metres = distance_m(where, call) if where and call else None
        eta = eta_minutes(metres) if metres is not None else None
        candidates.append(Candidate(unit=unit, distance_m=metres, eta_minutes=eta, basis=basis))
    return sorted(
        candidates,
        key=lambda c: (c.distance_m is None, c.distance_m or 0.0, c.unit.call_sign),
    )


def gazetteer(query: str, limit: int = 8) -> list[tuple[str, float, float]]:
    """Addresses the system has already placed (typed calls, CAD documents) that contain the
    query, most recent place first, one row per address."""
    rows = (
        Incident.objects.filter(address__icontains=query, latitude__isnull=False)
        .order_by("-received_at")
        .values_list("address", "latitude", "longitude")[: limit * 5]
    )
    seen: dict[str, tuple[str, float, float]] = {}
    for address, lat, lon in rows:
        seen.setdefault(address.strip().lower(), (address, lat, lon))
    return list(seen.values())[:limit]


def visible_assignments(user) -> QuerySet[Assignment]:
    """Dispatch and supervisors see every assignment; a field user the ones they served
    (`server.dispatch.policies`); others none."""
    return policies.visible_assignments(user).select_related(
        "unit", "incident", "incident__call_type"
    )


def active_call_types() -> QuerySet[CallType]:
    return CallType.objects.filter(active=True).order_by("-eligible", "code")


def active_screening_questions() -> QuerySet[ScreeningQuestion]:
    return ScreeningQuestion.objects.filter(active=True)


def assigned_to(user, incident: Incident) -> bool:
    """Whether the user served one of the call's assignments (open or not)."""
    return policies.served_assignments(user).filter(incident=incident).exists()


def caution_history(incident: Incident, *, radius_m: float, days: int = 365) -> list[dict]:
    """Safety flags at or near the call in the past year: scene-unsafe notes and emergencies,
    with dates. Safety facts only — no care record is read here (dispatch can't see them)."""
    from datetime import timedelta

    from django.utils import timezone

    from server.dispatch.models import AssignmentTransition, Emergency

    if incident.latitude is None or incident.longitude is None:
        return []
    since = timezone.now() - timedelta(days=days)
    # A box around the call first (1° latitude ≈ 111 km), then the true distance.
    pad = radius_m / 111_000 * 1.5
    box = {
        "latitude__range": (incident.latitude - pad, incident.latitude + pad),
        "longitude__range": (incident.longitude - pad * 2, incident.longitude + pad * 2),
    }
    flags: list[dict] = []
    unsafe = (
        AssignmentTransition.objects.filter(
            to_status=AssignmentStatus.SCENE_UNSAFE,
            occurred_at__gte=since,
            **{f"assignment__incident__{k}": v for k, v in box.items()},
        )
        .exclude(assignment__incident=incident)
        .select_related("assignment__incident")
    )
    for t in unsafe:
        near = t.assignment.incident
        flags.append(
            {
                "kind": "scene_unsafe",
                "date": t.occurred_at.isoformat(),
                "note": t.note,
                "distance_m": round(
                    distance_m(
                        (incident.latitude, incident.longitude), (near.latitude, near.longitude)
                    )
                ),
            }
        )
    emergencies = Emergency.objects.filter(started_at__gte=since, **box).exclude(incident=incident)
    for e in emergencies:
        flags.append(
            {
                "kind": "emergency",
                "date": e.started_at.isoformat(),
                "note": "",
                "distance_m": round(
                    distance_m((incident.latitude, incident.longitude), (e.latitude, e.longitude))
                ),
            }
        )
    return sorted(
        (f for f in flags if f["distance_m"] <= radius_m), key=lambda f: f["date"], reverse=True
    )


def care_alternative(incident: Incident, care: list[Candidate]) -> dict | None:
    """The CARE team a dispatcher passes over by sending police only to an eligible call: the
    nearest available one (the first suggested), and how far it is."""
    if not incident.eligible or not care:
        return None
    best = care[0]
    metres = best.distance_m
    return {
        "unit": best.unit,
        "distance_km": round(metres / 1000, 1) if metres is not None else None,
    }
