"""Reading an inbound EIDO document into the facts of one CAD call.

The gate is NENA's own schema (server/interop/standards/nena-eido-1.0, through
`conformance.eido_validator`): what it refuses is `invalid_eido`, each field named by its JSON
pointer (RFC 6901). What it accepts is read here: references are arrays of `{"$ref": ...}`
resolved to the components of the same document (location, person, notes, agency, agent), a
location is taken by value (PIDF-LO) or by reference, and every incident, call and location
component counts. What the schema can't say and a CAD still must send right (times with their
offsets) is checked here too. A reference to nothing in the document, or a PIDF-LO we can't
read, doesn't sink a call: it is taken in needing a location, with a warning naming the field.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

import lxml.html
from lxml import etree

from server.commands import check_time_bounds
from server.errors import CareFieldError, InvalidInput
from server.interop.conformance import eido_validator
from server.interop.pidf import PidfError, Where, parse_pidf

CAD_NUMBER_CHARS = re.compile(r"[^A-Za-z0-9-]+")
REQUIRED = re.compile(r"^'([^']+)' is a required property$")
# Components (each an array of objects with `$id` and `lastUpdateTimeStamp`) whose change
# matters to the call; `incidentComponent` is NENA's one object, read apart.
COMPONENT_ARRAYS = (
    "callComponent",
    "locationComponent",
    "notesComponent",
    "cautionComponent",
    "agencyComponent",
    "agentComponent",
    "personComponent",
    "emergencyResourceComponent",
    "dispatchComponent",
)


class EidoInvalid(CareFieldError):
    """A document that is JSON but not an EIDO we can take: 422, each field by JSON pointer."""

    status = 422
    code = "invalid_eido"


class EidoNoCall(CareFieldError):
    """A valid EIDO that carries no incident and no call: nothing a dispatcher could act on."""

    status = 422
    code = "eido_without_call"


class EidoOutsideProgram(CareFieldError):
    """A valid EIDO whose times fall before the program's records begin or ahead of our clock:
    the CAD's clock or data to fix, never a time to clamp."""

    status = 422
    code = "eido_time_out_of_range"


class _Findings(dict):
    """What is wrong with a document, by JSON pointer; `outside` names the times out of range."""

    def __init__(self) -> None:
        super().__init__()
        self.outside: set[str] = set()


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
    # {JSON pointer: [reason]} for what was passed over (a dangling $ref, an unreadable PIDF-LO).
    warnings: dict[str, list[str]] = field(default_factory=dict)


def pointer(path) -> str:
    """RFC 6901: `/` between parts, `~` as `~0` and `/` as `~1`."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "/"


def read_document(doc: Any) -> CadCall:
    if not isinstance(doc, dict):
        raise EidoInvalid("An EIDO document is a JSON object.", fields={"/": ["Not an object."]})
    errors: dict[str, list[str]] = {}
    for error in eido_validator().iter_errors(doc):
        path = list(error.absolute_path)
        missing = REQUIRED.match(error.message) if error.validator == "required" else None
        if missing:
            path.append(missing.group(1))  # name the missing field itself, not its parent
        errors.setdefault(pointer(path), []).append(_say(error))
    if errors:
        raise EidoInvalid(_summary(errors), fields=errors)
    found = _Findings()
    call = _read(doc, found)
    if found and set(found) <= found.outside:
        raise EidoOutsideProgram(
            _summary(found, "The document's times are out of range"), fields=found
        )
    if found:
        raise EidoInvalid(_summary(found), fields=found)
    return call


def _say(error) -> str:
    # jsonschema's message quotes the offending value, which may be long or odd: keep it short.
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def _summary(
    errors: dict[str, list[str]], lead: str = "This is not an EIDO document we can take"
) -> str:
    first = next(iter(errors.items()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{lead}: {first[0]}: {first[1][0]}{more}"


def _time(value: str, where: str, errors: dict) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors.setdefault(where, []).append("Not a date-time (RFC 3339).")
        return None
    if moment.tzinfo is None:
        errors.setdefault(where, []).append("The time needs its offset, e.g. -08:00.")
        return None
    try:
        # The same bounds as every other door: a call that starts in 9999 (or in year 1) is a
        # CAD's error to fix, never a time to clamp; a component stamped in the future would
        # make every later update of it look older.
        check_time_bounds(moment, field_name=where)
    except InvalidInput as exc:
        errors.setdefault(where, []).extend(exc.fields[where])
        if isinstance(errors, _Findings):
            errors.outside.add(where)
        return None
    return moment


class _Components:
    """Every component of the document by `$id` (the first one, should two share it), with the
    JSON pointer it stands at, and the time each was last updated."""

    def __init__(self, doc: dict, errors: dict) -> None:
        self.by_id: dict[str, tuple[str, dict, str]] = {}
        stamps: dict[str, tuple[datetime.datetime, str]] = {}
        for kind, at, comp in _each_component(doc):
            self.by_id.setdefault(comp["$id"], (kind, comp, at))
            stamp = _time(comp["lastUpdateTimeStamp"], f"{at}/lastUpdateTimeStamp", errors)
            if stamp is not None and (comp["$id"] not in stamps or stamp > stamps[comp["$id"]][0]):
                stamps[comp["$id"]] = (stamp, kind)
        self.stamps = [(cid, stamp, kind) for cid, (stamp, kind) in stamps.items()]

    def resolve(self, refs: Any, at: str, kind: str, warnings: dict) -> list[tuple[dict, str]]:
        """The components of `kind` an array of references points at, in its order."""
        found = []
        for n, ref in enumerate(refs if isinstance(refs, list) else [refs]):
            target = ref.get("$ref") if isinstance(ref, dict) else None
            hit = self.by_id.get(target) if isinstance(target, str) else None
            if hit is None or hit[0] != kind:
                warnings.setdefault(f"{at}/{n}", []).append(
                    f"Points at no {kind} in this document; passed over."
                )
                continue
            found.append((hit[1], hit[2]))
        return found


def _each_component(doc: dict):
    incident = doc.get("incidentComponent")
    if isinstance(incident, dict):
        yield "incidentComponent", "/incidentComponent", incident
    for kind in COMPONENT_ARRAYS:
        for n, comp in enumerate(doc.get(kind) or []):
            yield kind, f"/{kind}/{n}", comp


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _read(doc: dict, errors: dict) -> CadCall:
    parts = _Components(doc, errors)
    incident = doc.get("incidentComponent")
    calls = doc.get("callComponent") or []
    if isinstance(incident, dict):
        key = _text(incident.get("internalIncidentId")) or incident["$id"]
    elif calls:
        key = calls[0]["$id"]  # a call transferred before the CAD made an incident of it
    else:
        raise EidoNoCall(
            "The document carries no incident and no call: there is nothing to dispatch.",
            fields={"/incidentComponent": ["Neither an incident nor a call component."]},
        )
    call = CadCall(cad_key=key, cad_number=cad_number(key), has_incident=incident is not None)
    call.components = parts.stamps
    if isinstance(incident, dict):
        _read_incident(call, incident)
    call.received_at = _first_start(calls, errors)
    location = _location_of(doc, parts, call.warnings)
    if location is not None:
        call.where, call.location_by_reference = _where(*location, call.warnings)
    call.narrative = _narrative(doc, {cid: stamp for cid, stamp, _ in parts.stamps})
    call.cautions = _cautions(doc)
    return call


def _first_start(calls: list[dict], errors: dict) -> datetime.datetime | None:
    """When the first of the document's calls began: when the call was received."""
    starts = [
        _time(c["callStartTimestamp"], f"/callComponent/{i}/callStartTimestamp", errors)
        for i, c in enumerate(calls)
    ]
    starts = [s for s in starts if s is not None]
    return min(starts) if starts else None


def _cautions(doc: dict) -> list[str]:
    found = [
        _text(c.get("cautionTypeCommonRegistryText")) or _text(c.get("cautionTypeInternalText"))
        for c in doc.get("cautionComponent") or []
    ]
    return [c for c in found if c]


def _read_incident(call: CadCall, incident: dict) -> None:
    call.incident_type = _text(incident["incidentTypeCommonRegistryText"])
    call.internal_code = _text(incident.get("incidentTypeInternalCode"))
    call.priority = incident.get("incidentCommonPriorityNumber")
    call.beat = _text(incident.get("beatOrDispatchGroupText"))
    statuses = [_text(s) for s in incident.get("incidentStatusCommonRegistryText") or []]
    call.cad_status = next((s for s in statuses if s), "")
    call.disposition = " ".join(
        " ".join(
            t
            for t in (
                _text(d.get("dispositionCommonRegistryCode")),
                _text(d.get("dispositionDescriptionText")),
            )
            if t
        )
        for d in incident.get("dispositionComponent") or []
    ).strip()


def _location_of(doc: dict, parts: _Components, warnings: dict) -> tuple[dict, str] | None:
    """The call's place: the incident's first location that resolves, then a call's, then a
    person's; with no reference at all, the document's first location."""
    holders = []
    incident = doc.get("incidentComponent")
    if isinstance(incident, dict):
        holders.append((incident, "/incidentComponent"))
    holders += [(c, f"/callComponent/{n}") for n, c in enumerate(doc.get("callComponent") or [])]
    holders += [
        (p, f"/personComponent/{n}") for n, p in enumerate(doc.get("personComponent") or [])
    ]
    referenced = False
    for holder, at in holders:
        refs = holder.get("locationReference")
        if not refs:
            continue
        referenced = True
        found = parts.resolve(refs, f"{at}/locationReference", "locationComponent", warnings)
        if found:
            return found[0]
    locations = doc.get("locationComponent") or []
    if locations and not referenced:
        return locations[0], "/locationComponent/0"
    return None


def _where(location: dict, at: str, warnings: dict) -> tuple[Where, bool]:
    where = Where()
    if location.get("locationByValue"):
        try:
            where = parse_pidf(location["locationByValue"])
        except PidfError as exc:
            warnings.setdefault(f"{at}/locationByValue", []).append(
                f"Not a PIDF-LO document we can read ({exc}); the call waits for a location."
            )
    cross = [_cross_street(c) for c in location.get("crossStreetByValue") or []]
    cross = [c for c in cross if c]
    if cross:
        streets = " & ".join(cross)
        address = f"{where.address} (at {streets})" if where.address else streets
        where = Where(where.latitude, where.longitude, address)
    by_reference = bool(location.get("locationByReferenceUrl")) and not where.has_point
    return where, by_reference


def _cross_street(value: str) -> str:
    """A cross street, which NENA sends as PIDF-LO (its civic address) or CADs as plain text."""
    if value.lstrip().startswith("<"):
        try:
            return parse_pidf(value).address
        except PidfError:
            return ""
    return _text(value)


def _narrative(doc: dict, stamps: dict[str, datetime.datetime]) -> str:
    """The notes' text, oldest first (by when each note was last updated)."""
    notes = [n for n in doc.get("notesComponent") or [] if _note_text(n)]
    never = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    notes.sort(key=lambda n: stamps.get(n["$id"], never))
    return "\n".join(_note_text(n) for n in notes)


def _note_text(note: dict) -> str:
    """A note's text: NENA's notes are HTML5, read as their text, never as markup."""
    html = note.get("notesActionComments")
    if not isinstance(html, str) or not html.strip():
        return ""
    if "<" not in html and "&" not in html:
        return html.strip()
    try:
        return " ".join(
            lxml.html.fragment_fromstring(html, create_parent="div").text_content().split()
        )
    except (etree.ParserError, ValueError):
        return html.strip()


def cad_number(key: str) -> str:
    """The CAD's incident id as a CAD number: letters, digits and dashes, at most 32."""
    cleaned = CAD_NUMBER_CHARS.sub("-", key).strip("-")
    return (cleaned or "CAD")[-32:]
