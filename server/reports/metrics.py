"""The program's public figures. Aggregates only; any count under 11 is suppressed, and so is any
figure derived from fewer than 11 calls or people (a median of three calls reveals those calls).

Counts in a breakdown are suppressed in pairs: when exactly one cell is under 11, the next
smallest cell is suppressed too, so the hidden cell can't be found by subtracting from the total.

`program_metrics` sums the range's days from the daily roll-up (daily.py) and computes the days
that are not rolled up (today, days changed since) from the calls; `live_metrics` computes the
whole range from the calls and is the reference the roll-up is checked against. Both count every
time to the nearest second, so their medians agree exactly.
"""

from __future__ import annotations

import datetime
import json
import statistics
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import ExtractHour

from server.care.models import (
    Encounter,
    NaloxoneAdministration,
    NaloxoneResponse,
    Referral,
    ReferralStatus,
    ServiceGiven,
    SurveyQuestion,
    SurveyResponse,
)
from server.dispatch.models import Assignment, Incident, ResponseSent, UnitKind
from server.reports.daily import (
    CALL_TOTALS,
    MEASURES,
    Parts,
    call_total_counts,
    range_parts,
    survey_tallies,
    whole_seconds,
)

SMALL_CELL = 11
SUPPRESSED = "<11"
# A count of 11 or more hidden only because showing it would reveal a small one by subtraction.
WITHHELD = "withheld"
# (whole, part) pairs of figures shown side by side: part is withheld when whole - part is small.
NESTED = [
    ("calls", "eligible_calls"),
    ("eligible_calls", "eligible_police_only"),
    ("dual_dispatched", "care_responded"),
    ("naloxone_administrations", "naloxone_ems_called"),
    ("referrals_made", "referrals_connected"),
]

# The figures are worked out per day: an open page must not take a range that keeps a worker busy
# for minutes (0001-01-01 to 9999-12-31). Five years covers any report the program files.
LONGEST_RANGE_DAYS = 5 * 366

DEFINITIONS = {
    "care_responded": "Calls received in the date range on which a CARE team arrived on scene.",
    "dispatch_to_arrival": "Minutes from a CARE team being dispatched to it arriving on scene.",
    "scene_safe_to_spd_clear": "Minutes from the SPD unit marking the scene safe to the SPD unit "
    "clearing the call.",
    "care_time_on_scene": "Minutes from a CARE team arriving on scene to it clearing the call.",
    "medians": "Each median is taken over the calls' times counted to the nearest second.",
    "police_time_freed": "For each dual-dispatched call whose SPD unit marked the scene safe: the "
    "time from the SPD unit clearing to the CARE team clearing (zero when CARE cleared first). "
    "It is the on-scene time the officers handed over to CARE after the scene was safe, which "
    "they would otherwise have stayed for. Summed over calls, in hours.",
    "referrals_connected": "Referrals made in the field that a coordinator has marked connected.",
    "client_experience": "Answers (1 to 5) of people who consented to the survey; 'agree' is 4 or "
    "5.",
    "eligible_police_only": "Calls that passed screening for CARE but were sent police only, and "
    "the reason the dispatcher gave.",
    "suppression": "Any count from 1 to 10 is shown as <11. Medians, averages, shares and totals "
    "computed from fewer than 11 calls or answers are shown as <11 too. A larger count is shown "
    "as 'withheld' where it and a figure beside it would give a count under 11 by subtraction.",
}


def suppress(count: int) -> int | str:
    return SUPPRESSED if 0 < count < SMALL_CELL else count


def _enough(n: int) -> bool:
    return n >= SMALL_CELL


def _breakdown(rows: list[tuple[str, int]], key: str) -> list[dict]:
    """Suppressed counts for one breakdown, with a second cell hidden when only one is small."""
    small = [i for i, (_, n) in enumerate(rows) if 0 < n < SMALL_CELL]
    hidden = set(small)
    if len(small) == 1:
        shown = sorted((n, i) for i, (_, n) in enumerate(rows) if n >= SMALL_CELL)
        if shown:
            hidden.add(shown[0][1])
    return [
        {key: label, "count": _hidden(n) if i in hidden else n} for i, (label, n) in enumerate(rows)
    ]


def _hidden(count: int) -> str:
    return SUPPRESSED if count < SMALL_CELL else WITHHELD


def _guard_nested(raw: dict[str, int]) -> dict[str, int | str]:
    """Suppressed counts, with a part withheld when its whole minus it would be small."""
    shown: dict[str, int | str] = {k: suppress(v) for k, v in raw.items()}
    for whole, part in NESTED:
        gap = raw[whole] - raw[part]
        if isinstance(shown[whole], int) and isinstance(shown[part], int) and 0 < gap < SMALL_CELL:
            shown[part] = WITHHELD
    return shown


def _local_bounds(start: datetime.date, end: datetime.date) -> tuple:
    """Local midnights, so the range is a plain indexed comparison on received_at."""
    zone = ZoneInfo(settings.TIME_ZONE)
    first = datetime.datetime.combine(start, datetime.time(), tzinfo=zone)
    after = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), zone)
    return first, after


def program_metrics(*, start: datetime.date, end: datetime.date) -> dict:
    """The figures for local days start to end inclusive, from the roll-up where it is current."""
    return figures_from_parts(start, end, range_parts(start, end))


def figures_from_parts(start: datetime.date, end: datetime.date, parts: Parts) -> dict:
    """The suppressed figures from the range's summed parts; the same answer as live_metrics."""
    figures = parts.figures
    totals = {name: figures[(name, "")] for name in CALL_TOTALS + CARE_TOTALS}
    reasons = sorted(
        ((item, n) for (figure, item), n in figures.items() if figure == "police_only_reason"),
        key=lambda row: (-row[1], row[0]),
    )
    responded = _responded_from(
        [
            (item, n)
            for (figure, item), n in figures.items()
            if figure == "care_responded_call_type"
        ],
        [(item, n) for (figure, item), n in figures.items() if figure == "care_responded_area"],
        [
            (int(item), n)
            for (figure, item), n in figures.items()
            if figure == "care_responded_hour"
        ],
    )
    totals["care_responded"] = responded.pop("total")
    raw = {name: _median_of(parts.durations, name) for name in MEASURES}
    raw["police_time_freed"] = (
        figures[("police_time_freed_us", "")] / 1_000_000,
        figures[("police_time_freed_calls", "")],
    )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        **_guard_nested(totals),
        "referrals_connected_share": _share(
            totals["referrals_connected"], totals["referrals_made"]
        ),
        "eligible_police_only_reasons": _breakdown(
            [(reason or "(none given)", n) for reason, n in reasons], "reason"
        ),
        **responded,
        **_durations_from(raw),
        "naloxone_by_response": _naloxone_by_response(
            {item: n for (figure, item), n in figures.items() if figure == "naloxone_response"}
        ),
        "client_experience": _experience_from(figures[("survey_responses", "")], figures),
        "definitions": DEFINITIONS,
    }


CARE_TOTALS = (
    "encounters",
    "services_given",
    "naloxone_administrations",
    "naloxone_ems_called",
    "referrals_made",
    "referrals_connected",
    "records_before_scene_safe",
)


def _median_of(durations: dict, measure: str) -> tuple[float, int]:
    """The median (percentile_cont 0.5) of whole-second times kept as counts per second."""
    counts = sorted((s, n) for (m, s), n in durations.items() if m == measure and n)
    total = sum(n for _, n in counts)
    if not total:
        return 0, 0
    low_rank, high_rank = (total - 1) // 2, total // 2
    low = high = None
    seen = 0
    for seconds, n in counts:
        seen += n
        if low is None and seen > low_rank:
            low = seconds
        if seen > high_rank:
            high = seconds
            break
    return (low + high) / 2, total


def live_metrics(*, start: datetime.date, end: datetime.date) -> dict:
    """The same figures computed from the calls alone, whatever the roll-up holds."""
    first, after = _local_bounds(start, end)
    incidents = Incident.objects.filter(received_at__gte=first, received_at__lt=after)
    totals = _call_totals(incidents)
    responded = _care_responded(first, after)
    totals["care_responded"] = responded.pop("total")
    if connection.vendor == "postgresql":
        care, naloxone_rows, answers = _care_records_postgres(first, after)
    else:
        care, naloxone_rows = _care_records(first, after), _naloxone_rows(first, after)
        answers = _survey_answers(first, after)
    reasons = _police_only_reasons(incidents)
    durations = _durations(first, after)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        **_guard_nested(totals | care),
        "referrals_connected_share": _share(care["referrals_connected"], care["referrals_made"]),
        "eligible_police_only_reasons": reasons,
        **responded,
        **durations,
        "naloxone_by_response": _naloxone_by_response(naloxone_rows),
        "client_experience": _client_experience(answers),
        "definitions": DEFINITIONS,
    }


def _share(part: int, whole: int) -> float | str:
    if not whole:
        return 0.0
    if not _enough(whole) or (0 < part < SMALL_CELL) or (0 < whole - part < SMALL_CELL):
        return SUPPRESSED
    return round(100 * part / whole, 1)


def _call_totals(incidents) -> dict[str, int]:
    return incidents.aggregate(**call_total_counts())


def _care_records(first, after) -> dict[str, int]:
    in_range = Q(
        encounter__assignment__incident__received_at__gte=first,
        encounter__assignment__incident__received_at__lt=after,
    )
    encounter_range = Q(
        assignment__incident__received_at__gte=first, assignment__incident__received_at__lt=after
    )
    encounters = Encounter.objects.filter(encounter_range).aggregate(
        encounters=Count("id"), before=Count("id", filter=Q(before_scene_safe=True))
    )
    services = ServiceGiven.objects.filter(in_range).aggregate(
        n=Count("id"), before=Count("id", filter=Q(before_scene_safe=True))
    )
    naloxone = NaloxoneAdministration.objects.filter(in_range).aggregate(
        n=Count("id"),
        before=Count("id", filter=Q(before_scene_safe=True)),
        ems=Count("id", filter=Q(ems_called=True)),
    )
    referrals = Referral.objects.filter(in_range).aggregate(
        n=Count("id"),
        before=Count("id", filter=Q(before_scene_safe=True)),
        connected=Count("id", filter=Q(status=ReferralStatus.CONNECTED)),
    )
    return {
        "encounters": encounters["encounters"],
        "services_given": services["n"],
        "naloxone_administrations": naloxone["n"],
        "naloxone_ems_called": naloxone["ems"],
        "referrals_made": referrals["n"],
        "referrals_connected": referrals["connected"],
        "records_before_scene_safe": encounters["before"]
        + services["before"]
        + naloxone["before"]
        + referrals["before"],
    }


# The calls' encounters are found once and kept (MATERIALIZED), so PostgreSQL joins the incident
# and assignment tables one time instead of once per kind of record.
_PG_CARE_RECORDS = """
WITH enc AS MATERIALIZED (
  SELECT e.id, e.before_scene_safe
  FROM {encounter} e
  JOIN {assignment} a ON a.id = e.assignment_id
  JOIN {incident} i ON i.id = a.incident_id
  WHERE i.received_at >= %(first)s AND i.received_at < %(after)s
)
SELECT 'encounter', '', count(*), count(*) FILTER (WHERE before_scene_safe), 0 FROM enc
UNION ALL
SELECT 'service', '', count(*), count(*) FILTER (WHERE s.before_scene_safe), 0
FROM {service} s JOIN enc ON enc.id = s.encounter_id
UNION ALL
SELECT 'naloxone', n.response, count(*), count(*) FILTER (WHERE n.before_scene_safe),
       count(*) FILTER (WHERE n.ems_called)
FROM {naloxone} n JOIN enc ON enc.id = n.encounter_id GROUP BY n.response
UNION ALL
SELECT 'referral', '', count(*), count(*) FILTER (WHERE r.before_scene_safe),
       count(*) FILTER (WHERE r.status = %(connected)s)
FROM {referral} r JOIN enc ON enc.id = r.encounter_id
UNION ALL
SELECT 'survey', s.answers::text, 1, 0, 0
FROM {survey} s JOIN enc ON enc.id = s.encounter_id WHERE s.consent
"""


def _care_records_postgres(first, after) -> tuple[dict[str, int], dict[str, int], list]:
    """The same figures as _care_records, _naloxone_rows and _survey_answers, in one statement."""
    tables = {
        "encounter": Encounter._meta.db_table,
        "assignment": Assignment._meta.db_table,
        "incident": Incident._meta.db_table,
        "service": ServiceGiven._meta.db_table,
        "naloxone": NaloxoneAdministration._meta.db_table,
        "referral": Referral._meta.db_table,
        "survey": SurveyResponse._meta.db_table,
    }
    bounds = {"first": first, "after": after, "connected": ReferralStatus.CONNECTED.value}
    with connection.cursor() as cursor:
        cursor.execute(_PG_CARE_RECORDS.format(**tables), bounds)
        rows = cursor.fetchall()
    sums: dict[str, list[int]] = {
        k: [0, 0, 0] for k in ("encounter", "service", "naloxone", "referral")
    }
    naloxone_rows: dict[str, int] = {}
    answers = [json.loads(key) for kind, key, *_ in rows if kind == "survey"]
    rows = [row for row in rows if row[0] != "survey"]
    for kind, key, n, before, extra in rows:
        sums[kind] = [sums[kind][0] + n, sums[kind][1] + before, sums[kind][2] + extra]
        if kind == "naloxone":
            naloxone_rows[key] = n
    care = {
        "encounters": sums["encounter"][0],
        "services_given": sums["service"][0],
        "naloxone_administrations": sums["naloxone"][0],
        "naloxone_ems_called": sums["naloxone"][2],
        "referrals_made": sums["referral"][0],
        "referrals_connected": sums["referral"][2],
        "records_before_scene_safe": sum(v[1] for v in sums.values()),
    }
    return care, naloxone_rows, answers


def _police_only_reasons(incidents) -> list[dict]:
    rows = (
        incidents.filter(eligible=True, response=ResponseSent.POLICE_ONLY)
        .values("police_only_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "police_only_reason")
    )
    return _breakdown([(r["police_only_reason"] or "(none given)", r["n"]) for r in rows], "reason")


def _care_responded(first, after) -> dict:
    """Calls a CARE team reached, in one grouping by (call type, area, hour) summed three ways."""
    groups = (
        Assignment.objects.filter(
            kind=UnitKind.CARE,
            on_scene_at__isnull=False,
            incident__received_at__gte=first,
            incident__received_at__lt=after,
        )
        .annotate(hour=ExtractHour("incident__received_at"))
        .values_list("incident__call_type__code", "incident__area", "hour")
        .annotate(n=Count("incident", distinct=True))
        .order_by()
    )
    groups = list(groups)
    return _responded_from(
        [(call_type, n) for call_type, _, _, n in groups],
        [(area, n) for _, area, _, n in groups],
        [(hour, n) for _, _, hour, n in groups],
    )


def _responded_from(types: list, areas: list, hours: list) -> dict:
    """The three breakdowns of calls CARE responded to, from (label, count) pairs to sum."""
    by_type: dict[str, int] = {}
    by_area: dict[str, int] = {}
    by_hour = dict.fromkeys(range(24), 0)
    for call_type, n in types:
        by_type[call_type] = by_type.get(call_type, 0) + n
    for area, n in areas:
        area = area or "(outside any area)"
        by_area[area] = by_area.get(area, 0) + n
    for hour, n in hours:
        by_hour[hour] += n

    def ranked(counts: dict[str, int]) -> list[tuple[str, int]]:
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    return {
        "total": sum(by_hour.values()),
        "care_responded_by_call_type": _breakdown(ranked(by_type), "call_type"),
        "care_responded_by_area": _breakdown(ranked(by_area), "area"),
        "care_responded_by_hour": _breakdown(list(by_hour.items()), "hour"),
    }


def _naloxone_rows(first, after) -> dict[str, int]:
    return dict(
        NaloxoneAdministration.objects.filter(
            encounter__assignment__incident__received_at__gte=first,
            encounter__assignment__incident__received_at__lt=after,
        )
        .values_list("response")
        .annotate(n=Count("id"))
        .order_by()
    )


def _naloxone_by_response(rows: dict[str, int]) -> list[dict]:
    return _breakdown(
        [(label, rows.get(value, 0)) for value, label in NaloxoneResponse.choices], "response"
    )


def _survey_answers(first, after) -> list:
    return list(
        SurveyResponse.objects.filter(
            consent=True,
            encounter__assignment__incident__received_at__gte=first,
            encounter__assignment__incident__received_at__lt=after,
        ).values_list("answers", flat=True)
    )


def _client_experience(answers: list) -> dict:
    return _experience_from(len(answers), survey_tallies(answers))


def _experience_from(people: int, tallies: dict) -> dict:
    """The active questions' figures from per-question answer counts, sums and agreements."""
    questions = []
    for question in SurveyQuestion.objects.filter(active=True).order_by("order", "key"):
        given = tallies.get(("survey_answers", question.key), 0)
        total = tallies.get(("survey_total", question.key), 0)
        agree = tallies.get(("survey_agree", question.key), 0)
        questions.append(
            {
                "key": question.key,
                "question": question.text,
                "answers": suppress(given),
                # Sum over count is the mean of whole answers, rounded once, as fmean does.
                "average": round(total / given, 2)
                if _enough(given)
                else (SUPPRESSED if given else None),
                "agree_share": _share(agree, given),
            }
        )
    return {"responses": suppress(people), "questions": questions}


# ---- times -------------------------------------------------------------------------------------


def _durations(first, after) -> dict:
    """The three median times and police time freed, computed in the database on PostgreSQL."""
    if connection.vendor == "postgresql":
        return _durations_from(_durations_postgres(first, after))
    return _durations_from(_durations_python(first, after))


def _durations_from(raw: dict) -> dict:
    """The shown times from (median seconds, calls) and (seconds freed, calls)."""
    figures = {}
    for name in ("dispatch_to_arrival", "scene_safe_to_spd_clear", "care_time_on_scene"):
        median, n = raw[name]
        figures[f"median_{name}_minutes"] = (
            round(median / 60, 1) if _enough(n) else (SUPPRESSED if n else None)
        )
        figures[f"{name}_calls"] = suppress(n)
    freed, n = raw["police_time_freed"]
    figures["police_time_freed_hours"] = (
        round(freed / 3600, 1) if _enough(n) else (SUPPRESSED if n else 0.0)
    )
    figures["police_time_freed_calls"] = suppress(n)
    return figures


_PG_MEDIANS = """
SELECT
  percentile_cont(0.5) WITHIN GROUP (
    ORDER BY floor(extract(epoch FROM a.on_scene_at - a.dispatched_at) + 0.5))
    FILTER (WHERE a.kind = 'care' AND a.on_scene_at IS NOT NULL),
  count(*) FILTER (WHERE a.kind = 'care' AND a.on_scene_at IS NOT NULL),
  percentile_cont(0.5) WITHIN GROUP (
    ORDER BY floor(extract(epoch FROM a.cleared_at - a.scene_safe_at) + 0.5))
    FILTER (WHERE a.kind = 'spd' AND a.scene_safe_at IS NOT NULL AND a.cleared_at IS NOT NULL),
  count(*) FILTER (WHERE a.kind = 'spd' AND a.scene_safe_at IS NOT NULL
                   AND a.cleared_at IS NOT NULL),
  percentile_cont(0.5) WITHIN GROUP (
    ORDER BY floor(extract(epoch FROM a.cleared_at - a.on_scene_at) + 0.5))
    FILTER (WHERE a.kind = 'care' AND a.on_scene_at IS NOT NULL AND a.cleared_at IS NOT NULL),
  count(*) FILTER (WHERE a.kind = 'care' AND a.on_scene_at IS NOT NULL
                   AND a.cleared_at IS NOT NULL)
FROM {assignment} a JOIN {incident} i ON i.id = a.incident_id
WHERE i.received_at >= %(first)s AND i.received_at < %(after)s
"""

_PG_FREED = """
SELECT coalesce(sum(greatest(0, extract(epoch FROM
         care.cleared_at - greatest(spd.cleared_at, care.on_scene_at)))), 0),
       count(*)
FROM {incident} i
JOIN {assignment} spd ON spd.incident_id = i.id AND spd.kind = 'spd'
JOIN {assignment} care ON care.incident_id = i.id AND care.kind = 'care'
WHERE i.received_at >= %(first)s AND i.received_at < %(after)s AND i.response = 'dual'
  AND spd.scene_safe_at IS NOT NULL AND spd.cleared_at IS NOT NULL
  AND care.on_scene_at IS NOT NULL AND care.cleared_at IS NOT NULL
"""


def _durations_postgres(first, after) -> dict:
    tables = {"incident": Incident._meta.db_table, "assignment": Assignment._meta.db_table}
    bounds = {"first": first, "after": after}
    with connection.cursor() as cursor:
        cursor.execute(_PG_MEDIANS.format(**tables), bounds)
        row = cursor.fetchone()
        cursor.execute(_PG_FREED.format(**tables), bounds)
        row += cursor.fetchone()
    return {
        "dispatch_to_arrival": (row[0] or 0, row[1]),
        "scene_safe_to_spd_clear": (row[2] or 0, row[3]),
        "care_time_on_scene": (row[4] or 0, row[5]),
        "police_time_freed": (float(row[6] or 0), row[7]),
    }


def _durations_python(first, after) -> dict:
    """The same figures for SQLite (no percentile function): one query, summed here."""
    rows = Assignment.objects.filter(
        incident__received_at__gte=first, incident__received_at__lt=after
    ).values_list(
        "incident_id", "kind", "dispatched_at", "on_scene_at", "scene_safe_at", "cleared_at"
    )
    arrival, spd_clear, on_scene = [], [], []
    care_by_call, spd_by_call = {}, {}
    for incident_id, kind, dispatched, arrived, safe, cleared in rows:
        if kind == UnitKind.CARE and arrived:
            arrival.append(whole_seconds(arrived - dispatched))
            if cleared:
                on_scene.append(whole_seconds(cleared - arrived))
                care_by_call[incident_id] = (arrived, cleared)
        elif kind == UnitKind.SPD and safe and cleared:
            spd_clear.append(whole_seconds(cleared - safe))
            spd_by_call[incident_id] = cleared
    freed, calls = 0.0, 0
    for incident_id, spd_cleared in spd_by_call.items():
        if incident_id in care_by_call:
            arrived, cleared = care_by_call[incident_id]
            freed += max(0.0, (cleared - max(spd_cleared, arrived)).total_seconds())
            calls += 1

    def median(values: list[float]) -> tuple[float, int]:
        return (statistics.median(values) if values else 0, len(values))

    return {
        "dispatch_to_arrival": median(arrival),
        "scene_safe_to_spd_clear": median(spd_clear),
        "care_time_on_scene": median(on_scene),
        "police_time_freed": (freed, calls),
    }
