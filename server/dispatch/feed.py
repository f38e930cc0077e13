"""How dispatch records look on the change feed and in the API, per audience.

One shape for both, so a tablet that learns an assignment from a push or from a GET sees the same
thing. Nothing here carries CARE clinical records: those travel only on the CARE unit's stream.
"""

from __future__ import annotations

from server.dispatch.models import Assignment, Incident


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def incident_summary(incident: Incident) -> dict:
    """What a unit in the field is told about the call."""
    return {
        "id": str(incident.id),
        "cad_number": incident.cad_number,
        "call_type": incident.call_type.code,
        "priority": incident.priority,
        "address": incident.address,
        "latitude": incident.latitude,
        "longitude": incident.longitude,
        "beat": incident.beat,
        "narrative": incident.narrative,
        "received_at": _iso(incident.received_at),
        "status": incident.status,
    }


def assignment_data(assignment: Assignment, *, partners: list[Assignment] | None = None) -> dict:
    """An assignment with its call and the other unit(s) on it (their state, not their records)."""
    if partners is None:
        partners = [a for a in assignment.incident.assignments.all() if a.pk != assignment.pk]
    return {
        "id": str(assignment.id),
        "unit": assignment.unit_id,
        "call_sign": assignment.unit.call_sign,
        "kind": assignment.kind,
        "status": assignment.status,
        "version": assignment.version,
        "dispatched_at": _iso(assignment.dispatched_at),
        "delivered_at": _iso(assignment.delivered_at),
        "acknowledged_at": _iso(assignment.acknowledged_at),
        "on_scene_at": _iso(assignment.on_scene_at),
        "scene_safe_at": _iso(assignment.scene_safe_at),
        "cleared_at": _iso(assignment.cleared_at),
        "safety_note": assignment.safety_note,
        "incident": incident_summary(assignment.incident),
        "partners": [
            {
                "assignment": str(p.id),
                "unit": p.unit_id,
                "call_sign": p.unit.call_sign,
                "kind": p.kind,
                "status": p.status,
                "scene_safe_at": _iso(p.scene_safe_at),
                # Why the officer called the scene unsafe: CARE decides how to stay back on it.
                "safety_note": p.safety_note,
            }
            for p in partners
        ],
    }
