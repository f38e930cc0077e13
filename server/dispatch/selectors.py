"""Reads of incidents, units and assignments, by who may see them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from server.accounts.policies import DISPATCHERS, principal
from server.dispatch import policies
from server.dispatch.geography import beat_centres
from server.dispatch.models import (
    OPEN_INCIDENT_STATUSES,
    Assignment,
    AssignmentStatus,
    CallType,
    DutyStatus,
    Incident,
    IncidentStatus,
    ProgramHours,
    RosterEntry,
    ScreeningQuestion,
    Shift,
    SignOnRequest,
    Unit,
)
from server.dispatch.positions import distance_m, eta_minutes, is_fresh

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


def available_units(units: QuerySet[Unit] | None = None) -> list[tuple[Unit, bool]]:
    """Each unit with whether it can take a call now (`is_available`): what the board, the
    suggestions and the API share."""
    busy = set(Assignment.objects.open().values_list("unit_id", flat=True))
    staffed = staffed_unit_ids()
    units = Unit.objects.order_by("kind", "call_sign") if units is None else units
    return [(u, is_available(u, busy=busy, staffed=staffed)) for u in units]


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


@dataclass(frozen=True)
class Candidate:
    unit: Unit
    distance_m: float | None
    eta_minutes: float | None
    basis: str  # "position": its last fresh fix; "beat": its home beat (no fresh fix)


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
        {
            "weekday": h.weekday,
            "day": h.get_weekday_display(),
            "start": h.start.strftime("%H:%M"),
            "end": h.end.strftime("%H:%M"),
        }
        for h in ProgramHours.objects.all()
    ]


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


def open_emergencies():
    from server.dispatch.models import Emergency

    return Emergency.objects.filter(ended_at__isnull=True).select_related("unit", "incident")


def open_backup_requests():
    from server.dispatch.models import BackupRequest

    return BackupRequest.objects.filter(
        answered_by__isnull=True,
        assignment__status__in=[
            AssignmentStatus.DISPATCHED,
            AssignmentStatus.ACKNOWLEDGED,
            AssignmentStatus.EN_ROUTE,
            AssignmentStatus.ON_SCENE,
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


def visible_roster(user, day) -> QuerySet[RosterEntry]:
    """The roster for a day: all of it for dispatch and supervisors, a responder their own."""
    entries = RosterEntry.objects.select_related("unit", "user").filter(
        first_day__lte=day, last_day__gte=day, cancelled_at__isnull=True
    )
    if principal(user) in DISPATCHERS:
        return entries
    return entries.filter(user_id=user.pk)


def visible_sign_on_requests(user) -> QuerySet[SignOnRequest]:
    requests = SignOnRequest.objects.select_related("unit", "user")
    if principal(user) in DISPATCHERS:
        return requests
    return requests.filter(user_id=user.pk)
