"""Output shapes of responder safety: emergencies, backup requests, check-ins and lapses."""

from __future__ import annotations

from server.dispatch.models import BackupReason, DutyStatus
from server.dispatch.protocol import current_protocol
from server.dispatch.units import selectors
from server.dispatch.units.presenters import iso


def emergency_data(emergency) -> dict:
    """What the board, the unit and the SPD units alerted are told: who, where, which call."""
    incident = emergency.incident
    return {
        "id": str(emergency.id),
        "unit": emergency.unit_id,
        "call_sign": emergency.unit.call_sign,
        "kind": emergency.unit.kind,
        "started_at": iso(emergency.started_at),
        "latitude": emergency.latitude,
        "longitude": emergency.longitude,
        "position_at": iso(emergency.position_at),
        "incident": (
            {"id": str(incident.id), "cad_number": incident.cad_number, "address": incident.address}
            if incident
            else None
        ),
        "acknowledged_at": iso(emergency.acknowledged_at),
        "ended_at": iso(emergency.ended_at),
        "alerted_units": emergency.alerted_units,
    }


def emergency_realert_data(emergency, realerted_at) -> dict:
    """A held button pressed again: the emergency as first told, and when it was pressed again."""
    return emergency_data(emergency) | {"realerted_at": iso(realerted_at)}


def cautions_data(incident, radius_m: float, flags: list[dict]) -> dict:
    """`GET /incidents/{id}/cautions`: each flag by the four facts a unit on the call is told,
    named here so that nothing else a flag comes to carry reaches the field."""
    return {
        "incident": str(incident.pk),
        "radius_m": radius_m,
        "cautions": [
            {
                "kind": flag["kind"],
                "date": flag["date"],
                "note": flag["note"],
                "distance_m": flag["distance_m"],
            }
            for flag in flags
        ],
    }


def backup_data(request) -> dict:
    return {
        "id": str(request.id),
        "assignment": str(request.assignment_id),
        "incident": str(request.incident_id),
        "unit": request.assignment.unit_id,
        "call_sign": request.assignment.unit.call_sign,
        "cad_number": request.incident.cad_number,
        "address": request.incident.address,
        "urgent": request.urgent,
        "reason": request.reason.code if request.reason_id else None,
        "reason_label": request.reason.label if request.reason_id else "",
        "requested_at": iso(request.requested_at),
        "answered_by": str(request.answered_by_id) if request.answered_by_id else None,
        "answered_at": iso(request.answered_at),
    }


def check_in_data(check_in) -> dict:
    return {
        "id": str(check_in.id),
        "assignment": str(check_in.assignment_id),
        "at": iso(check_in.at),
        "recorded_at": iso(check_in.recorded_at),
    }


def lapse_data(lapse) -> dict:
    assignment = lapse.assignment
    return {
        "id": lapse.pk,
        "assignment": str(assignment.pk),
        "unit": assignment.unit_id,
        "call_sign": assignment.unit.call_sign,
        "cad_number": assignment.incident.cad_number,
        "address": assignment.incident.address,
        "due_at": iso(lapse.due_at),
        "raised_at": iso(lapse.raised_at),
        "cleared_at": iso(lapse.cleared_at),
        "message": f"{assignment.unit.call_sign} has not answered its check-in on call "
        f"{assignment.incident.cad_number}: reach the team.",
    }


def safety_protocol() -> dict:
    """What a tablet needs for check-ins, backup reasons and duty status (`/api/v1/protocol`)."""
    protocol = current_protocol()
    return {
        "check_in_minutes": protocol.check_in_minutes,
        "check_in_grace_minutes": CHECK_IN_GRACE_MINUTES,
        "emergency_hold_seconds": EMERGENCY_HOLD_SECONDS,
        "caution_radius_m": protocol.caution_radius_m,
        "backup_reasons": [
            {"code": r.code, "label": r.label} for r in BackupReason.objects.filter(active=True)
        ],
        "duty_statuses": [{"value": v, "label": str(lbl)} for v, lbl in DutyStatus.choices],
        "program_hours": selectors.program_hours_table(),
    }


CHECK_IN_GRACE_MINUTES = 2  # no answer this long after a check-in is due raises the alert


EMERGENCY_HOLD_SECONDS = 2  # how long the button is held: no emergency from a brushed screen
