"""Reads of units: who is on which unit, which can take a call, the roster."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from server.accounts.models import User
from server.accounts.policies import DISPATCHERS, principal
from server.dispatch.models import (
    Assignment,
    DutyStatus,
    ProgramHours,
    RosterEntry,
    Shift,
    SignOnRequest,
    Unit,
)


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
