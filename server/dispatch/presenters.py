"""How dispatch records look on the change feed and in the API, per audience.

One shape for both, so a tablet that learns an assignment from a push or from a GET sees the same
thing. Nothing here carries CARE clinical records: those travel only on the CARE unit's stream.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from server.dispatch import lifecycle, selectors
from server.dispatch.models import (
    Assignment,
    CallType,
    Incident,
    ScreeningQuestion,
    Unit,
)
from server.dispatch.protocol import current_protocol


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
        "source": incident.source,
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


def assignments_with_partners(assignments: list[Assignment]) -> list[dict]:
    """`assignment_data` for many, reading every partner in one query."""
    incident_ids = {a.incident_id for a in assignments}
    partners: dict = {}
    for p in Assignment.objects.filter(incident_id__in=incident_ids).select_related("unit"):
        partners.setdefault(p.incident_id, []).append(p)
    return [
        assignment_data(a, partners=[p for p in partners.get(a.incident_id, []) if p.pk != a.pk])
        for a in assignments
    ]


def assignment_detail(assignment: Assignment) -> dict:
    data = assignments_with_partners([assignment])[0]
    data["transitions"] = [
        {
            "from": t.from_status,
            "to": t.to_status,
            "occurred_at": t.occurred_at,
            "recorded_at": t.recorded_at,
            "note": t.note,
        }
        for t in assignment.transitions.all()
    ]
    return data


def dispatch_result(assignments: list[Assignment]) -> dict:
    return {
        "incident": str(assignments[0].incident_id) if assignments else None,
        "assignments": [
            {
                "id": str(a.id),
                "unit": a.unit_id,
                "call_sign": a.unit.call_sign,
                "kind": a.kind,
                "status": a.status,
            }
            for a in assignments
        ],
    }


class EligibilitySerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    recommendation = serializers.CharField()


class IncidentSerializer(serializers.ModelSerializer):
    call_type = serializers.CharField(source="call_type.code")
    eligibility = serializers.SerializerMethodField()
    assignments = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "cad_number",
            "call_type",
            "priority",
            "address",
            "latitude",
            "longitude",
            "narrative",
            "received_at",
            "screening",
            "beat",
            "area",
            "in_pilot_area",
            "eligibility",
            "status",
            "dispatch_model",
            "response",
            "override_reason",
            "police_only_reason",
            "resolution_note",
            "hotline_name",
            "cancel_reason",
            "created_at",
            "dispatched_at",
            "closed_at",
            "assignments",
        ]

    @extend_schema(responses=EligibilitySerializer)
    def get_eligibility(self, obj: Incident) -> dict:
        return {
            "eligible": obj.eligible,
            "reasons": obj.eligibility_reasons,
            "recommendation": obj.recommendation,
        }

    def get_assignments(self, obj: Incident) -> list[dict]:
        return [
            {
                "id": str(a.id),
                "unit": a.unit_id,
                "call_sign": a.unit.call_sign,
                "kind": a.kind,
                "status": a.status,
                "delivered_at": a.delivered_at,
            }
            for a in obj.assignments.all()
        ]


class UnitSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = Unit
        fields = ["id", "call_sign", "kind", "status", "home_beat"]

    def get_status(self, obj: Unit) -> str:
        if not obj.in_service:
            return "out_of_service"
        return "committed" if getattr(obj, "open_assignments", None) else "available"


def incident_detail(incident: Incident) -> dict:
    """An incident as the API answers it (read again, with its assignments)."""
    return IncidentSerializer(selectors.incidents().get(pk=incident.pk)).data


def dispatch_protocol() -> dict:
    """The dispatch half of `GET /api/v1/protocol`."""
    protocol = current_protocol()
    return {
        **lifecycle.published_table(),
        "eligible_call_types": list(
            CallType.objects.filter(eligible=True, active=True).values_list("code", flat=True)
        ),
        "call_types": list(CallType.objects.filter(active=True).values_list("code", flat=True)),
        "screening_questions": list(
            ScreeningQuestion.objects.filter(active=True).values(
                "key", "text", "effect", "required"
            )
        ),
        "pilot_hours": {
            "start": protocol.pilot_start.strftime("%H:%M"),
            "end": protocol.pilot_end.strftime("%H:%M"),
            "timezone": protocol.timezone,
        },
        "dispatch_model": protocol.dispatch_model,
        "hotline_name": protocol.hotline_name,
    }
