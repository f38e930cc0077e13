"""The program's figures as summable parts per local day: computed from the calls, stored for closed
days (the roll-up) and read back, so any date range is the sum of stored days plus the days that
still change (today, and any day changed since its roll-up), computed live.

Parts are unsuppressed counts and sums only (a median is kept as counts per whole second), so the
sum over days is exact; metrics.py suppresses the summed figures.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from server.care.models import (
    Disposition,
    Encounter,
    NaloxoneAdministration,
    Referral,
    ReferralStatus,
    ServiceGiven,
    SurveyResponse,
)
from server.dispatch.models import (
    Assignment,
    BackupRequest,
    CallType,
    Incident,
    IncidentStatus,
    ResponseSent,
    UnitKind,
)
from server.reports.models import ChangedDay, DailyDuration, DailyFigure, RolledUpDay

MEASURES = (
    "dispatch_to_arrival",
    "scene_safe_to_spd_clear",
    "care_time_on_scene",
    # From a CARE team asking police to come back to the SPD unit sent arriving on scene.
    "backup_to_arrival",
)
CALL_TOTALS = (
    "calls",
    "eligible_calls",
    "dual_dispatched",
    "eligible_police_only",
    "resolved_by_phone",
    "referred_to_hotline",
)
# The encounter dispositions peer programs publish (CAHOOTS, Denver STAR), by the figure's name.
DISPOSITION_FIGURES = {
    "unable-to-locate": "person_not_found",
    "declined-services": "declined_services",
    "transported": "transports",
}
# Days rolled up in one transaction: a month of a big city's calls is a few hundred thousand rows.
CHUNK_DAYS = 31


@dataclass
class Parts:
    """figures: (figure, item) -> value; durations: (measure, whole seconds) -> calls."""

    figures: Counter = field(default_factory=Counter)
    durations: Counter = field(default_factory=Counter)

    def add(self, other: Parts) -> None:
        self.figures.update(other.figures)
        self.durations.update(other.durations)


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def whole_seconds(took: datetime.timedelta) -> int:
    """To the nearest second, halves up: the same rounding as floor(x + 0.5) in the database."""
    microseconds = took // datetime.timedelta(microseconds=1)
    return (microseconds + 500_000) // 1_000_000


def runs(days: Iterable[datetime.date]) -> list[tuple[datetime.date, datetime.date]]:
    """Consecutive days as (first, last) pairs."""
    found: list[list[datetime.date]] = []
    for day in sorted(set(days)):
        if found and found[-1][1] + datetime.timedelta(days=1) == day:
            found[-1][1] = day
        else:
            found.append([day, day])
    return [(first, last) for first, last in found]


def bounds(first: datetime.date, last: datetime.date) -> tuple:
    """Local midnights starting first and ending last (None after the last representable day)."""
    here = zone()
    begin = datetime.datetime.combine(first, datetime.time(), tzinfo=here)
    if last >= datetime.date.max:
        return begin, None
    return begin, datetime.datetime.combine(
        last + datetime.timedelta(days=1), datetime.time(), here
    )


def _received_on(spans: list[tuple[datetime.date, datetime.date]], path: str) -> Q:
    """Calls received on any of the spans' days, as local-midnight bounds (indexed range scans)."""
    match = Q()
    for first, last in spans:
        begin, end = bounds(first, last)
        within = Q(**{f"{path}__gte": begin})
        match |= within & Q(**{f"{path}__lt": end}) if end else within
    return match


# ---- from the calls ----------------------------------------------------------------------------


def source_parts(days: Iterable[datetime.date]) -> dict[datetime.date, Parts]:
    """Each day's parts, computed from the calls received on it."""
    return spans_parts(runs(days))


def spans_parts(spans: list[tuple[datetime.date, datetime.date]]) -> dict[datetime.date, Parts]:
    """Each day's parts for the days of the (first, last) spans, from the calls."""
    found: dict[datetime.date, Parts] = {}
    if not spans:
        return found

    def on(day: datetime.date) -> Parts:
        return found.setdefault(day, Parts())

    if connection.vendor == "postgresql":
        _calls_postgres(spans, on)
    else:
        _call_totals(spans, on)
        _care_responded(spans, on)
        _care_records(spans, on)
        _durations_python(spans, on)
        _backups(spans, on)
    _survey_answers(spans, on)
    return found


def call_total_counts() -> dict[str, Count]:
    """The calls' totals as counts over a set of incidents (grouped per day here)."""
    return {
        "calls": Count("id"),
        "eligible_calls": Count("id", filter=Q(eligible=True)),
        "dual_dispatched": Count("id", filter=Q(response=ResponseSent.DUAL)),
        "eligible_police_only": Count(
            "id", filter=Q(eligible=True, response=ResponseSent.POLICE_ONLY)
        ),
        "resolved_by_phone": Count("id", filter=Q(status=IncidentStatus.RESOLVED_BY_PHONE)),
        "referred_to_hotline": Count("id", filter=Q(status=IncidentStatus.REFERRED_TO_HOTLINE)),
    }


def _call_totals(spans, on) -> None:
    rows = (
        Incident.objects.filter(_received_on(spans, "received_at"))
        .annotate(day=TruncDate("received_at", tzinfo=zone()))
        .values_list("day", "police_only_code")
        .annotate(**call_total_counts())
        .order_by()
    )
    for day, reason, *counts in rows:
        parts = on(day).figures
        for name, n in zip(CALL_TOTALS, counts, strict=True):
            parts[(name, "")] += n
        if counts[3]:
            parts[("police_only_code", reason or "")] += counts[3]


def _care_responded(spans, on) -> None:
    """Calls a CARE team reached, by call type, area and hour (each call is on one day only, so
    the days' counts add up to the range's)."""
    rows = (
        Assignment.objects.filter(
            _received_on(spans, "incident__received_at"),
            kind=UnitKind.CARE,
            on_scene_at__isnull=False,
        )
        .annotate(
            day=TruncDate("incident__received_at", tzinfo=zone()),
            hour=ExtractHour("incident__received_at", tzinfo=zone()),
        )
        .values_list("day", "incident__call_type__code", "incident__area", "hour")
        .annotate(
            n=Count("incident", distinct=True),
            eligible=Count("incident", distinct=True, filter=Q(incident__eligible=True)),
        )
        .order_by()
    )
    for day, call_type, area, hour, n, eligible in rows:
        parts = on(day).figures
        parts[("care_responded_call_type", call_type)] += n
        parts[("care_responded_area", area or "")] += n
        parts[("care_responded_hour", str(hour))] += n
        parts[("eligible_care_responded", "")] += eligible


def _care_records(spans, on) -> None:
    path = "encounter__assignment__incident__received_at"
    day = TruncDate(path, tzinfo=zone())
    before = Count("id", filter=Q(before_scene_safe=True))
    by_disposition = {
        name: Count("id", filter=Q(disposition__code=code))
        for code, name in DISPOSITION_FIGURES.items()
    }
    encounters = (
        Encounter.objects.filter(_received_on(spans, "assignment__incident__received_at"))
        .annotate(day=TruncDate("assignment__incident__received_at", tzinfo=zone()))
        .values_list("day")
        .annotate(n=Count("id"), before=before, **by_disposition)
        .order_by()
    )
    for when, n, early, *ended in encounters:
        on(when).figures.update({("encounters", ""): n, ("records_before_scene_safe", ""): early})
        on(when).figures.update(
            {(name, ""): k for name, k in zip(by_disposition, ended, strict=True)}
        )
    services = (
        ServiceGiven.objects.filter(_received_on(spans, path))
        .annotate(day=day)
        .values_list("day")
        .annotate(n=Count("id"), before=before)
        .order_by()
    )
    for when, n, early in services:
        on(when).figures.update(
            {("services_given", ""): n, ("records_before_scene_safe", ""): early}
        )
    naloxone = (
        NaloxoneAdministration.objects.filter(_received_on(spans, path))
        .annotate(day=day)
        .values_list("day", "response")
        .annotate(n=Count("id"), before=before, ems=Count("id", filter=Q(ems_called=True)))
        .order_by()
    )
    for when, response, n, early, ems in naloxone:
        on(when).figures.update(
            {
                ("naloxone_administrations", ""): n,
                ("naloxone_response", response): n,
                ("naloxone_ems_called", ""): ems,
                ("records_before_scene_safe", ""): early,
            }
        )
    referrals = (
        Referral.objects.filter(_received_on(spans, path))
        .annotate(day=day)
        .values_list("day")
        .annotate(
            n=Count("id"),
            before=before,
            connected=Count("id", filter=Q(status=ReferralStatus.CONNECTED)),
        )
        .order_by()
    )
    for when, n, early, connected in referrals:
        on(when).figures.update(
            {
                ("referrals_made", ""): n,
                ("referrals_connected", ""): connected,
                ("records_before_scene_safe", ""): early,
            }
        )


def survey_tallies(answers: list) -> Counter:
    """Per question: answers given (1 to 5), their sum, and how many agreed (4 or 5)."""
    tallies: Counter = Counter()
    for answer in answers:
        for key, value in (answer or {}).items():
            if isinstance(value, int) and 1 <= value <= 5:
                tallies[("survey_answers", key)] += 1
                tallies[("survey_total", key)] += value
                tallies[("survey_agree", key)] += value >= 4
    return tallies


def _survey_answers(spans, on) -> None:
    rows = (
        SurveyResponse.objects.filter(
            _received_on(spans, "encounter__assignment__incident__received_at"), consent=True
        )
        .annotate(day=TruncDate("encounter__assignment__incident__received_at", tzinfo=zone()))
        .values_list("day", "answers")
    )
    by_day: dict[datetime.date, list] = {}
    for day, answers in rows:
        by_day.setdefault(day, []).append(answers)
    for day, answers in by_day.items():
        parts = on(day).figures
        parts[("survey_responses", "")] += len(answers)
        parts.update(survey_tallies(answers))


# Every figure but the survey answers in one statement: the spans' calls, their assignments and
# encounters are found once (MATERIALIZED) and each count reads only them. As separate statements,
# each found the day's calls again through the index. The LATERAL ... OFFSET 0 subqueries keep
# PostgreSQL looking records up by their indexed keys instead of hash-joining whole tables.
# Rows: (kind, day, label, label, six numbers).
_PG_CALLS = """
WITH inc AS MATERIALIZED (
  SELECT i.id, i.eligible, i.response, i.status, i.police_only_code, i.area, t.code AS call_type,
         (i.received_at AT TIME ZONE %(zone)s) AS local
  FROM {incident} i JOIN {call_type} t ON t.id = i.call_type_id
  WHERE {ranges}
),
asg AS MATERIALIZED (
  SELECT a.incident_id, a.id, a.kind, a.dispatched_at, a.on_scene_at, a.scene_safe_at,
         a.cleared_at, inc.local::date AS day, inc.response
  FROM {assignment} a JOIN inc ON inc.id = a.incident_id
),
enc AS MATERIALIZED (
  SELECT e.id, e.before_scene_safe, e.disposition, asg.day
  FROM asg CROSS JOIN LATERAL (
    SELECT x.id, x.before_scene_safe, d.code AS disposition
    FROM {encounter} x LEFT JOIN {disposition} d ON d.id = x.disposition_id
    WHERE x.assignment_id = asg.id OFFSET 0
  ) e
)
SELECT 'calls', local::date, coalesce(police_only_code, '')::text, '', count(*),
       count(*) FILTER (WHERE eligible), count(*) FILTER (WHERE response = 'dual'),
       count(*) FILTER (WHERE eligible AND response = 'police_only'),
       count(*) FILTER (WHERE status = %(phone)s), count(*) FILTER (WHERE status = %(hotline)s)
FROM inc GROUP BY 2, 3
UNION ALL
SELECT 'responded', inc.local::date, inc.call_type::text, inc.area::text,
       extract(hour FROM inc.local)::bigint, count(DISTINCT inc.id),
       count(DISTINCT inc.id) FILTER (WHERE inc.eligible), 0, 0, 0
FROM asg JOIN inc ON inc.id = asg.incident_id
WHERE asg.kind = 'care' AND asg.on_scene_at IS NOT NULL GROUP BY 2, 3, 4, 5
UNION ALL
SELECT 'duration', asg.day, v.measure, '', floor(extract(epoch FROM v.took) + 0.5)::bigint,
       count(*), 0, 0, 0, 0
FROM asg CROSS JOIN LATERAL (VALUES
  ('dispatch_to_arrival', CASE WHEN asg.kind = 'care' THEN asg.on_scene_at - asg.dispatched_at END),
  ('scene_safe_to_spd_clear',
   CASE WHEN asg.kind = 'spd' THEN asg.cleared_at - asg.scene_safe_at END),
  ('care_time_on_scene', CASE WHEN asg.kind = 'care' THEN asg.cleared_at - asg.on_scene_at END)
) AS v (measure, took)
WHERE v.took IS NOT NULL GROUP BY 2, 3, 5
UNION ALL
SELECT 'freed', spd.day, '', '',
       (coalesce(sum(greatest(0, extract(epoch FROM
          care.cleared_at - greatest(spd.cleared_at, care.on_scene_at)))), 0) * 1000000)::bigint,
       count(*), 0, 0, 0, 0
FROM asg spd JOIN {assignment} care ON care.incident_id = spd.incident_id AND care.kind = 'care'
WHERE spd.kind = 'spd' AND spd.response = 'dual'
  AND spd.scene_safe_at IS NOT NULL AND spd.cleared_at IS NOT NULL
  AND care.on_scene_at IS NOT NULL AND care.cleared_at IS NOT NULL
GROUP BY 2
UNION ALL
SELECT 'encounters', day, '', '', count(*), count(*) FILTER (WHERE before_scene_safe),
       count(*) FILTER (WHERE disposition = %(not_found)s),
       count(*) FILTER (WHERE disposition = %(declined)s),
       count(*) FILTER (WHERE disposition = %(transported)s), 0
FROM enc GROUP BY 2
UNION ALL
SELECT 'backup', inc.local::date, '', '', count(*), 0, 0, 0, 0, 0
FROM {backup} b JOIN inc ON inc.id = b.incident_id GROUP BY 2
UNION ALL
SELECT 'duration', inc.local::date, 'backup_to_arrival', '',
       floor(extract(epoch FROM sent.on_scene_at - b.requested_at) + 0.5)::bigint,
       count(*), 0, 0, 0, 0
FROM {backup} b JOIN inc ON inc.id = b.incident_id
JOIN {assignment} sent ON sent.id = b.answered_by_id
WHERE sent.on_scene_at IS NOT NULL GROUP BY 2, 3, 5
UNION ALL
SELECT 'services_given', day, '', '', count(*), count(*) FILTER (WHERE s.before_scene_safe),
       0, 0, 0, 0
FROM enc CROSS JOIN LATERAL (
  SELECT before_scene_safe FROM {service} WHERE encounter_id = enc.id OFFSET 0) s
GROUP BY 2
UNION ALL
SELECT 'naloxone_administrations', day, n.response::text, '', count(*),
       count(*) FILTER (WHERE n.before_scene_safe), count(*) FILTER (WHERE n.ems_called), 0, 0, 0
FROM enc CROSS JOIN LATERAL (
  SELECT response, before_scene_safe, ems_called FROM {naloxone} WHERE encounter_id = enc.id
  OFFSET 0) n
GROUP BY 2, 3
UNION ALL
SELECT 'referrals_made', day, '', '', count(*), count(*) FILTER (WHERE r.before_scene_safe),
       count(*) FILTER (WHERE r.status = %(connected)s), 0, 0, 0
FROM enc CROSS JOIN LATERAL (
  SELECT status, before_scene_safe FROM {referral} WHERE encounter_id = enc.id OFFSET 0) r
GROUP BY 2
"""
# The third count of each kind of record, where it has one.
_THIRD = {
    "naloxone_administrations": "naloxone_ems_called",
    "referrals_made": "referrals_connected",
}


def _pg_ranges(spans) -> tuple[str, dict]:
    """The spans as a WHERE clause on i.received_at, with its parameters."""
    ranges, params = [], {"zone": settings.TIME_ZONE}
    for n, (first, last) in enumerate(spans):
        params[f"first{n}"], params[f"after{n}"] = bounds(first, last)
        upper = f" AND i.received_at < %(after{n})s" if params[f"after{n}"] else ""
        ranges.append(f"(i.received_at >= %(first{n})s{upper})")
    return " OR ".join(ranges), params


def _calls_postgres(spans, on) -> None:
    """What _call_totals, _care_responded, _care_records, _durations_python and _backups count,
    in one go."""
    ranges, params = _pg_ranges(spans)
    tables = {
        "incident": Incident._meta.db_table,
        "call_type": CallType._meta.db_table,
        "assignment": Assignment._meta.db_table,
        "encounter": Encounter._meta.db_table,
        "service": ServiceGiven._meta.db_table,
        "naloxone": NaloxoneAdministration._meta.db_table,
        "referral": Referral._meta.db_table,
        "disposition": Disposition._meta.db_table,
        "backup": BackupRequest._meta.db_table,
        "ranges": ranges,
    }
    params |= {
        "connected": ReferralStatus.CONNECTED.value,
        "phone": IncidentStatus.RESOLVED_BY_PHONE.value,
        "hotline": IncidentStatus.REFERRED_TO_HOTLINE.value,
        **dict(zip(("not_found", "declined", "transported"), DISPOSITION_FIGURES, strict=True)),
    }
    with connection.cursor() as cursor:
        cursor.execute(_PG_CALLS.format(**tables), params)
        rows = cursor.fetchall()
    for kind, day, label, other, *numbers in rows:
        _take_row(on(day), kind, label, other, numbers)


def _take_row(parts: Parts, kind: str, label: str, other: str, numbers: list[int]) -> None:
    figures = parts.figures
    if kind == "calls":
        for name, n in zip(CALL_TOTALS, numbers, strict=True):
            figures[(name, "")] += n
        if numbers[3]:
            figures[("police_only_code", label)] += numbers[3]
    elif kind == "responded":
        hour, n = numbers[0], numbers[1]
        figures[("care_responded_call_type", label)] += n
        figures[("care_responded_area", other or "")] += n
        figures[("care_responded_hour", str(hour))] += n
        figures[("eligible_care_responded", "")] += numbers[2]
    elif kind == "duration":
        parts.durations[(label, numbers[0])] += numbers[1]
    elif kind == "backup":
        figures[("backup_requested", "")] += numbers[0]
    elif kind == "freed":
        figures[("police_time_freed_us", "")] += numbers[0]
        figures[("police_time_freed_calls", "")] += numbers[1]
    else:
        figures[(kind, "")] += numbers[0]
        figures[("records_before_scene_safe", "")] += numbers[1]
        if kind in _THIRD:
            figures[(_THIRD[kind], "")] += numbers[2]
        if kind == "naloxone_administrations":
            figures[("naloxone_response", label)] += numbers[0]
        if kind == "encounters":
            for name, n in zip(DISPOSITION_FIGURES.values(), numbers[2:5], strict=True):
                figures[(name, "")] += n


def _durations_python(spans, on) -> None:
    """The same counts for SQLite, from one query."""
    rows = Assignment.objects.filter(_received_on(spans, "incident__received_at")).values_list(
        "incident_id",
        "incident__received_at",
        "incident__response",
        "kind",
        "dispatched_at",
        "on_scene_at",
        "scene_safe_at",
        "cleared_at",
    )
    here = zone()
    care_by_call, spd_by_call = {}, {}
    dual = set()
    for incident_id, received, response, kind, dispatched, arrived, safe, cleared in rows:
        if response == ResponseSent.DUAL:
            dual.add(incident_id)
        day = received.astimezone(here).date()
        durations = on(day).durations
        if kind == UnitKind.CARE and arrived:
            durations[("dispatch_to_arrival", whole_seconds(arrived - dispatched))] += 1
            if cleared:
                durations[("care_time_on_scene", whole_seconds(cleared - arrived))] += 1
                care_by_call[incident_id] = (day, arrived, cleared)
        elif kind == UnitKind.SPD and safe and cleared:
            durations[("scene_safe_to_spd_clear", whole_seconds(cleared - safe))] += 1
            spd_by_call[incident_id] = cleared
    for incident_id, spd_cleared in spd_by_call.items():
        # Police time freed counts dual-dispatched calls only, as on PostgreSQL.
        if incident_id in care_by_call and incident_id in dual:
            day, arrived, cleared = care_by_call[incident_id]
            freed = max(datetime.timedelta(0), cleared - max(spd_cleared, arrived))
            on(day).figures.update(
                {
                    ("police_time_freed_us", ""): freed // datetime.timedelta(microseconds=1),
                    ("police_time_freed_calls", ""): 1,
                }
            )


def _backups(spans, on) -> None:
    """Police backup asked for on the day's calls, and the minutes until the SPD unit sent in
    answer arrived (the same counts as the PostgreSQL statement's)."""
    rows = BackupRequest.objects.filter(_received_on(spans, "incident__received_at")).values_list(
        "incident__received_at", "requested_at", "answered_by__on_scene_at"
    )
    here = zone()
    for received, requested, arrived in rows:
        parts = on(received.astimezone(here).date())
        parts.figures[("backup_requested", "")] += 1
        if arrived:
            parts.durations[("backup_to_arrival", whole_seconds(arrived - requested))] += 1


# ---- the roll-up -------------------------------------------------------------------------------


def closed_days(days: Iterable[datetime.date]) -> list[datetime.date]:
    """The days that are over in Seattle; today's calls still change, so it is never rolled up."""
    today = timezone.localdate(timezone=zone())
    return sorted(day for day in set(days) if day < today)


def roll_up(days: Iterable[datetime.date]) -> list[datetime.date]:
    """Compute and store the closed days' parts (again, if they were stored); returns the days.

    Safe to repeat and to run beside itself: the RolledUpDay rows are written first, so a second
    roll-up of the same days waits for the first. A ChangedDay mark is cleared only if it is the
    one read before the calls were, so a change made while rolling up keeps the day live.
    """
    done = closed_days(days)
    for start in range(0, len(done), CHUNK_DAYS):
        _roll_up_chunk(done[start : start + CHUNK_DAYS])
    return done


def _roll_up_chunk(days: list[datetime.date]) -> None:
    now = timezone.now()
    with transaction.atomic():
        RolledUpDay.objects.bulk_create(
            [RolledUpDay(day=day, rolled_up_at=now) for day in days],
            update_conflicts=True,
            unique_fields=["day"],
            update_fields=["rolled_up_at"],
        )
        seen = dict(ChangedDay.objects.filter(day__in=days).values_list("day", "changes"))
        parts = source_parts(days)
        DailyFigure.objects.filter(day__in=days, whole_month=False).delete()
        DailyDuration.objects.filter(day__in=days, whole_month=False).delete()
        DailyFigure.objects.bulk_create(
            (
                DailyFigure(day=day, figure=figure, item=item, value=value)
                for day, part in parts.items()
                for (figure, item), value in part.figures.items()
                if value
            ),
            batch_size=5000,
        )
        DailyDuration.objects.bulk_create(
            (
                DailyDuration(day=day, measure=measure, seconds=seconds, calls=calls)
                for day, part in parts.items()
                for (measure, seconds), calls in part.durations.items()
            ),
            batch_size=5000,
        )
        for day, changes in seen.items():
            ChangedDay.objects.filter(day=day, changes=changes).delete()
        for first in sorted({day.replace(day=1) for day in days}):
            _roll_up_month(first)


def _month_days(first: datetime.date) -> list[datetime.date]:
    after = (first + datetime.timedelta(days=31)).replace(day=1)
    return [first + datetime.timedelta(days=n) for n in range((after - first).days)]


def _roll_up_month(first: datetime.date) -> None:
    """The month's sums from its days' rows, once every day of it is rolled up."""
    days = _month_days(first)
    DailyFigure.objects.filter(day=first, whole_month=True).delete()
    DailyDuration.objects.filter(day=first, whole_month=True).delete()
    if RolledUpDay.objects.filter(day__range=(first, days[-1])).count() < len(days):
        return
    in_month = Q(day__range=(first, days[-1]), whole_month=False)
    figures = (
        DailyFigure.objects.filter(in_month)
        .values_list("figure", "item")
        .annotate(total=Sum("value"))
        .order_by()
    )
    DailyFigure.objects.bulk_create(
        DailyFigure(day=first, whole_month=True, figure=f, item=i, value=v) for f, i, v in figures
    )
    durations = (
        DailyDuration.objects.filter(in_month)
        .values_list("measure", "seconds")
        .annotate(total=Sum("calls"))
        .order_by()
    )
    DailyDuration.objects.bulk_create(
        (
            DailyDuration(day=first, whole_month=True, measure=m, seconds=s, calls=n)
            for m, s, n in durations
        ),
        batch_size=5000,
    )


def days_to_roll_up() -> list[datetime.date]:
    """Closed days not rolled up since the last rolled-up day (or yesterday, the first time),
    and every closed day changed since its roll-up."""
    today = timezone.localdate(timezone=zone())
    last = RolledUpDay.objects.order_by("-day").values_list("day", flat=True).first()
    first = last + datetime.timedelta(days=1) if last else today - datetime.timedelta(days=1)
    new = [first + datetime.timedelta(days=n) for n in range((today - first).days)]
    changed = ChangedDay.objects.filter(day__lt=today).values_list("day", flat=True)
    return sorted(set(new) | set(changed))


# ---- reading ------------------------------------------------------------------------------------


def range_parts(start: datetime.date, end: datetime.date) -> Parts:
    """The range's parts: rolled-up days from the roll-up, every other day from the calls."""
    total = Parts()
    stored = set(
        RolledUpDay.objects.filter(day__range=(start, end))
        .exclude(day__in=ChangedDay.objects.values("day"))
        .values_list("day", flat=True)
    )
    if stored:
        total.add(_stored_parts(sorted(stored)))
    for part in spans_parts(_gaps(start, end, stored)).values():
        total.add(part)
    return total


def _gaps(start: datetime.date, end: datetime.date, stored: set) -> list[tuple]:
    """The runs of days from start to end that are not stored (without listing every day)."""
    gaps, first = [], start
    for day in sorted(stored):
        if day > first:
            gaps.append((first, day - datetime.timedelta(days=1)))
        first = day + datetime.timedelta(days=1) if day < datetime.date.max else None
    if first is not None and first <= end:
        gaps.append((first, end))
    return gaps


def _stored_parts(days: list[datetime.date]) -> Parts:
    """Exactly these days' stored parts (a day rolled up meanwhile is counted live, not here):
    a month whose every day is among them is read from its month rows."""
    by_month: dict[datetime.date, list[datetime.date]] = {}
    for day in days:
        by_month.setdefault(day.replace(day=1), []).append(day)
    months = [m for m, inside in by_month.items() if len(inside) == len(_month_days(m))]
    singles = [day for m, inside in by_month.items() if m not in months for day in inside]
    match = Q(whole_month=True, day__in=months) if months else Q(pk__in=[])
    for first, last in runs(singles):
        match |= Q(whole_month=False, day__range=(first, last))
    parts = Parts()
    figures = (
        DailyFigure.objects.filter(match)
        .values_list("figure", "item")
        .annotate(total=Sum("value"))
        .order_by()
    )
    parts.figures.update({(figure, item): total for figure, item, total in figures})
    durations = (
        DailyDuration.objects.filter(match)
        .values_list("measure", "seconds")
        .annotate(calls=Sum("calls"))
        .order_by()
    )
    parts.durations.update({(measure, seconds): calls for measure, seconds, calls in durations})
    return parts
