"""Reads of responder safety: what is open on the board's safety panels."""

from __future__ import annotations

from server.dispatch.models import AssignmentStatus, BackupRequest, CheckInLapse, Emergency
from server.dispatch.units.selectors import program_hours_table, staffing_board


def open_emergencies():
    return Emergency.objects.filter(ended_at__isnull=True).select_related("unit", "incident")


def open_backup_requests():
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
