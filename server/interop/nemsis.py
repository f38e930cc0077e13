"""Naloxone administrations in NEMSIS 3.5.1 terms: an EMSDataSet (XML, built with lxml and
checked against the NEMSIS TAC's own `EMSDataSet_v3.xsd`, vendored under `standards/`, before
anything is written), the same rows as CSV, and a gap report naming, per record, every element
sent as a Not Value and why. No free text leaves: only codes, times, doses and record numbers.

The file is built by walking the XSD's content model in order: what CARE Field records is placed
where NEMSIS puts it; every other element the XSD requires is sent nil with its Not Value
(`NV`): 7701001 Not Applicable where the element is about care CARE does not give (transport,
destination, hospital outcome, procedures, payment), 7701003 Not Recorded for the rest. The
agency (dAgency.01/.02/.04, eResponse.01) and software (eRecord.02-.04) come from settings.

Code values (see docs/standards.md for where each was checked):
eMedications.02 9923001 No; .03 RxNorm 7242 naloxone, marked CodeType 9924003 (RxNorm) as 3.5
asks; .04 9927015 Intramuscular (IM), 9927017 Intranasal; .06 3706021 Milligrams (mg); .07 9916001
Improved, 9916003 Unchanged, 9916005 Worse; .10 9905021 Other Non-Healthcare Professional;
eDisposition.27 4227001 Patient Contact Made; eResponse.05 2205001 Emergency Response (Primary
Response Area); .07 2207027 Non-Transport-No Medical Equipment; .23 2223005 Non-Emergent;
eDispatch.01 2301053 Overdose/Poisoning/Ingestion.
"""

from __future__ import annotations

import decimal
import io
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from lxml import etree
from xmlschema.validators import XsdElement, XsdGroup

from server.audit.services import record_audit
from server.care.models import NaloxoneAdministration, NaloxoneResponse, NaloxoneRoute
from server.csv_output import writer
from server.errors import CareFieldError
from server.interop.conformance import nemsis_errors, nemsis_schema

NEMSIS_NS = "http://www.nemsis.org"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

NOT_PRIOR_TO_UNIT = "9923001"  # eMedications.02: No — CARE gave it, not someone before CARE.
RXNORM_NALOXONE = "7242"
CODE_TYPE_RXNORM = "9924003"  # eMedications.03's CodeType in 3.5: the code is an RxNorm code
MILLIGRAMS = "3706021"
NOT_APPLICABLE = "7701001"
NOT_RECORDED = "7701003"
PATIENT_CONTACT_MADE = "4227001"
PRIMARY_RESPONSE_AREA = "2205001"
NON_TRANSPORT_NO_EQUIPMENT = "2207027"
NON_EMERGENT = "2223005"
OVERDOSE = "2301053"
ROUTES = {NaloxoneRoute.INTRAMUSCULAR: "9927015", NaloxoneRoute.INTRANASAL: "9927017"}
RESPONSES = {
    NaloxoneResponse.IMPROVED: "9916001",
    NaloxoneResponse.UNCHANGED: "9916003",
    NaloxoneResponse.WORSE: "9916005",
}
# CARE responders are behavioral-health crisis responders, not EMS clinicians; the program may set
# 9905019 (Other Healthcare Professional) instead where its responders are licensed clinicians.
DEFAULT_ROLE = "9905021"

# Why an element goes as a Not Value, by the longest matching prefix of its name:
# (the Not Value, the reason the gap report gives).
NOT_VALUES: dict[str, tuple[str, str]] = {
    "eResponse": (NOT_APPLICABLE, "CARE keeps no EMS delay reasons or extra response modes."),
    "eDispatch": (NOT_RECORDED, "Emergency medical dispatch is the 911 center's record."),
    "eTimes": (NOT_RECORDED, "CARE Field does not keep this time."),
    "eTimes.09": (NOT_APPLICABLE, "CARE does not transport."),
    "eTimes.11": (NOT_APPLICABLE, "CARE does not transport."),
    "eTimes.12": (NOT_APPLICABLE, "CARE does not transport."),
    "ePatient": (NOT_RECORDED, "Only a birth year and initials are kept, and they do not leave."),
    "ePayment": (NOT_APPLICABLE, "CARE bills no one for its response."),
    "eScene": (NOT_RECORDED, "Scene details are kept as free text, which never leaves."),
    "eSituation": (NOT_RECORDED, "CARE records no clinical impression or complaint."),
    "eInjury": (NOT_RECORDED, "Injuries are not recorded on the tablet."),
    "eArrest": (NOT_RECORDED, "Cardiac arrest care is EMS's; CARE does not record it."),
    "eHistory": (NOT_RECORDED, "Medical history is not recorded on the tablet."),
    "eVitals": (NOT_RECORDED, "Vital signs are not captured on the tablet."),
    "eProtocols": (NOT_RECORDED, "The standing order CARE works under is not recorded per call."),
    "eMedications": (NOT_RECORDED, "Not recorded on the tablet."),
    "eProcedures": (NOT_APPLICABLE, "CARE performs no procedures besides giving naloxone."),
    "eDisposition": (NOT_APPLICABLE, "CARE does not transport; only whether EMS was called."),
    "eDisposition.28": (NOT_RECORDED, "Not recorded as such; only that naloxone was given."),
    "eDisposition.29": (NOT_RECORDED, "Not recorded; CARE hands over to EMS when it is called."),
    "eDisposition.32": (NOT_APPLICABLE, "CARE responders are not an EMS level of care."),
    "eOutcome": (NOT_APPLICABLE, "CARE does not transport, so it has no hospital outcome."),
}
DEFAULT_NOT_VALUE = (NOT_RECORDED, "CARE Field does not record this.")


class NemsisInvalid(CareFieldError):
    """The file fails NEMSIS's XSD: it is not written, and the failing elements are named."""

    status = 422
    code = "nemsis_invalid"


@dataclass(frozen=True)
class NotValue:
    """An element sent nil with NEMSIS's Not Value, and the reason, for the gap report."""

    code: str
    reason: str


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


@dataclass
class NemsisExport:
    xml: bytes
    csv: str
    gaps_csv: str
    count: int
    # {record id: [(element, what was sent, why)]}, held-back records included
    gaps: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)


def schema():
    """NEMSIS 3.5.1's EMSDataSet XSD, as vendored (server/interop/standards/nemsis-3.5.1)."""
    return nemsis_schema()


def _role() -> str:
    return getattr(settings, "NEMSIS_ADMINISTERED_BY_ROLE", DEFAULT_ROLE)


def _dose_total(record: NaloxoneAdministration) -> decimal.Decimal | None:
    """All the record's doses in mg; None while its dose is not yet recorded."""
    if record.dose_mg is None:
        return None
    return (record.dose_mg * record.doses).quantize(decimal.Decimal("0.01"))


DOSE_NOT_YET = NotValue(NOT_RECORDED, "The dose was not recorded on the tablet.")
ROUTE_NOT_YET = NotValue(NOT_RECORDED, "The route was not recorded on the tablet.")


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NEMSIS_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _not_value(name: str) -> NotValue:
    prefixes = [p for p in NOT_VALUES if name == p or name.startswith(p + ".")]
    code, reason = NOT_VALUES[max(prefixes, key=len)] if prefixes else DEFAULT_NOT_VALUE
    return NotValue(code, reason)


def _medication_group(record: NaloxoneAdministration) -> dict[str, Any]:
    response = RESPONSES.get(record.response)
    total = _dose_total(record)
    return {
        "@": {"CorrelationID": str(record.pk)},
        "eMedications.01": _time(record.administered_at),
        "eMedications.02": NOT_PRIOR_TO_UNIT,
        "eMedications.03": (RXNORM_NALOXONE, {"CodeType": CODE_TYPE_RXNORM}),
        "eMedications.04": ROUTES.get(record.route) or ROUTE_NOT_YET,
        # A dose not yet recorded goes as Not Recorded, and so does its unit.
        "eMedications.05": DOSE_NOT_YET if total is None else str(total),
        "eMedications.06": DOSE_NOT_YET if total is None else MILLIGRAMS,
        "eMedications.07": response
        or NotValue(NOT_RECORDED, "The response to naloxone is not yet known."),
        "eMedications.08": NotValue(
            NOT_RECORDED, "Complications after naloxone are not recorded on the tablet."
        ),
        "eMedications.10": _role(),
    }


def _time(value) -> str:
    return value.isoformat(timespec="seconds")


def _report(doses: list[NaloxoneAdministration]) -> dict[str, Any]:
    """One patient care report: one encounter and the naloxone given in it."""
    encounter = doses[0].encounter
    assignment = encounter.assignment
    incident = assignment.incident
    values: dict[str, Any] = {
        "@": {"UUID": str(encounter.pk)},
        "eRecord.01": str(encounter.pk),
        "eRecord.02": settings.CARE_NEMSIS_SOFTWARE_CREATOR,
        "eRecord.03": settings.CARE_NEMSIS_SOFTWARE_NAME,
        "eRecord.04": settings.CARE_NEMSIS_SOFTWARE_VERSION,
        "eResponse.01": settings.CARE_NEMSIS_AGENCY_NUMBER,
        "eResponse.03": incident.cad_number,
        "eResponse.04": str(assignment.pk),
        "eResponse.05": PRIMARY_RESPONSE_AREA,
        "eResponse.07": NON_TRANSPORT_NO_EQUIPMENT,
        "eResponse.13": assignment.unit.call_sign,
        "eResponse.14": assignment.unit.call_sign,
        "eResponse.23": NON_EMERGENT,
        "eDispatch.01": OVERDOSE,
        "eTimes.01": _time(incident.received_at),
        "eTimes.03": _time(assignment.dispatched_at),
        "eTimes.13": _time(assignment.cleared_at),
        "eMedications.MedicationGroup": [_medication_group(record) for record in doses],
        # Giving naloxone means CARE reached the person.
        "eDisposition.27": PATIENT_CONTACT_MADE,
    }
    if assignment.acknowledged_at:
        values["eTimes.04"] = _time(assignment.acknowledged_at)
    if assignment.on_scene_at:
        values["eTimes.06"] = _time(assignment.on_scene_at)
    return values


def _data_set(reports: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "dAgency.01": settings.CARE_NEMSIS_AGENCY_STATE_ID,
        "dAgency.02": settings.CARE_NEMSIS_AGENCY_NUMBER,
        "dAgency.04": settings.CARE_NEMSIS_AGENCY_STATE,
        "PatientCareReport": reports,
    }


def _particles(group: XsdGroup, values: dict[str, Any]):
    """The element declarations of a content model, in document order; of a choice, the
    branch the values speak to (else its first)."""
    if group.model == "choice":
        branches = list(group)
        chosen = next(
            (b for b in branches if any(e.local_name in values for e in _elements(b))),
            branches[0],
        )
        yield from _particles_of(chosen, values)
        return
    for particle in group:
        yield from _particles_of(particle, values)


def _particles_of(particle, values: dict[str, Any]):
    if isinstance(particle, XsdGroup):
        yield from _particles(particle, values)
    elif isinstance(particle, XsdElement):
        yield particle


def _elements(particle) -> list[XsdElement]:
    if isinstance(particle, XsdElement):
        return [particle]
    return list(particle.iter_elements()) if isinstance(particle, XsdGroup) else []


def _has_elements(declaration: XsdElement) -> bool:
    kind = declaration.type
    return not kind.is_simple() and not kind.has_simple_content() and kind.content is not None


def _fill(node: etree._Element, declaration: XsdElement, values: dict, sent: list) -> None:
    """Write the children XSD declares for `node`, in order, from `values` (by element name);
    a required child with no value is a group to open or an element to send as a Not Value."""
    for child in _particles(declaration.type.content, values):
        name = child.local_name
        if name in values:
            given = values[name]
            for item in given if isinstance(given, list) else [given]:
                _place(node, child, item, values, sent)
        elif child.min_occurs == 0:
            continue
        elif _has_elements(child):
            _fill(_sub(node, name), child, values, sent)
        else:
            _place(node, child, _not_value(name), values, sent)


def _place(node, declaration: XsdElement, item: Any, scope: dict, sent: list) -> None:
    name = declaration.local_name
    if isinstance(item, dict):  # a repeated group: its own values, within the outer ones
        element = _sub(node, name)
        for attribute, value in item.get("@", {}).items():
            element.set(attribute, value)
        _fill(element, declaration, {**scope, **item}, item.get("@sent", sent))
    elif isinstance(item, NotValue):
        element = _sub(node, name)
        element.set("NV", item.code)
        element.set(f"{{{XSI_NS}}}nil", "true")
        sent.append((name, item))
    elif isinstance(item, tuple):
        text, attributes = item
        element = _sub(node, name, text)
        for attribute, value in attributes.items():
            element.set(attribute, value)
    else:
        _sub(node, name, item)


def build_xml(records: list[NaloxoneAdministration]) -> tuple[etree._Element, dict[str, list]]:
    """The EMSDataSet, and per naloxone record the elements its report sent as Not Values."""
    by_encounter: dict[Any, list[NaloxoneAdministration]] = {}
    for record in records:
        by_encounter.setdefault(record.encounter_id, []).append(record)
    reports, lists = [], {}
    for doses in by_encounter.values():
        report = _report(doses)
        # The Not Values the report and each medication group send, for the gap report.
        report["@sent"] = []
        for record, group in zip(doses, report["eMedications.MedicationGroup"], strict=True):
            group["@sent"] = []
            lists[str(record.pk)] = (report["@sent"], group["@sent"])
        reports.append(report)
    root = etree.Element(f"{{{NEMSIS_NS}}}EMSDataSet", nsmap={None: NEMSIS_NS, "xsi": XSI_NS})
    _fill(root, schema().elements["EMSDataSet"], {"Header": _data_set(reports)}, [])
    return root, {record_id: [*outer, *own] for record_id, (outer, own) in lists.items()}


NOT_VALUE_NAMES = {
    NOT_APPLICABLE: "Not Applicable (7701001)",
    NOT_RECORDED: "Not Recorded (7701003)",
}
GAP_COLUMNS = ["CorrelationID", "element", "sent as", "why"]
AGENCY_SETTINGS = {
    "CARE_NEMSIS_AGENCY_STATE_ID": "dAgency.01",
    "CARE_NEMSIS_AGENCY_NUMBER": "dAgency.02 and eResponse.01",
    "CARE_NEMSIS_AGENCY_STATE": "dAgency.04",
}


def record_gaps(record: NaloxoneAdministration, sent: list) -> list[tuple[str, str, str]]:
    """(element, what was sent, why) for every element of the record's report that went as a
    Not Value, and the record's own approximations."""
    gaps = [(name, NOT_VALUE_NAMES[nv.code], nv.reason) for name, nv in sent]
    if record.doses > 1 and record.dose_mg is not None:
        gaps.append(
            (
                "eMedications.01",
                "one administration",
                f"{record.doses} doses of {record.dose_mg} mg share one time; sent as one "
                f"administration of {_dose_total(record)} mg.",
            )
        )
    return gaps


def _held_back(record: NaloxoneAdministration) -> tuple[str, str, str] | None:
    if record.encounter.assignment.cleared_at is None:
        return (
            "eTimes.13",
            "held back",
            "The unit is not back in service yet (NEMSIS has no Not Value for it); the record "
            "goes in an export after the unit clears.",
        )
    return None


def _csv_row(record: NaloxoneAdministration) -> list[Any]:
    return [
        str(record.encounter_id),
        record.encounter.assignment.incident.cad_number,
        str(record.pk),
        record.administered_at.isoformat(timespec="seconds"),
        NOT_PRIOR_TO_UNIT,
        RXNORM_NALOXONE,
        ROUTES.get(record.route, NOT_RECORDED),
        NOT_RECORDED if record.dose_mg is None else str(_dose_total(record)),
        NOT_RECORDED if record.dose_mg is None else MILLIGRAMS,
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


def _check_settings() -> None:
    missing = {
        name: [f"{element} needs it; set it in the environment."]
        for name, element in AGENCY_SETTINGS.items()
        if not getattr(settings, name, "")
    }
    if missing:
        raise NemsisInvalid(
            "The NEMSIS agency settings are not filled in: " + ", ".join(missing) + ".",
            fields=missing,
        )


def export_naloxone(actor: Any, records: list[NaloxoneAdministration]) -> NemsisExport:
    """The export of these records, refused unless it passes NEMSIS's XSD, and its audit row."""
    _check_settings()
    held = {str(r.pk): gap for r in records if (gap := _held_back(r))}
    ready = [r for r in records if str(r.pk) not in held]
    if not ready:
        raise NemsisInvalid(
            "No record is ready for NEMSIS: a record goes once its unit is back in service.",
            fields={"records": [gap[2] for gap in held.values()] or ["None were chosen."]},
        )
    root, sent = build_xml(ready)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    errors = nemsis_errors(xml)
    if errors:
        raise NemsisInvalid(
            f"The file fails NEMSIS 3.5.1's EMSDataSet XSD and was not written: {errors[0]}",
            fields={"EMSDataSet": errors[:50]},
        )
    gaps = {str(r.pk): record_gaps(r, sent[str(r.pk)]) for r in ready}
    gaps |= {record_id: [gap] for record_id, gap in held.items()}
    gap_rows = [[record_id, *gap] for record_id, items in gaps.items() for gap in items]
    record_audit(
        actor=actor,
        action="interop.nemsis_export",
        object_type="care.naloxoneadministration",
        after={"count": len(ready), "ids": sorted(str(r.pk) for r in ready), "held": sorted(held)},
    )
    return NemsisExport(
        xml=xml,
        csv=_csv(CSV_COLUMNS, [_csv_row(record) for record in ready]),
        gaps_csv=_csv(GAP_COLUMNS, gap_rows),
        count=len(ready),
        gaps=gaps,
    )
