"""An incident as an EIDO document, for the CAD: GET /api/v1/incidents/{id}/eido and every
delivery. Built from dispatch records only — this module imports nothing from `care`, so no
clinical record (services, naloxone, referrals, encounter notes) can leave in an EIDO.
"""

from __future__ import annotations

import datetime
import html
import json
import uuid
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings

from server.dispatch.models import (
    Assignment,
    AssignmentStatus,
    Emergency,
    Incident,
    IncidentStatus,
    UnitKind,
)
from server.interop.models import CadIncident, CallTypeMapping

EIDO_VERSION = "1.0"

# Assignment lifecycle -> NENA Primary Unit Status registry values (docs/cad-integration.md).
UNIT_STATUS = {
    AssignmentStatus.DISPATCHED: "Dispatched",
    AssignmentStatus.ACKNOWLEDGED: "Acknowledged",
    AssignmentStatus.EN_ROUTE: "Enroute",
    AssignmentStatus.ON_SCENE: "OnScene",
    AssignmentStatus.SCENE_SAFE: "OnScene",
    AssignmentStatus.SCENE_UNSAFE: "OnScene",
    AssignmentStatus.CLEARED: "Available",
    AssignmentStatus.CANCELLED: "Available",
}

# Incident status -> incidentStatusCommonRegistryText.
INCIDENT_STATUS = {
    IncidentStatus.NEEDS_LOCATION: "Pending",
    IncidentStatus.RECEIVED: "Pending",
    IncidentStatus.SCREENED: "Pending",
    IncidentStatus.TRIAGE: "Pending",
    IncidentStatus.DISPATCHED: "Dispatched",
    IncidentStatus.ON_SCENE: "OnScene",
    IncidentStatus.CLOSED: "Closed",
    IncidentStatus.CANCELLED: "Cancelled",
    IncidentStatus.RESOLVED_BY_PHONE: "Closed",
    IncidentStatus.REFERRED_TO_HOTLINE: "Closed",
}

# How a call ended -> APCO common disposition codes (the incident's own ending, never what CARE
# did for the person).
DISPOSITION = {
    IncidentStatus.CLOSED: "Assistance Rendered",
    IncidentStatus.CANCELLED: "Cancelled",
    IncidentStatus.RESOLVED_BY_PHONE: "Handled by Telephone",
    IncidentStatus.REFERRED_TO_HOTLINE: "Referred to Other Agency",
}

# (component $id, agencyType from IANA's urn:emergency:service:responder registry, name).
# CARE is a behavioral-health response: "ems" is the registry's nearest service.
AGENCIES = {
    UnitKind.CARE: ("agency-care", "ems", "Community Assisted Response and Engagement (CARE)"),
    UnitKind.SPD: ("agency-spd", "police", "Seattle Police Department"),
}
# The agency that keeps this system, and so updates the incident, its location and the document.
KEEPER = UnitKind.CARE
AGENCY_ROLE = "Responding"

# NENA's Emergency Resource Type registry value, and our own words beside it.
RESOURCE_TYPE = {
    UnitKind.CARE: ("Other", "CARE team"),
    UnitKind.SPD: ("Law Enforcement", "Police unit"),
}
LOCATION_TYPE = "Incident"

# The local unit status (`unitStatusInternal`) a unit carries while its emergency is not ended.
EMERGENCY_STATUS = "Emergency"


def _iso(value) -> str:
    return value.isoformat()


def _ref(target: str) -> dict[str, str]:
    return {"$ref": target}


def _by(kind: str) -> dict[str, Any]:
    """The prologue's owning agency: which of the two agencies last updated a component."""
    return {"updatedByAgencyReference": _ref(AGENCIES[kind][0])}


def document_id(incident: Incident) -> str:
    return f"eido-{incident.pk}"


def incident_for_eido_id(incident_id: str) -> Incident | None:
    """The incident an EIDO IncidentId names: the CAD's key for a call it sent, our CAD number,
    our incident component's `$id`, or the incident's own id."""
    text = incident_id.strip()[:200]
    found = Incident.objects.select_related("call_type")
    by_key = CadIncident.objects.filter(cad_key=text).values_list("incident_id", flat=True)
    match = found.filter(pk__in=by_key).first() or found.filter(cad_number=text).first()
    if match is not None:
        return match
    own = text.removeprefix("incident-")
    try:
        return found.filter(pk=uuid.UUID(own)).first()
    except ValueError:
        return None


def incident_eido(incident: Incident) -> dict[str, Any]:
    """The incident as one EIDO 1.0 document, valid against NENA's schema
    (server/interop/standards/nena-eido-1.0) in every state of the call."""
    assignments = list(
        Assignment.objects.filter(incident=incident)
        .select_related("unit")
        .order_by("dispatched_at")
    )
    emergencies = _emergencies_by_assignment(incident, assignments)
    stamps = [incident.created_at, *(a.updated_at for a in assignments)]
    stamps += [_emergency_updated(e) for held in emergencies.values() for e in held]
    if incident.closed_at:
        stamps.append(incident.closed_at)
    updated = max(stamps)
    ids = {"incident": f"incident-{incident.pk}", "location": f"location-{incident.pk}"}
    component = _incident(incident, ids, updated)
    doc: dict[str, Any] = {
        "$id": document_id(incident),
        "lastUpdateTimeStamp": _iso(updated),
        **_by(KEEPER),
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": settings.CARE_EIDO_ISSUER,
        "incidentComponent": component,
        "locationComponent": [_location(incident, ids["location"], updated)],
        "agencyComponent": [_agency(kind, incident) for kind in AGENCIES],
        "dispatchComponent": _dispatches(assignments),
        "emergencyResourceComponent": [
            _unit(a, ids["incident"], emergencies.get(a.pk, [])) for a in assignments
        ],
    }
    unsafe = [a for a in assignments if a.status == AssignmentStatus.SCENE_UNSAFE]
    if unsafe:
        # NENA links a caution from a note (the incident has no caution reference of its own):
        # the incident points at the note, the note at the caution.
        doc["cautionComponent"] = [_caution(a) for a in unsafe]
        doc["notesComponent"] = [_caution_note(a) for a in unsafe]
        component["notesReference"] = [_ref(n["$id"]) for n in doc["notesComponent"]]
    return doc


def _incident(incident: Incident, ids: dict[str, str], updated) -> dict[str, Any]:
    cad_key = (
        CadIncident.objects.filter(incident=incident).values_list("cad_key", flat=True).first()
    )
    component: dict[str, Any] = {
        "$id": ids["incident"],
        "lastUpdateTimeStamp": _iso(updated),
        **_by(KEEPER),
        "incidentTypeCommonRegistryText": _apco_type(incident),
        "incidentTypeInternalCode": incident.call_type.code,
        "internalIncidentId": cad_key or incident.cad_number,
        "documentIdentification": [str(incident.pk)],
        "incidentCommonPriorityNumber": incident.priority,
        "incidentStatusCommonRegistryText": [INCIDENT_STATUS[incident.status]],
        "incidentStatusInternalText": [incident.status],
        "locationReference": [_ref(ids["location"])],
    }
    if incident.beat:
        component["beatOrDispatchGroupText"] = incident.beat
    if incident.status in DISPOSITION:
        component["dispositionComponent"] = [
            {
                "$id": f"disposition-{incident.pk}",
                "lastUpdateTimeStamp": _iso(incident.closed_at or updated),
                **_by(KEEPER),
                "dispositionCommonRegistryCode": DISPOSITION[incident.status],
                "dispositionPrimaryIndicator": True,
            }
        ]
    return component


def _agency(kind: str, incident: Incident) -> dict[str, Any]:
    ref, agency_type, name = AGENCIES[kind]
    return {
        "$id": ref,
        "lastUpdateTimeStamp": _iso(incident.created_at),
        **_by(kind),
        "agencyRoleDescriptionRegistryText": [AGENCY_ROLE],
        "agencyType": [agency_type],
        "agencyJcard": json.dumps(
            ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", name]]]
        ),
        "incidentOwningAgencyIndicator": kind == KEEPER,
    }


def _dispatches(assignments: list[Assignment]) -> list[dict[str, Any]]:
    """One dispatch per agency that sent units: which units it sent."""
    found = []
    for kind in AGENCIES:
        sent = [a for a in assignments if a.kind == kind]
        if sent:
            found.append(
                {
                    "$id": f"dispatch-{sent[0].incident_id}-{kind}",
                    "lastUpdateTimeStamp": _iso(max(a.dispatched_at for a in sent)),
                    **_by(kind),
                    "agencyReference": _ref(AGENCIES[kind][0]),
                    "emergencyResourceReference": [_ref(_unit_id(a)) for a in sent],
                }
            )
    return found


def _apco_type(incident: Incident) -> str:
    mapped = (
        CallTypeMapping.objects.filter(source="apco", call_type=incident.call_type)
        .values_list("cad_code", flat=True)
        .first()
    )
    return mapped or incident.call_type.code


def _unit_id(assignment: Assignment) -> str:
    return f"unit-{assignment.pk}"


def _unit(a: Assignment, incident_ref: str, emergencies: list[Emergency]) -> dict[str, Any]:
    registry_type, own_type = RESOURCE_TYPE[a.kind]
    unit: dict[str, Any] = {
        "$id": _unit_id(a),
        "lastUpdateTimeStamp": _iso(max([a.updated_at, *map(_emergency_updated, emergencies)])),
        **_by(a.kind),
        "emergencyResourceName": a.unit.call_sign,
        "emergencyResourceTypeCommonRegistryText": registry_type,
        "emergencyResourceTypeInternalText": own_type,
        "resourceAttributeRegistryText": [],
        "primaryUnitStatusRegistryText": UNIT_STATUS[a.status],
        "secondaryUnitStatusRegistryText": [],
        # The responders on a unit stay out of the CAD's copy: no agent components.
        "agentReference": [],
        "activeOnIncidentId": incident_ref,
    }
    if emergencies:
        unit["unitEmergencyStateComponent"] = [_emergency_state(a, e) for e in emergencies]
        if any(e.ended_at is None for e in emergencies):
            # A CAD that reads only EIDO 1.0's own fields still sees the unit is in trouble.
            unit["unitStatusInternal"] = [EMERGENCY_STATUS]
    return unit


def _emergencies_by_assignment(
    incident: Incident, assignments: list[Assignment]
) -> dict[Any, list[Emergency]]:
    """Each emergency pressed on this call, under its unit's assignment to the call (the latest
    dispatched before the press, should the unit have been sent twice)."""
    found: dict[Any, list[Emergency]] = {}
    for emergency in Emergency.objects.filter(incident=incident).order_by("started_at"):
        of_unit = [a for a in assignments if a.unit_id == emergency.unit_id]
        before = [a for a in of_unit if a.dispatched_at <= emergency.started_at] or of_unit
        if before:
            found.setdefault(before[-1].pk, []).append(emergency)
    return found


def _emergency_updated(emergency: Emergency) -> datetime.datetime:
    times = (emergency.received_at, emergency.acknowledged_at, emergency.ended_at)
    return max(t for t in times if t is not None)


def _emergency_state(a: Assignment, emergency: Emergency) -> dict[str, Any]:
    """The unit's emergency in the shape of NENA's `UnitEmergencyStateType`. EIDO 1.0 defines
    the type but gives it no place in the document, so it rides on the unit it belongs to;
    see docs/cad-integration.md."""
    state = {
        "$id": f"emergency-{emergency.pk}",
        "lastUpdateTimeStamp": _iso(_emergency_updated(emergency)),
        **_by(a.kind),
        "severity": "highest",
        "emergencyStateType": "Emergency Button",
        "startTimestamp": _iso(emergency.started_at),
    }
    if emergency.acknowledged_at:
        state["acknowledgementTimestamp"] = _iso(emergency.acknowledged_at)
    if emergency.ended_at:
        state["stopTimestamp"] = _iso(emergency.ended_at)
    return state


def _caution(a: Assignment) -> dict[str, Any]:
    return {
        "$id": f"caution-{a.pk}",
        "lastUpdateTimeStamp": _iso(a.updated_at),
        **_by(a.kind),
        "cautionTypeInternalText": "Scene unsafe",
        "cautionTypeCommonRegistryText": "Scene Unsafe",
        "cautionSeverity": "high",
        "cautionSource": _unit_id(a),
        "startDate": _iso(a.updated_at),
    }


def _caution_note(a: Assignment) -> dict[str, Any]:
    """The officer's safety note, as the notes component the caution points back to."""
    return {
        "$id": f"caution-note-{a.pk}",
        "lastUpdateTimeStamp": _iso(a.updated_at),
        **_by(a.kind),
        "notesActionComments": html.escape(a.safety_note or "Scene marked unsafe."),
        "cautionReference": [_ref(f"caution-{a.pk}")],
    }


def _location(incident: Incident, ref: str, updated) -> dict[str, Any]:
    parts = []
    if incident.latitude is not None and incident.longitude is not None:
        parts.append(
            '<gp:geopriv><gp:location-info><gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'
            f"<gml:pos>{incident.latitude:.6f} {incident.longitude:.6f}</gml:pos>"
            "</gml:Point></gp:location-info></gp:geopriv>"
        )
    if incident.address:
        # Our address is one line of text, kept whole as civicAddress LOC (RFC 5139).
        parts.append(
            "<gp:geopriv><gp:location-info><ca:civicAddress>"
            f"<ca:LOC>{escape(incident.address)}</ca:LOC>"
            "</ca:civicAddress></gp:location-info></gp:geopriv>"
        )
    pidf = (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
        'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
        'xmlns:gml="http://www.opengis.net/gml" '
        'xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" '
        f'entity="pres:incident-{incident.pk}@care-field"><tuple id="location">'
        f"<status>{''.join(parts)}</status></tuple></presence>"
    )
    return {
        "$id": ref,
        "lastUpdateTimeStamp": _iso(updated),
        **_by(KEEPER),
        "locationTypeDescriptionRegistryText": LOCATION_TYPE,
        "locationByValue": pidf,
    }
