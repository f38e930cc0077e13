"""An incident as an EIDO document, for the CAD: GET /api/v1/incidents/{id}/eido and every
delivery. Built from dispatch records only — this module imports nothing from `care`, so no
clinical record (services, naloxone, referrals, encounter notes) can leave in an EIDO.
"""

from __future__ import annotations

import datetime
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

AGENCIES = {
    UnitKind.CARE: ("agency-care", "CARE", "Community Assisted Response and Engagement (CARE)"),
    UnitKind.SPD: ("agency-spd", "SPD", "Seattle Police Department"),
}


# The local unit status (`unitStatusInternal`) a unit carries while its emergency is not ended.
EMERGENCY_STATUS = "Emergency"


def _iso(value) -> str:
    return value.isoformat()


def incident_eido(incident: Incident) -> dict[str, Any]:
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
    cad_key = (
        CadIncident.objects.filter(incident=incident).values_list("cad_key", flat=True).first()
    )
    component: dict[str, Any] = {
        "$id": ids["incident"],
        "lastUpdateTimeStamp": _iso(updated),
        "incidentTypeCommonRegistryText": _apco_type(incident),
        "incidentTypeInternalCode": incident.call_type.code,
        "internalIncidentId": cad_key or incident.cad_number,
        "incidentTrackingIdentifier": str(incident.pk),
        "incidentCommonPriorityNumber": incident.priority,
        "incidentStatusCommonRegistryText": INCIDENT_STATUS[incident.status],
        "locationReference": {"$ref": ids["location"]},
        "agencyReference": [{"$ref": a[0]} for a in AGENCIES.values()],
        "emergencyResourceReference": [{"$ref": _unit_id(a)} for a in assignments],
    }
    if incident.beat:
        component["beatOrDispatchGroupText"] = incident.beat
    if incident.status in DISPOSITION:
        component["dispositionComponent"] = {
            "dispositionCommonRegistryText": DISPOSITION[incident.status],
            "dispositionDateTimeStamp": _iso(incident.closed_at or updated),
        }
    doc: dict[str, Any] = {
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": settings.CARE_EIDO_ISSUER,
        "incidentComponent": [component],
        "locationComponent": [_location(incident, ids["location"], updated)],
        "agencyComponent": [
            {
                "$id": ref,
                "lastUpdateTimeStamp": _iso(incident.created_at),
                "agencyIdentifier": ident,
                "agencyName": name,
            }
            for ref, ident, name in AGENCIES.values()
        ],
        "emergencyResourceComponent": [
            _unit(a, ids["incident"], emergencies.get(a.pk, [])) for a in assignments
        ],
    }
    cautions = [_caution(a) for a in assignments if a.status == AssignmentStatus.SCENE_UNSAFE]
    if cautions:
        doc["cautionComponent"] = cautions
        component["cautionReference"] = [{"$ref": c["$id"]} for c in cautions]
    return doc


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
    unit: dict[str, Any] = {
        "$id": _unit_id(a),
        "lastUpdateTimeStamp": _iso(max([a.updated_at, *map(_emergency_updated, emergencies)])),
        "emergencyResourceName": a.unit.call_sign,
        "emergencyResourceTypeText": "CARE team" if a.kind == UnitKind.CARE else "Police unit",
        "primaryUnitStatusRegistryText": UNIT_STATUS[a.status],
        "activeOnIncidentId": incident_ref,
        "agencyReference": {"$ref": AGENCIES[a.kind][0]},
    }
    if emergencies:
        unit["unitEmergencyStateComponent"] = [_emergency_state(e) for e in emergencies]
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


def _emergency_state(emergency: Emergency) -> dict[str, Any]:
    """The unit's emergency as the three times the board keeps. EIDO 1.0's emergency resource
    has no element for a responder's emergency (its unit statuses carry no times), so this is
    CARE Field's own component, named in EIDO's manner; see docs/cad-integration.md."""
    state = {
        "$id": f"emergency-{emergency.pk}",
        "lastUpdateTimeStamp": _iso(_emergency_updated(emergency)),
        "unitEmergencyStartTimeStamp": _iso(emergency.started_at),
    }
    if emergency.acknowledged_at:
        state["unitEmergencyAcknowledgedTimeStamp"] = _iso(emergency.acknowledged_at)
    if emergency.ended_at:
        state["unitEmergencyEndTimeStamp"] = _iso(emergency.ended_at)
    return state


def _caution(a: Assignment) -> dict[str, Any]:
    caution = {
        "$id": f"caution-{a.pk}",
        "lastUpdateTimeStamp": _iso(a.updated_at),
        "cautionTypeRegistryText": "Scene Unsafe",
        "cautionSourceResourceReference": {"$ref": _unit_id(a)},
    }
    if a.safety_note:
        caution["cautionComment"] = a.safety_note
    return caution


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
    return {"$id": ref, "lastUpdateTimeStamp": _iso(updated), "locationByValue": pidf}
