"""Reads of incidents, units and assignments, by who may see them."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from server.accounts.models import Role
from server.accounts.permissions import FIELD_ROLES, role_of
from server.dispatch.models import (
    OPEN_INCIDENT_STATUSES,
    Assignment,
    CallType,
    DutyStatus,
    Incident,
    IncidentStatus,
    ProgramHours,
    ScreeningQuestion,
    Shift,
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
        Prefetch("assignments", to_attr="open_assignments", queryset=Assignment.objects.open()),
        Prefetch("shifts", to_attr="open_shifts", queryset=open_shifts()),
    )


def open_shifts() -> QuerySet[Shift]:
    return Shift.objects.filter(ended_at__isnull=True).select_related("user", "unit")


def staffed_unit_ids() -> set[int]:
    """Units someone rides with now: signed on for a shift (or, for a unit never run by
    shifts, given as the person's unit by an administrator)."""
    from server.accounts.models import User

    return set(
        User.objects.filter(is_active=True, unit__isnull=False).values_list("unit_id", flat=True)
    )


def is_available(unit: Unit, *, busy: set[int], staffed: set[int]) -> bool:
    """The one definition of a unit dispatch may recommend: in service, someone on it, its
    duty status available, and no open assignment."""
    return (
        unit.in_service
        and unit.pk in staffed
        and unit.duty_status == DutyStatus.AVAILABLE
        and unit.pk not in busy
    )


def unit_board() -> list[dict]:
    """Every unit with whether it can take a call now."""
    busy = set(Assignment.objects.open().values_list("unit_id", flat=True))
    staffed = staffed_unit_ids()
    return [
        {
            "unit": u,
            "available": is_available(u, busy=busy, staffed=staffed),
            "staffed": u.pk in staffed,
        }
        for u in Unit.objects.order_by("kind", "call_sign")
    ]


def staffing_board() -> list[dict]:
    """Who is on which unit since when, its duty status and since when (the board's panel)."""
    shifts: dict[int, list[Shift]] = {}
    for shift in open_shifts().order_by("started_at"):
        shifts.setdefault(shift.unit_id, []).append(shift)
    return [
        {"unit": u, "shifts": shifts.get(u.pk, [])}
        for u in Unit.objects.order_by("kind", "call_sign")
    ]


def program_hours_table() -> list[dict]:
    return [
        {"weekday": h.weekday, "day": h.get_weekday_display(), "start": h.start.strftime("%H:%M"),
         "end": h.end.strftime("%H:%M")}
        for h in ProgramHours.objects.all()
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


def assigned_to(user, incident: Incident) -> bool:
    """Whether the user's unit has an assignment on the call (open or not)."""
    return bool(user.unit_id) and incident.assignments.filter(unit_id=user.unit_id).exists()


def caution_history(incident: Incident, *, radius_m: float, days: int = 365) -> list[dict]:
    """Safety flags at or near the call in the past year: scene-unsafe notes and emergencies,
    with dates. Safety facts only — no care record is read here (dispatch can't see them)."""
    from datetime import timedelta

    from django.utils import timezone

    from server.dispatch.geography import distance_m
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
            to_status="scene_unsafe", occurred_at__gte=since,
            **{f"assignment__incident__{k}": v for k, v in box.items()},
        )
        .exclude(assignment__incident=incident)
        .select_related("assignment__incident")
    )
    for t in unsafe:
        near = t.assignment.incident
        flags.append({
            "kind": "scene_unsafe", "date": t.occurred_at.isoformat(), "note": t.note,
            "distance_m": round(distance_m(incident.latitude, incident.longitude,
                                           near.latitude, near.longitude)),
        })
    emergencies = Emergency.objects.filter(started_at__gte=since, **box).exclude(
        incident=incident
    )
    for e in emergencies:
        flags.append({
            "kind": "emergency", "date": e.started_at.isoformat(), "note": "",
            "distance_m": round(distance_m(incident.latitude, incident.longitude,
                                           e.latitude, e.longitude)),
        })
    return sorted(
        (f for f in flags if f["distance_m"] <= radius_m), key=lambda f: f["date"], reverse=True
    )


def open_emergencies():
    from server.dispatch.models import Emergency

    return Emergency.objects.filter(ended_at__isnull=True).select_related("unit", "incident")


def open_backup_requests():
    from server.dispatch.models import BackupRequest

    return BackupRequest.objects.filter(
        answered_by__isnull=True, assignment__status__in=[
            s for s in ("dispatched", "acknowledged", "en_route", "on_scene")
        ],
    ).select_related("assignment__unit", "incident", "reason")


def open_lapses():
    from server.dispatch.models import CheckInLapse

    return CheckInLapse.objects.filter(cleared_at__isnull=True).select_related(
        "assignment__unit", "assignment__incident"
    )


def safety_board() -> dict:
    """The board's safety panels: open emergencies, backup requests, unanswered check-ins,
    staffing and the program hours."""
    return {
        "emergencies": list(open_emergencies().order_by("started_at")),
        "backup_requests": list(open_backup_requests().order_by("requested_at")),
        "lapses": list(open_lapses().order_by("raised_at")),
        "staffing": staffing_board(),
        "program_hours": program_hours_table(),
    }


def care_alternative(incident: Incident, available_care: list[Unit]) -> dict | None:
    """The CARE team a dispatcher passes over by sending police only to an eligible call:
    the nearest by last position (or the first suggested), and how far it is."""
    from server.dispatch.geography import distance_m

    if not incident.eligible or not available_care:
        return None
    best, metres = available_care[0], None
    if incident.latitude is not None:
        placed = [u for u in available_care if u.last_latitude is not None]
        if placed:
            away = {
                u.pk: distance_m(
                    incident.latitude, incident.longitude, u.last_latitude, u.last_longitude
                )
                for u in placed
            }
            best = min(placed, key=lambda u: away[u.pk])
            metres = away[best.pk]
    return {"unit": best, "distance_km": round(metres / 1000, 1) if metres is not None else None}
