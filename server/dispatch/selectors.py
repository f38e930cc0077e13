"""Reads of incidents, units and assignments, by who may see them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from server.accounts.models import Role
from server.accounts.permissions import FIELD_ROLES, role_of
from server.dispatch.geography import beat_centres
from server.dispatch.models import (
    OPEN_INCIDENT_STATUSES,
    Assignment,
    CallType,
    Incident,
    IncidentStatus,
    ScreeningQuestion,
    Unit,
)
from server.dispatch.positions import distance_m, eta_minutes, is_fresh

DISPATCH_ROLES = (Role.DISPATCHER, Role.ADMIN)


def incidents() -> QuerySet[Incident]:
    """Incidents with what their presenter reads, in one query each."""
    return Incident.objects.select_related("call_type").prefetch_related(
        Prefetch("assignments", queryset=Assignment.objects.select_related("unit"))
    )


def open_incidents() -> QuerySet[Incident]:
    return incidents().filter(status__in=OPEN_INCIDENT_STATUSES).order_by("-received_at")


def triage_queue() -> QuerySet[Incident]:
    return Incident.objects.filter(status=IncidentStatus.TRIAGE).select_related("call_type")


def units_with_open_assignments() -> QuerySet[Unit]:
    return Unit.objects.prefetch_related(
        Prefetch("assignments", to_attr="open_assignments", queryset=Assignment.objects.open())
    )


def available_units(units: QuerySet[Unit] | None = None) -> list[tuple[Unit, bool]]:
    """Each unit with whether it can take a call now: the one definition of "available" (in
    service and on no open assignment) that the board, the suggestions and the API share."""
    busy = set(Assignment.objects.open().values_list("unit_id", flat=True))
    units = Unit.objects.order_by("kind", "call_sign") if units is None else units
    return [(u, u.in_service and u.pk not in busy) for u in units]


def unit_board() -> list[dict]:
    """Every unit with whether it can take a call now."""
    return [{"unit": u, "available": ok} for u, ok in available_units()]


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
    """Dispatch and admins see every assignment; a field unit sees its own; others none."""
    queryset = Assignment.objects.select_related("unit", "incident", "incident__call_type")
    role = role_of(user)
    if role in DISPATCH_ROLES:
        return queryset
    if role in FIELD_ROLES and user.unit_id:
        return queryset.filter(unit_id=user.unit_id)
    return queryset.none()


def active_call_types() -> QuerySet[CallType]:
    return CallType.objects.filter(active=True).order_by("-eligible", "code")


def active_screening_questions() -> QuerySet[ScreeningQuestion]:
    return ScreeningQuestion.objects.filter(active=True)
