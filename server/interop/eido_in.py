"""Reading an inbound EIDO document into the facts of one CAD call.

Structure is checked against `schema/eido-inbound.schema.json`; what a schema can't say (times
with offsets, `$ref`s that point at a component of the document, a PIDF-LO that parses) is
checked here. Every refusal names the JSON pointer (RFC 6901) of the field that was wrong.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from server.errors import CareFieldError
from server.interop.pidf import PidfError, Where, parse_pidf

SCHEMA_DIR = Path(__file__).parent / "schema"
CAD_NUMBER_CHARS = re.compile(r"[^A-Za-z0-9-]+")
REQUIRED = re.compile(r"^'([^']+)' is a required property$")
COMPONENT_ARRAYS = (
    "incidentComponent",
    "callComponent",
    "locationComponent",
    "notesComponent",
    "cautionComponent",
    "agencyComponent",
    "emergencyResourceComponent",
)


class EidoInvalid(CareFieldError):
    """A document that is JSON but not an EIDO we can take: 422, each field by JSON pointer."""

    status = 422
    code = "invalid_eido"


@dataclass
class CadCall:
    cad_key: str  # the CAD's own incident id: what later documents are matched on
    cad_number: str
    incident_type: str = ""  # APCO common incident type
    internal_code: str = ""  # the CAD's own call type
    priority: int | None = None
    beat: str = ""
    cad_status: str = ""
    disposition: str = ""
    received_at: datetime.datetime | None = None
    narrative: str = ""
    where: Where = field(default_factory=Where)
    location_by_reference: bool = False
    cautions: list[str] = field(default_factory=list)
    # ($id, lastUpdateTimeStamp, kind) of every component: what ordering is decided on.
    components: list[tuple[str, datetime.datetime, str]] = field(default_factory=list)
    has_incident: bool = True


@functools.cache
def _validator() -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / "eido-inbound.schema.json").read_text())
    return Draft202012Validator(schema)


def pointer(path) -> str:
    """RFC 6901: `/` between parts, `~` as `~0` and `/` as `~1`."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"


def read_document(doc: Any) -> CadCall:
    if not isinstance(doc, dict):
        raise EidoInvalid("An EIDO document is a JSON object.", fields={"/": ["Not an object."]})
    errors: dict[str, list[str]] = {}
    for error in _validator().iter_errors(doc):
        path = list(error.absolute_path)
        missing = REQUIRED.match(error.message) if error.validator == "required" else None
        if missing:
            path.append(missing.group(1))  # name the missing field itself, not its parent
        errors.setdefault(pointer(path), []).append(_say(error))
    if errors:
        raise EidoInvalid(_summary(errors), fields=errors)
    call = _read(doc, errors)
    if errors:
        raise EidoInvalid(_summary(errors), fields=errors)
    return call


def _say(error) -> str:
    # jsonschema's message quotes the offending value, which may be long or odd: keep it short.
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def _summary(errors: dict[str, list[str]]) -> str:
    first = next(iter(errors.items()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"This is not an EIDO document we can take: {first[0]}: {first[1][0]}{more}"


def _time(value: str, where: str, errors: dict) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors.setdefault(where, []).append("Not a date-time (RFC 3339).")
        return None
    if moment.tzinfo is None:
        errors.setdefault(where, []).append("The time needs its offset, e.g. -08:00.")
        return None
    return moment


def _read(doc: dict, errors: dict) -> CadCall:
    by_id: dict[str, tuple[str, dict]] = {}
    components = []
    for kind in COMPONENT_ARRAYS:
        for i, comp in enumerate(doc.get(kind) or []):
            at = f"/{kind}/{i}"
            if comp["$id"] in by_id:
                errors.setdefault(f"{at}/$id", []).append("Another component has this $id.")
            by_id[comp["$id"]] = (kind, comp)
            stamp = _time(comp["lastUpdateTimeStamp"], f"{at}/lastUpdateTimeStamp", errors)
            if stamp is not None:
                components.append((comp["$id"], stamp, kind))

    def resolve(ref: dict | None, at: str, kind: str) -> dict | None:
        if ref is None:
            return None
        target = by_id.get(ref["$ref"])
        if target is None or target[0] != kind:
            errors.setdefault(f"{at}/$ref", []).append(f"Points at no {kind} in this document.")
            return None
        return target[1]

    incident = (doc.get("incidentComponent") or [None])[0]
    calls = doc.get("callComponent") or []
    if incident is not None:
        key = (
            incident.get("internalIncidentId")
            or incident.get("incidentTrackingIdentifier")
            or incident["$id"]
        )
    else:
        key = calls[0]["$id"]  # a call transferred before the CAD made an incident of it
    call = CadCall(cad_key=key, cad_number=cad_number(key), has_incident=incident is not None)
    call.components = components
    location = None
    if incident is not None:
        call.incident_type = incident["incidentTypeCommonRegistryText"].strip()
        call.internal_code = (incident.get("incidentTypeInternalCode") or "").strip()
        call.priority = incident.get("incidentCommonPriorityNumber")
        call.beat = (incident.get("beatOrDispatchGroupText") or "").strip()
        call.cad_status = (incident.get("incidentStatusCommonRegistryText") or "").strip()
        disposition = incident.get("dispositionComponent") or {}
        call.disposition = " ".join(
            d
            for d in (
                disposition.get("dispositionCommonRegistryText", "").strip(),
                disposition.get("dispositionInternalText", "").strip(),
            )
            if d
        )
        location = resolve(
            incident.get("locationReference"),
            "/incidentComponent/0/locationReference",
            "locationComponent",
        )
        for i, ref in enumerate(incident.get("notesReference") or []):
            resolve(ref, f"/incidentComponent/0/notesReference/{i}", "notesComponent")
        for i, ref in enumerate(incident.get("cautionReference") or []):
            resolve(ref, f"/incidentComponent/0/cautionReference/{i}", "cautionComponent")
    starts = []
    for i, c in enumerate(calls):
        if "callStartTimestamp" in c:
            at = f"/callComponent/{i}/callStartTimestamp"
            starts.append(_time(c["callStartTimestamp"], at, errors))
        if location is None and c.get("locationReference"):
            location = resolve(
                c["locationReference"], f"/callComponent/{i}/locationReference", "locationComponent"
            )
    starts = [s for s in starts if s is not None]
    call.received_at = min(starts) if starts else None
    if location is None and doc.get("locationComponent"):
        location = doc["locationComponent"][0]
    if location is not None:
        call.where, call.location_by_reference = _where(location, by_id, errors)
    notes = sorted(
        (n for n in doc.get("notesComponent") or [] if (n.get("notesActionComment") or "").strip()),
        key=lambda n: n.get("notesDateTimeStamp") or n["lastUpdateTimeStamp"],
    )
    call.narrative = "\n".join(n["notesActionComment"].strip() for n in notes)
    call.cautions = [
        c["cautionTypeRegistryText"].strip()
        for c in doc.get("cautionComponent") or []
        if (c.get("cautionTypeRegistryText") or "").strip()
    ]
    return call


def _where(location: dict, by_id: dict, errors: dict) -> tuple[Where, bool]:
    kind_index = next(
        (
            i
            for i, c in enumerate([v[1] for v in by_id.values() if v[0] == "locationComponent"])
            if c is location
        ),
        0,
    )
    at = f"/locationComponent/{kind_index}/locationByValue"
    where = Where()
    if location.get("locationByValue"):
        try:
            where = parse_pidf(location["locationByValue"])
        except PidfError as exc:
            errors.setdefault(at, []).append(f"Not a PIDF-LO document we can read: {exc}.")
    cross = (location.get("crossStreetByValue") or "").strip()
    if cross and where.address:
        where = Where(where.latitude, where.longitude, f"{where.address} (at {cross})")
    elif cross and not where.address:
        where = Where(where.latitude, where.longitude, cross)
    return where, bool(location.get("locationByReferenceUrl")) and not where.has_point


def cad_number(key: str) -> str:
    """The CAD's incident id as a CAD number: letters, digits and dashes, at most 32."""
    cleaned = CAD_NUMBER_CHARS.sub("-", key).strip("-")
    return (cleaned or "CAD")[-32:]
