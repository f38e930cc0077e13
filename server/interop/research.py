"""A de-identified extract of CARE responses for program evaluation.

One row per CARE encounter, with nothing that names or points back to a person, a responder or a
record: no names or initials, no notes or narratives, no addresses or coordinates, no record ids,
CAD numbers or usernames. Place is the police beat, time is the week, age is a band worked out from
the birth year. Rows whose combination of week, beat, age band and call type is shared by fewer
than `K` rows are generalised one column at a time (age band, then call type, then beat, then
week, each written as "suppressed"); rows still in a cell under `K` are left out.
"""

from __future__ import annotations

import datetime
import io
from collections import Counter
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
QUASI_IDENTIFIERS = ("age_band", "call_type", "beat", "week")  # generalised in this order
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
    "priority": (pa.int16(), "CAD priority (1 highest)."),
    "response_sent": (pa.string(), "What was sent: dual (CARE and SPD) or care_only."),
    "minutes_dispatch_to_scene": (
        pa.int32(),
        "Whole minutes from dispatch to the CARE unit on scene; empty if never on scene.",
    ),
    "minutes_on_scene": (
        pa.int32(),
        "Whole minutes from on scene to cleared; empty if not cleared.",
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


def _row(encounter: Encounter) -> dict[str, Any]:
    assignment = encounter.assignment
    incident = assignment.incident
    started = timezone.localtime(encounter.started_at)
    naloxone = list(encounter.naloxone.all())
    referrals = list(encounter.referrals.all())
    statuses = {referral.status for referral in referrals}
    services = list(encounter.services.all())
    return {
        "week": (started.date() - datetime.timedelta(days=started.weekday())).isoformat(),
        "beat": incident.beat or "unknown",
        "call_type": incident.call_type.code,
        "priority": incident.priority,
        "response_sent": incident.response,
        "minutes_dispatch_to_scene": _minutes(assignment.dispatched_at, assignment.on_scene_at),
        "minutes_on_scene": _minutes(assignment.on_scene_at, assignment.cleared_at),
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


def _small_cells(rows: list[dict[str, Any]]) -> set[tuple]:
    counts = Counter(tuple(row[name] for name in QUASI_IDENTIFIERS) for row in rows)
    return {cell for cell, count in counts.items() if count < K}


def suppress(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Generalise rare combinations column by column; leave out what is still rare."""
    for name in QUASI_IDENTIFIERS:
        small = _small_cells(rows)
        if not small:
            return rows, 0
        for row in rows:
            if tuple(row[q] for q in QUASI_IDENTIFIERS) in small:
                row[name] = SUPPRESSED
    small = _small_cells(rows)
    kept = [row for row in rows if tuple(row[q] for q in QUASI_IDENTIFIERS) not in small]
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
