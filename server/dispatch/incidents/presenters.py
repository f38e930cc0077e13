"""How dispatch records look on the change feed and in the API, per audience.

One shape for both, so a tablet that learns an assignment from a push or from a GET sees the same
thing. Nothing here carries CARE clinical records: those travel only on the CARE unit's stream.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from server.accounts.models import Role
from server.dispatch import geography
from server.dispatch.incidents import lifecycle, selectors
from server.dispatch.models import (
    Assignment,
    AssignmentStatus,
    CallType,
    Incident,
    IncidentStatus,
    PoliceOnlyReason,
    ScreeningQuestion,
    Unit,
)
from server.dispatch.policies import reads_crew_words
from server.dispatch.protocol import current_protocol
from server.dispatch.units.presenters import PositionSerializer, unit_position
from server.dispatch.units.presenters import iso as _iso


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


def assignment_detail(assignment: Assignment, viewer) -> dict:
    """An assignment with its history. A note a CARE responder typed on a step is clinical: the
    viewer gets it only when the policy says they read the crew's words (its crew, supervisors)."""
    data = assignments_with_partners([assignment])[0]
    crew_words = reads_crew_words(viewer, assignment)
    steps = []
    for t in assignment.transitions.select_related("actor"):
        step = {
            "from": t.from_status,
            "to": t.to_status,
            "occurred_at": t.occurred_at,
            "recorded_at": t.recorded_at,
        }
        if crew_words or t.actor.role != Role.CARE_RESPONDER:
            step["note"] = t.note
        steps.append(step)
    data["transitions"] = steps
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
            "police_only_code",
            "police_only_note",
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


class SuggestedUnitSerializer(serializers.Serializer):
    unit = serializers.IntegerField()
    call_sign = serializers.CharField()
    kind = serializers.CharField()
    home_beat = serializers.CharField()
    distance_m = serializers.IntegerField(allow_null=True)
    eta_minutes = serializers.FloatField(allow_null=True)
    basis = serializers.ChoiceField(choices=["position", "beat"])
    position = PositionSerializer(allow_null=True)


class SuggestedUnitsSerializer(serializers.Serializer):
    care = SuggestedUnitSerializer(many=True)
    spd = SuggestedUnitSerializer(many=True)


class GeocodeCandidateSerializer(serializers.Serializer):
    label = serializers.CharField()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    source = serializers.ChoiceField(choices=["gazetteer", "geocoder"])


class PlaceSerializer(serializers.Serializer):
    beat = serializers.CharField(allow_blank=True)
    area = serializers.CharField(allow_blank=True)
    in_pilot_area = serializers.BooleanField()


def suggested_unit_data(candidate) -> dict:
    """One row of `GET /incidents/{id}/suggested-units` (`selectors.Candidate`)."""
    unit = candidate.unit
    return {
        "unit": unit.pk,
        "call_sign": unit.call_sign,
        "kind": unit.kind,
        "home_beat": unit.home_beat,
        "distance_m": None if candidate.distance_m is None else round(candidate.distance_m),
        "eta_minutes": candidate.eta_minutes,
        "basis": candidate.basis,
        "position": unit_position(unit),
    }


def geocode_candidate(candidate) -> dict:
    return {
        "label": candidate.label,
        "latitude": candidate.latitude,
        "longitude": candidate.longitude,
        "source": candidate.source,
    }


def place_data(place) -> dict:
    """Where a point falls (`geography.Place`): what the pin's screening shows as it moves."""
    return {"beat": place.beat, "area": place.area, "in_pilot_area": place.in_pilot_area}


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
        "police_only_reasons": list(
            PoliceOnlyReason.objects.for_dispatchers().values("code", "label")
        ),
        # The tablet's position reports and its small map of the call.
        "positions": {
            "moving_interval_seconds": 15,
            "still_interval_seconds": 120,
            "fresh_seconds": settings.CARE_POSITION_FRESH_SECONDS,
        },
        "pilot_area": geography.pilot_outline(),
        "map_tile_url": settings.MAP_TILE_URL,
    }


def map_state(incidents, units: list[tuple[Unit, bool]]) -> dict:
    """Open calls and units as the board's map draws them."""
    from django.utils import timezone

    committed: dict[int, dict] = {}
    calls = []
    for incident in incidents:
        open_ones = [a for a in incident.assignments.all() if a.is_open]
        for a in open_ones:
            committed[a.unit_id] = {
                "incident": str(incident.pk),
                "cad_number": incident.cad_number,
                "status": a.status,
            }
        calls.append(
            {
                "id": str(incident.pk),
                "cad_number": incident.cad_number,
                "call_type": incident.call_type.code,
                "address": incident.address,
                "latitude": incident.latitude,
                "longitude": incident.longitude,
                "status": incident.status,
                "state": map_call_state(incident, open_ones),
                "units": [a.unit.call_sign for a in open_ones],
            }
        )
    return {
        "now": timezone.now().isoformat(),
        "calls": calls,
        "units": [
            {
                "id": u.pk,
                "call_sign": u.call_sign,
                "kind": u.kind,
                "available": available,
                "in_service": u.in_service,
                "position": unit_position(u),
                "assignment": committed.get(u.pk),
            }
            for u, available in units
        ],
    }


def map_call_state(incident: Incident, open_assignments: list[Assignment]) -> str:
    """The colour a call has on the map."""
    if incident.latitude is None or incident.status == IncidentStatus.NEEDS_LOCATION:
        return IncidentStatus.NEEDS_LOCATION
    if any(a.status == AssignmentStatus.SCENE_UNSAFE for a in open_assignments):
        return AssignmentStatus.SCENE_UNSAFE
    if incident.status in (IncidentStatus.ON_SCENE, IncidentStatus.DISPATCHED):
        return incident.status
    return "waiting"
