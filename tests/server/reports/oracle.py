"""The figures worked out from the calls one record at a time, in plain Python: the independent
reference the roll-up's figures (server.reports.metrics.raw_figures over daily.range_parts) are
checked against. Only the tests use it."""

from __future__ import annotations

import datetime
import statistics
from collections import Counter

from server.care.models import (
    Encounter,
    NaloxoneAdministration,
    NaloxoneResponse,
    Referral,
    ServiceGiven,
    SurveyQuestion,
    SurveyResponse,
)
from server.dispatch.models import Assignment, BackupRequest, Incident
from tests.conftest import SEATTLE


def _bounds(start: datetime.date, end: datetime.date) -> dict:
    first = datetime.datetime.combine(start, datetime.time(), SEATTLE)
    after = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), SEATTLE)
    return {"gte": first, "lt": after}


def _seconds(took: datetime.timedelta) -> int:
    """Whole seconds, halves up."""
    micro = took.days * 86_400_000_000 + took.seconds * 1_000_000 + took.microseconds
    return (micro + 500_000) // 1_000_000


def raw_from_calls(start: datetime.date, end: datetime.date) -> dict:
    span = _bounds(start, end)
    incidents = list(
        Incident.objects.filter(received_at__gte=span["gte"], received_at__lt=span["lt"])
        .select_related("call_type")
        .order_by()
    )
    ids = {i.pk for i in incidents}
    counts: Counter = Counter()
    for i in incidents:
        counts["calls"] += 1
        counts["eligible_calls"] += i.eligible
        counts["dual_dispatched"] += i.response == "dual"
        police_only = i.eligible and i.response == "police_only"
        counts["eligible_police_only"] += police_only
        if police_only:
            counts[f"eligible_police_only_reasons:{_reason(i)}"] += 1
        counts["resolved_by_phone"] += i.status == "resolved_by_phone"
        counts["referred_to_hotline"] += i.status == "referred_to_hotline"
    assignments = [a for a in Assignment.objects.filter(incident__in=ids)]
    by_call = {i.pk: i for i in incidents}
    reached = {a.incident_id for a in assignments if a.kind == "care" and a.on_scene_at}
    for hour in range(24):
        counts[f"care_responded_by_hour:{hour}"] += 0
    for value, _ in NaloxoneResponse.choices:
        counts[f"naloxone_by_response:{value}"] += 0
    for incident_id in reached:
        call = by_call[incident_id]
        local = call.received_at.astimezone(SEATTLE)
        counts["care_responded"] += 1
        counts[f"care_responded_by_call_type:{call.call_type.code}"] += 1
        counts[f"care_responded_by_area:{call.area or '(outside any area)'}"] += 1
        counts[f"care_responded_by_hour:{local.hour}"] += 1
    counts["eligible_care_responded"] = sum(by_call[i].eligible for i in reached)
    for name in ("care_responded", "police_time_freed_calls"):
        counts[name] += 0
    raw = {"counts": counts, "medians": {}}
    _times(assignments, by_call, raw)
    _backups(ids, raw)
    _care(ids, raw)
    return {**raw, "counts": dict(counts)}


def _reason(incident) -> str:
    return incident.police_only_code_id or ""


def _times(assignments, by_call, raw) -> None:
    counts = raw["counts"]
    arrival, safe_to_clear, on_scene = [], [], []
    care, spd = {}, {}
    for a in assignments:
        if a.kind == "care" and a.on_scene_at:
            arrival.append(_seconds(a.on_scene_at - a.dispatched_at))
            if a.cleared_at:
                on_scene.append(_seconds(a.cleared_at - a.on_scene_at))
                care[a.incident_id] = a
        if a.kind == "spd" and a.scene_safe_at and a.cleared_at:
            safe_to_clear.append(_seconds(a.cleared_at - a.scene_safe_at))
            spd[a.incident_id] = a
    for name, values in (
        ("dispatch_to_arrival", arrival),
        ("scene_safe_to_spd_clear", safe_to_clear),
        ("care_time_on_scene", on_scene),
    ):
        raw["medians"][name] = statistics.median(values) if values else 0
        counts[f"{name}_calls"] = len(values)
    freed = datetime.timedelta(0)
    for incident_id, officers in spd.items():
        team = care.get(incident_id)
        if team and by_call[incident_id].response == "dual":
            freed += max(
                datetime.timedelta(0), team.cleared_at - max(officers.cleared_at, team.on_scene_at)
            )
            counts["police_time_freed_calls"] += 1
    raw["police_time_freed_seconds"] = freed / datetime.timedelta(microseconds=1) / 1_000_000


def _backups(ids, raw) -> None:
    """Police backup asked for on the calls, and minutes from each request to its SPD unit on
    scene."""
    requests = list(BackupRequest.objects.filter(incident__in=ids).select_related("answered_by"))
    raw["counts"]["backup_requested"] = len(requests)
    took = [
        _seconds(r.answered_by.on_scene_at - r.requested_at)
        for r in requests
        if r.answered_by and r.answered_by.on_scene_at
    ]
    raw["medians"]["backup_to_arrival"] = statistics.median(took) if took else 0
    raw["counts"]["backup_to_arrival_calls"] = len(took)


def _care(ids, raw) -> None:
    counts = raw["counts"]
    encounters = list(
        Encounter.objects.filter(assignment__incident__in=ids).select_related("disposition")
    )
    counts["encounters"] = len(encounters)
    ended = Counter(e.disposition.code for e in encounters if e.disposition)
    counts["person_not_found"] = ended["unable-to-locate"]
    counts["declined_services"] = ended["declined-services"]
    counts["transports"] = ended["transported"]
    early = sum(e.before_scene_safe for e in encounters)
    on = {"encounter__assignment__incident__in": ids}
    services = list(ServiceGiven.objects.filter(**on))
    counts["services_given"] = len(services)
    early += sum(s.before_scene_safe for s in services)
    doses = list(NaloxoneAdministration.objects.filter(**on))
    counts["naloxone_administrations"] = len(doses)
    counts["naloxone_ems_called"] = sum(d.ems_called for d in doses)
    for d in doses:
        counts[f"naloxone_by_response:{d.response}"] += 1
    early += sum(d.before_scene_safe for d in doses)
    referrals = list(Referral.objects.filter(**on))
    counts["referrals_made"] = len(referrals)
    counts["referrals_connected"] = sum(r.status == "connected" for r in referrals)
    early += sum(r.before_scene_safe for r in referrals)
    counts["records_before_scene_safe"] = early
    surveys = list(SurveyResponse.objects.filter(consent=True, **on))
    counts["survey_responses"] = len(surveys)
    totals = {}
    keys = SurveyQuestion.objects.filter(active=True).order_by("order", "key")
    for key in keys.values_list("key", flat=True):
        given = [
            s.answers[key]
            for s in surveys
            if isinstance(s.answers.get(key), int) and 1 <= s.answers[key] <= 5
        ]
        counts[f"survey_answers:{key}"] = len(given)
        counts[f"survey_agree:{key}"] = sum(v >= 4 for v in given)
        totals[key] = sum(given)
    raw["survey_totals"] = totals
