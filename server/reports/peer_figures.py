"""The figures peer programs publish (CAHOOTS, Denver STAR), counted the same way here:
the share of eligible calls CARE responded to, police backup asked for and how long it took to
arrive, people not found, people who declined services, transports — and the eligible calls
that went police only, for supervisors. The peer figures for a range are the public figures'
own (metrics.py), suppressed with them; the board's panel counts the dispatcher's own calls.
"""

from __future__ import annotations

import datetime
import statistics
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from server.care.models import Encounter
from server.dispatch.models import BackupRequest, Incident, ResponseSent, UnitKind
from server.reports.daily import DISPOSITION_FIGURES
from server.reports.metrics import program_metrics

# The same dispositions the public figures count (daily.py).
NOT_FOUND, DECLINED, TRANSPORTED = DISPOSITION_FIGURES


def _bounds(start: datetime.date, end: datetime.date) -> tuple:
    zone = ZoneInfo(settings.TIME_ZONE)
    first = datetime.datetime.combine(start, datetime.time(), tzinfo=zone)
    after = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), zone)
    return first, after


def peer_counts(incidents: QuerySet[Incident]) -> dict:
    """Raw counts for a set of calls (no suppression: the caller decides who may see them)."""
    eligible = incidents.filter(eligible=True)
    reached = eligible.filter(
        assignments__kind=UnitKind.CARE, assignments__on_scene_at__isnull=False
    ).distinct()
    encounters = Encounter.objects.filter(assignment__incident__in=incidents)
    by_disposition = dict(
        encounters.values_list("disposition__code").annotate(n=Count("id")).order_by()
    )
    backups = BackupRequest.objects.filter(incident__in=incidents).select_related("answered_by")
    minutes = [
        (b.answered_by.on_scene_at - b.requested_at).total_seconds() / 60
        for b in backups
        if b.answered_by_id and b.answered_by.on_scene_at
    ]
    return {
        "eligible_calls": eligible.count(),
        "eligible_calls_care_responded": reached.count(),
        "backup_requested": backups.count(),
        "backup_arrived": len(minutes),
        "backup_minutes_median": round(statistics.median(minutes), 1) if minutes else None,
        "person_not_found": by_disposition.get(NOT_FOUND, 0),
        "declined_services": by_disposition.get(DECLINED, 0),
        "transports": by_disposition.get(TRANSPORTED, 0),
    }


# The peer programs' figures as the public answer names them (metrics.shown_figures).
PEER_ANSWER = (
    "eligible_calls",
    "eligible_care_responded",
    "eligible_care_responded_share",
    "backup_requested",
    "backup_to_arrival_calls",
    "median_backup_to_arrival_minutes",
    "person_not_found",
    "declined_services",
    "transports",
)


def peer_figures(*, start: datetime.date, end: datetime.date) -> dict:
    """The peer figures for local days start to end inclusive, suppressed as part of the whole
    range's table (the one suppression every figure goes through: metrics, disclosure.py)."""
    shown = program_metrics(start=start, end=end)
    return {name: shown[name] for name in PEER_ANSWER} | {
        "definitions": {
            key: shown["definitions"][key]
            for key in ("eligible_care_responded", "backup_requested", "suppression")
        }
    }


def dispatcher_outcomes(user) -> dict:
    """The board's panel: the same figures for the calls this dispatcher took, last 30 days."""
    since = datetime.datetime.now(ZoneInfo(settings.TIME_ZONE)) - datetime.timedelta(days=30)
    raw = peer_counts(Incident.objects.filter(created_by=user, received_at__gte=since))
    whole = raw["eligible_calls"]
    # A percentage, as on the public dashboard.
    raw["care_responded_share_of_eligible"] = (
        round(100 * raw["eligible_calls_care_responded"] / whole, 1) if whole else None
    )
    return {"peer_outcomes": raw}


# ---- eligible calls that went police only --------------------------------------------------


def _band(local: datetime.datetime) -> str:
    if 11 <= local.hour < 17:
        return "day (11–17)"
    if 17 <= local.hour < 23:
        return "evening (17–23)"
    return "night (23–11)"


def _reason_of(call: Incident) -> str:
    """The police-only reason's code (never the dispatcher's internal note)."""
    return call.police_only_code_id or "(none given)"  # the FK holds the code itself


def police_only_report(*, start: datetime.date, end: datetime.date) -> dict:
    """Eligible calls sent police only, by reason, shift, dispatcher and week: for coaching."""
    first, after = _bounds(start, end)
    zone = ZoneInfo(settings.TIME_ZONE)
    calls = (
        Incident.objects.filter(
            received_at__gte=first,
            received_at__lt=after,
            eligible=True,
            response=ResponseSent.POLICE_ONLY,
        )
        .select_related("created_by")
        .order_by("received_at")
    )
    tallies: dict[str, dict[str, int]] = {"reason": {}, "shift": {}, "dispatcher": {}, "week": {}}
    for call in calls:
        local = call.received_at.astimezone(zone)
        monday = (local.date() - datetime.timedelta(days=local.weekday())).isoformat()
        for key, value in (
            ("reason", _reason_of(call)),
            ("shift", _band(local)),
            ("dispatcher", call.created_by.username),
            ("week", monday),
        ):
            tallies[key][value] = tallies[key].get(value, 0) + 1
    eligible = Incident.objects.filter(
        received_at__gte=first, received_at__lt=after, eligible=True
    ).aggregate(n=Count("id"), police=Count("id", filter=Q(response=ResponseSent.POLICE_ONLY)))
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "eligible_calls": eligible["n"],
        "police_only": eligible["police"],
        "by": {
            key: sorted(rows.items(), key=lambda r: (-r[1], r[0]))
            if key != "week"
            else sorted(rows.items())
            for key, rows in tallies.items()
        },
    }
