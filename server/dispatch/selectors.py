"""Reads of incidents, units and assignments, by who may see them."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from server.accounts.models import Role
from server.accounts.permissions import FIELD_ROLES, role_of
from server.dispatch.models import (
    OPEN_INCIDENT_STATUSES,
    Assignment,
    CallType,
    Incident,
    IncidentStatus,
    ScreeningQuestion,
    Unit,
)

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


def unit_board() -> list[dict]:
    """Every unit with whether it can take a call now."""
    busy = set(Assignment.objects.open().values_list("unit_id", flat=True))
    return [
        {"unit": u, "available": u.in_service and u.pk not in busy}
        for u in Unit.objects.order_by("kind", "call_sign")
    ]


def suggested_units(incident: Incident, kind: str) -> list[Unit]:
    """Available units of one kind, nearest first: the call's own beat, then its sector (the
    beat's letter, e.g. M for M1-M3), then the rest by call sign."""
    available = [
        row["unit"] for row in unit_board() if row["available"] and row["unit"].kind == kind
    ]
    beat = incident.beat or ""

    def distance(unit: Unit) -> tuple[int, str]:
        if beat and unit.home_beat == beat:
            return (0, unit.call_sign)
        if beat and unit.home_beat[:1] == beat[:1]:
            return (1, unit.call_sign)
        return (2, unit.call_sign)

    return sorted(available, key=distance)


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
