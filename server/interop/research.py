"""A de-identified extract of CARE responses for program evaluation.

One row per CARE encounter, with nothing that names or points back to a person, a responder or a
record: no names or initials, no notes or narratives, no addresses or coordinates, no record ids,
CAD numbers or usernames. Place is the police beat, time is the week, age is a band worked out from
the birth year, priority and the minutes of a response are bands.

A dispatch-side insider holds every call's week, beat, call type, priority, what was sent and its
exact times, and could join on them (exact minutes and priority once matched 900 of 911 rows to a
single call, and with it naloxone, disposition and referral outcome). So every one of those, and
the age band, is a quasi-identifier: rows whose combination is shared by fewer than `K` calls are
generalised one column at a time (the response minutes, priority, what was sent, age band, call
type, beat, then week, each written as "suppressed"); rows still in a cell under `K` calls are
left out. Every row shown is then indistinguishable among at least `K` calls on every field that
insider holds.
"""

from __future__ import annotations

import datetime
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.utils import timezone

from server.audit.services import record_audit
from server.care.models import Encounter, ReferralStatus
from server.csv_output import writer

K = 11  # the program's smallest published cell (as on the public dashboard)
SUPPRESSED = "suppressed"
# Generalised in this order: the finest and least needed first.
QUASI_IDENTIFIERS = (
    "minutes_on_scene",
    "minutes_dispatch_to_scene",
    "priority",
    "response_sent",
    "age_band",
    "call_type",
    "beat",
    "week",
)
# (lowest, highest or None, label): whole minutes fall in exactly one band.
DISPATCH_TO_SCENE_BANDS = (
    (0, 9, "0-9"),
    (10, 19, "10-19"),
    (20, 29, "20-29"),
    (30, None, "30 and over"),
)
ON_SCENE_BANDS = (
    (0, 29, "0-29"),
    (30, 59, "30-59"),
    (60, 119, "60-119"),
    (120, None, "120 and over"),
)
PRIORITY_BANDS = ((1, 2, "1-2"), (3, None, "3 and lower"))
CALL = "_call"  # the incident a row came from: counted for cells, never written out
AGE_BANDS = (
    (0, 17, "under 18"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, 200, "65 and over"),
)
REFERRAL_RANK = [
    ReferralStatus.CONNECTED,
    ReferralStatus.CONTACTED,
    ReferralStatus.MADE,
    ReferralStatus.UNABLE_TO_REACH,
    ReferralStatus.DECLINED,
    ReferralStatus.CLOSED,
]

# column -> (parquet type, meaning): the data dictionary, and the order of the columns.
DICTIONARY: dict[str, tuple[pa.DataType, str]] = {
    "week": (
        pa.string(),
        "Monday (local date, Seattle) of the week the encounter began, or 'suppressed'.",
    ),
    "beat": (pa.string(), "SPD beat of the call, or 'unknown', or 'suppressed'."),
    "call_type": (pa.string(), "SPD CAD initial call type, or 'suppressed'."),
    "priority": (
        pa.string(),
        "CAD priority band: '1-2' (most urgent) or '3 and lower', or 'suppressed'.",
    ),
    "response_sent": (
        pa.string(),
        "What was sent: dual (CARE and SPD) or care_only, or 'suppressed'.",
    ),
    "minutes_dispatch_to_scene": (
        pa.string(),
        "Whole minutes from dispatch to the CARE unit on scene, as a band (0-9, 10-19, 20-29, "
        "30 and over); 'never' if never on scene, or 'suppressed'.",
    ),
    "minutes_on_scene": (
        pa.string(),
        "Whole minutes from on scene to cleared, as a band (0-29, 30-59, 60-119, 120 and over); "
        "'never' if not cleared, or 'suppressed'.",
    ),
    "age_band": (
        pa.string(),
        "Age band from the birth year (age in the encounter's year, may be "
        "one year high), 'unknown', or 'suppressed'.",
    ),
    "people_contacted": (pa.int16(), "People CARE spoke with."),
    "disposition": (pa.string(), "How the encounter ended (disposition code), or empty."),
    "services": (pa.string(), "Service codes given, sorted, separated by ';'."),
    "naloxone_administrations": (pa.int16(), "Naloxone administrations recorded."),
    "naloxone_improved": (pa.bool_(), "Any naloxone administration with response improved."),
    "referrals": (pa.int16(), "Referrals made."),
    "referral_categories": (pa.string(), "Directory categories referred to, sorted, ';'."),
    "referral_best_status": (
        pa.string(),
        "The furthest any referral got (connected, contacted, "
        "made, unable_to_reach, declined, closed), or empty.",
    ),
    "care_before_scene_safe": (pa.bool_(), "Any care recorded before the scene was marked safe."),
}


@dataclass
class ResearchExtract:
    rows: list[dict[str, Any]]
    left_out: int

    def csv(self) -> str:
        out = io.StringIO()
        sheet = writer(out)
        sheet.writerow(list(DICTIONARY))
        sheet.writerows([[_csv_value(row[name]) for name in DICTIONARY] for row in self.rows])
        return out.getvalue()

    def parquet(self) -> bytes:
        schema = pa.schema([(name, kind) for name, (kind, _) in DICTIONARY.items()])
        table = pa.Table.from_pylist(self.rows, schema=schema)
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return buffer.getvalue()

    def dictionary(self) -> str:
        out = io.StringIO()
        sheet = writer(out)
        sheet.writerow(["column", "type", "meaning"])
        sheet.writerows([[name, str(kind), text] for name, (kind, text) in DICTIONARY.items()])
        sheet.writerow(["(rows left out)", "int", f"{self.left_out} rows in cells under {K}."])
        return out.getvalue()

    def files(self) -> dict[str, bytes | str]:
        return {
            "care-research.csv": self.csv(),
            "care-research.parquet": self.parquet(),
            "care-research-dictionary.csv": self.dictionary(),
        }


def _csv_value(value: Any) -> Any:
    return "" if value is None else value


def age_band(birth_year: int | None, year: int) -> str:
    if not birth_year:
        return "unknown"
    age = year - birth_year
    for low, high, label in AGE_BANDS:
        if low <= age <= high:
            return label
    return "unknown"


def _minutes(start: datetime.datetime | None, end: datetime.datetime | None) -> int | None:
    if start is None or end is None or end < start:
        return None
    return int((end - start).total_seconds() // 60)


def band(value: int | None, bands: tuple, missing: str = "never") -> str:
    if value is None:
        return missing
    for low, high, label in bands:
        if value >= low and (high is None or value <= high):
            return label
    return missing


def _row(encounter: Encounter) -> dict[str, Any]:
    assignment = encounter.assignment
    incident = assignment.incident
    started = timezone.localtime(encounter.started_at)
    naloxone = list(encounter.naloxone.all())
    referrals = list(encounter.referrals.all())
    statuses = {referral.status for referral in referrals}
    services = list(encounter.services.all())
    return {
        CALL: incident.pk,
        "week": (started.date() - datetime.timedelta(days=started.weekday())).isoformat(),
        "beat": incident.beat or "unknown",
        "call_type": incident.call_type.code,
        "priority": band(incident.priority, PRIORITY_BANDS, missing="unknown"),
        "response_sent": incident.response,
        "minutes_dispatch_to_scene": band(
            _minutes(assignment.dispatched_at, assignment.on_scene_at), DISPATCH_TO_SCENE_BANDS
        ),
        "minutes_on_scene": band(
            _minutes(assignment.on_scene_at, assignment.cleared_at), ON_SCENE_BANDS
        ),
        "age_band": age_band(encounter.client_birth_year, started.year),
        "people_contacted": encounter.people_contacted,
        "disposition": encounter.disposition.code if encounter.disposition_id else "",
        "services": ";".join(sorted({given.service.code for given in services})),
        "naloxone_administrations": len(naloxone),
        "naloxone_improved": any(dose.response == "improved" for dose in naloxone),
        "referrals": len(referrals),
        "referral_categories": ";".join(
            sorted({r.service.category for r in referrals if r.service.category})
        ),
        "referral_best_status": next((s.value for s in REFERRAL_RANK if s in statuses), ""),
        "care_before_scene_safe": any(
            record.before_scene_safe for record in [*naloxone, *referrals, *services]
        ),
    }


def _cell(row: dict[str, Any]) -> tuple:
    return tuple(row[name] for name in QUASI_IDENTIFIERS)


def _small_cells(rows: list[dict[str, Any]]) -> set[tuple]:
    """Cells shared by fewer than K calls (two encounters of one call are one call)."""
    calls: dict[tuple, set] = defaultdict(set)
    for row in rows:
        calls[_cell(row)].add(row[CALL])
    return {cell for cell, members in calls.items() if len(members) < K}


def suppress(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Generalise rare combinations column by column; leave out what is still rare."""
    for name in QUASI_IDENTIFIERS:
        small = _small_cells(rows)
        if not small:
            break
        for row in rows:
            if _cell(row) in small:
                row[name] = SUPPRESSED
    small = _small_cells(rows)
    kept = [row for row in rows if _cell(row) not in small]
    for row in kept:
        del row[CALL]
    return kept, len(rows) - len(kept)


def research_extract(actor: Any, encounters: Iterable[Encounter]) -> ResearchExtract:
    rows, left_out = suppress([_row(encounter) for encounter in encounters])
    record_audit(
        actor=actor,
        action="interop.research_extract",
        object_type="care.encounter",
        after={"rows": len(rows), "left_out": left_out, "k": K},
    )
    return ResearchExtract(rows=rows, left_out=left_out)
