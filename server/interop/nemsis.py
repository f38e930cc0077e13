"""Naloxone administrations in NEMSIS 3.5 terms: an EMSDataSet (XML, built with lxml and checked
against the part of the schema we write, `schemas/nemsis_naloxone.xsd`), the same rows as CSV, and
a gap report naming, per record, what a state EMS data system asks for that CARE Field does not
capture. No free text leaves: only codes, times, doses and record numbers.

Code values (see docs/standards.md for where each was checked):
eMedications.02 9923001 No; .03 RxNorm 7242 naloxone, marked CodeType 9924003 (RxNorm) as 3.5
asks; .04 9927015 Intramuscular (IM), 9927017 Intranasal; .06 3706021 Milligrams (mg); .07 9916001
Improved, 9916003 Unchanged, 9916005 Worse; .10 9905021 Other Non-Healthcare Professional;
eDisposition.27 4227001 Patient Contact Made, inside 3.5's eDisposition.IncidentDispositionGroup;
NOT value 7701003 Not Recorded.
"""

from __future__ import annotations

import decimal
import io
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import xmlschema
from django.conf import settings
from lxml import etree

from server.audit.services import record_audit
from server.care.models import NaloxoneAdministration, NaloxoneResponse, NaloxoneRoute
from server.csv_output import writer

NEMSIS_NS = "http://www.nemsis.org"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "nemsis_naloxone.xsd"

NOT_PRIOR_TO_UNIT = "9923001"  # eMedications.02: No — CARE gave it, not someone before CARE.
RXNORM_NALOXONE = "7242"
CODE_TYPE_RXNORM = "9924003"  # eMedications.03's CodeType in 3.5: the code is an RxNorm code
MILLIGRAMS = "3706021"
NOT_RECORDED = "7701003"
PATIENT_CONTACT_MADE = "4227001"
ROUTES = {NaloxoneRoute.INTRAMUSCULAR: "9927015", NaloxoneRoute.INTRANASAL: "9927017"}
RESPONSES = {
    NaloxoneResponse.IMPROVED: "9916001",
    NaloxoneResponse.UNCHANGED: "9916003",
    NaloxoneResponse.WORSE: "9916005",
}
# CARE responders are behavioral-health crisis responders, not EMS clinicians; the program may set
# 9905019 (Other Healthcare Professional) instead where its responders are licensed clinicians.
DEFAULT_ROLE = "9905021"

CSV_COLUMNS = [
    "eRecord.01",
    "eResponse.03",
    "CorrelationID",
    "eMedications.01",
    "eMedications.02",
    "eMedications.03",
    "eMedications.04",
    "eMedications.05",
    "eMedications.06",
    "eMedications.07",
    "eMedications.10",
    "eDisposition.27",
    "doses",
    "ems_called",
    "before_scene_safe",
]

# What a state EMS data system asks of every record that CARE Field does not record at all.
ALWAYS_MISSING = [
    (
        "eResponse",
        "EMS agency number and type of service requested",
        "CARE is not a licensed EMS agency; no agency number is kept.",
    ),
    (
        "eCrew",
        "Crew member ids and levels",
        "Responders are not recorded with EMS certification levels.",
    ),
    (
        "ePatient",
        "Patient sex, age and demographics",
        "Only a birth year and initials are kept, and they do not leave.",
    ),
    ("eSituation", "Primary impression and complaint", "CARE records no clinical impression."),
    ("eVitals", "Vital signs before and after naloxone", "Not captured on the tablet."),
    (
        "eMedications.09",
        "Medication crew member id",
        "Not exported: responders are not identified to the state.",
    ),
    (
        "eMedications.11",
        "Medication authorization",
        "The standing order CARE works under is not recorded per dose.",
    ),
    (
        "eMedications.08",
        "Medication complication",
        "Complications after naloxone are not recorded on the tablet.",
    ),
    (
        "eDisposition.28",
        "Patient evaluation/care",
        "Not recorded as such; only that naloxone was given.",
    ),
    (
        "eDisposition.29",
        "Crew disposition",
        "Not recorded; CARE hands over to EMS when it is called.",
    ),
    (
        "eDisposition.30",
        "Transport disposition",
        "CARE does not transport; only whether EMS was called is kept.",
    ),
    (
        "eDisposition.32",
        "Level of care provided per protocol",
        "CARE responders are not an EMS level of care.",
    ),
    (
        "eDisposition",
        "Destination",
        "CARE does not transport; no destination is kept.",
    ),
]


@dataclass
class NemsisExport:
    xml: bytes
    csv: str
    gaps_csv: str
    count: int
    gaps: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)


@cache
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def _role() -> str:
    return getattr(settings, "NEMSIS_ADMINISTERED_BY_ROLE", DEFAULT_ROLE)


def _dose_total(record: NaloxoneAdministration) -> decimal.Decimal:
    return (record.dose_mg * record.doses).quantize(decimal.Decimal("0.01"))


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NEMSIS_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _medication_group(parent: etree._Element, record: NaloxoneAdministration) -> None:
    group = _sub(parent, "eMedications.MedicationGroup")
    group.set("CorrelationID", str(record.pk))
    _sub(group, "eMedications.01", record.administered_at.isoformat(timespec="seconds"))
    _sub(group, "eMedications.02", NOT_PRIOR_TO_UNIT)
    _sub(group, "eMedications.03", RXNORM_NALOXONE).set("CodeType", CODE_TYPE_RXNORM)
    _sub(group, "eMedications.04", ROUTES[record.route])
    dosage = _sub(group, "eMedications.DosageGroup")
    _sub(dosage, "eMedications.05", str(_dose_total(record)))
    _sub(dosage, "eMedications.06", MILLIGRAMS)
    response = _sub(group, "eMedications.07", RESPONSES.get(record.response))
    if record.response not in RESPONSES:
        response.set("NV", NOT_RECORDED)
        response.set(f"{{{XSI_NS}}}nil", "true")
    _sub(group, "eMedications.10", _role())


def build_xml(records: list[NaloxoneAdministration]) -> etree._Element:
    root = etree.Element(f"{{{NEMSIS_NS}}}EMSDataSet", nsmap={None: NEMSIS_NS, "xsi": XSI_NS})
    header = _sub(root, "Header")
    by_encounter: dict[Any, list[NaloxoneAdministration]] = {}
    for record in records:
        by_encounter.setdefault(record.encounter_id, []).append(record)
    for encounter_id, doses in by_encounter.items():
        report = _sub(header, "PatientCareReport")
        report.set("UUID", str(encounter_id))
        _sub(_sub(report, "eRecord"), "eRecord.01", str(encounter_id))
        incident = doses[0].encounter.assignment.incident
        _sub(_sub(report, "eResponse"), "eResponse.03", incident.cad_number)
        medications = _sub(report, "eMedications")
        for record in doses:
            _medication_group(medications, record)
        # Giving naloxone means CARE reached the person. In 3.5 the unit disposition sits in
        # the incident disposition group (with .28-.30, which CARE does not record: gap report).
        disposition = _sub(_sub(report, "eDisposition"), "eDisposition.IncidentDispositionGroup")
        _sub(disposition, "eDisposition.27", PATIENT_CONTACT_MADE)
    return root


def record_gaps(record: NaloxoneAdministration) -> list[tuple[str, str, str]]:
    gaps = list(ALWAYS_MISSING)
    if record.response not in RESPONSES:
        gaps.append(
            ("eMedications.07", "Response to medication", "Not yet known; sent as Not Recorded.")
        )
    if record.doses > 1:
        gaps.append(
            (
                "eMedications.01",
                "Date/time of each dose",
                f"{record.doses} doses of {record.dose_mg} mg share one time; sent as one "
                f"administration of {_dose_total(record)} mg.",
            )
        )
    return gaps


def _csv_row(record: NaloxoneAdministration) -> list[Any]:
    return [
        str(record.encounter_id),
        record.encounter.assignment.incident.cad_number,
        str(record.pk),
        record.administered_at.isoformat(timespec="seconds"),
        NOT_PRIOR_TO_UNIT,
        RXNORM_NALOXONE,
        ROUTES[record.route],
        str(_dose_total(record)),
        MILLIGRAMS,
        RESPONSES.get(record.response, NOT_RECORDED),
        _role(),
        PATIENT_CONTACT_MADE,
        record.doses,
        record.ems_called,
        record.before_scene_safe,
    ]


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    sheet = writer(out)
    sheet.writerow(header)
    sheet.writerows(rows)
    return out.getvalue()


def export_naloxone(actor: Any, records: list[NaloxoneAdministration]) -> NemsisExport:
    """The export of these records, checked against our schema, and its audit row."""
    root = build_xml(records)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    schema().validate(root)  # a failure here is our bug, never the user's input
    gaps = {str(record.pk): record_gaps(record) for record in records}
    gap_rows = [
        [record_id, element, name, reason]
        for record_id, items in gaps.items()
        for element, name, reason in items
    ]
    record_audit(
        actor=actor,
        action="interop.nemsis_export",
        object_type="care.naloxoneadministration",
        after={"count": len(records), "ids": sorted(gaps)},
    )
    return NemsisExport(
        xml=xml,
        csv=_csv(CSV_COLUMNS, [_csv_row(record) for record in records]),
        gaps_csv=_csv(["CorrelationID", "element", "name", "why missing"], gap_rows),
        count=len(records),
        gaps=gaps,
    )
