"""Dispatch API: thin views that parse, call a service, and present the result."""

from __future__ import annotations

import datetime
import re

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.authentication import request_device
from server.accounts.models import Role
from server.accounts.permissions import ALL_ROLES, FIELD_ROLES, role_of
from server.care.models import Disposition, ServiceType, SurveyQuestion
from server.care.services import REFERRAL_FLOW
from server.dispatch import lifecycle, services
from server.dispatch.feed import assignment_data
from server.dispatch.models import (
    Assignment,
    AssignmentStatus,
    CallType,
    Incident,
    PoliceOnlyReason,
    ScreeningQuestion,
    Unit,
)
from server.dispatch.protocol import current_protocol
from server.errors import NotFound

DISPATCH_ROLES = (Role.DISPATCHER, Role.ADMIN)
SCREENING_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")  # ScreeningQuestion.key is a slug


# ---- serializers ---------------------------------------------------------------------------


class ScreeningAnswersSerializer(serializers.Serializer):
    weapons = serializers.BooleanField()
    violence = serializers.BooleanField()
    medical_emergency = serializers.BooleanField()
    imminent_danger = serializers.BooleanField()

    def to_internal_value(self, data):
        # Admins may add questions; answers beyond the four standard ones pass through.
        values = super().to_internal_value(data)
        if isinstance(data, dict):
            errors = {}
            for key, value in data.items():
                if key in values:
                    continue
                if not SCREENING_KEY.fullmatch(key):
                    # Not echoed back: an arbitrary key could break the JSON error answer.
                    raise serializers.ValidationError(
                        "Screening answers are keyed by question, e.g. 'weapons'."
                    )
                try:
                    values[key] = serializers.BooleanField().run_validation(value)
                except serializers.ValidationError as exc:
                    errors[key] = exc.detail  # reported as screening.<key>
            if errors:
                raise serializers.ValidationError(errors)
        return values


class IncidentCreateSerializer(serializers.Serializer):
    cad_number = serializers.RegexField(r"^[A-Za-z0-9-]{1,32}$", max_length=32)
    call_type = serializers.CharField(max_length=120)
    priority = serializers.IntegerField(min_value=1, max_value=9)
    address = serializers.CharField(max_length=200)
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    narrative = serializers.CharField(allow_blank=True, required=False, default="", max_length=4000)
    received_at = serializers.DateTimeField()
    screening = ScreeningAnswersSerializer()

    def validate_received_at(self, value):
        # A little slack for CAD clocks; a call can't be received hours from now.
        if value > timezone.now() + datetime.timedelta(minutes=5):
            raise serializers.ValidationError("This time is in the future.")
        return value


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


class DispatchSerializer(serializers.Serializer):
    care_unit = serializers.IntegerField(required=False, allow_null=True)
    spd_unit = serializers.IntegerField()
    override_reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    # Required when an eligible call goes police only against the recommendation: a code from
    # the police-only reasons (GET /api/v1/protocol). override_reason is then the internal note.
    police_only_code = serializers.CharField(required=False, allow_blank=True, max_length=40)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000)


class HotlineSerializer(serializers.Serializer):
    hotline_name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=AssignmentStatus.choices)
    occurred_at = serializers.DateTimeField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class UnitSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = Unit
        fields = ["id", "call_sign", "kind", "status", "home_beat"]

    def get_status(self, obj: Unit) -> str:
        if not obj.in_service:
            return "out_of_service"
        return "committed" if getattr(obj, "open_assignments", None) else "available"


def _incident_queryset():
    return Incident.objects.select_related("call_type").prefetch_related(
        Prefetch("assignments", queryset=Assignment.objects.select_related("unit"))
    )


def _incident_response(incident_id, code=status.HTTP_200_OK) -> Response:
    incident = _incident_queryset().get(pk=incident_id)
    return Response(IncidentSerializer(incident).data, status=code)


# ---- views ---------------------------------------------------------------------------------


class ProtocolView(APIView):
    roles = {"GET": ALL_ROLES}

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Lifecycle table and catalogs")
    def get(self, request):
        protocol = current_protocol()
        return Response(
            {
                **lifecycle.published_table(),
                "eligible_call_types": list(
                    CallType.objects.filter(eligible=True, active=True).values_list(
                        "code", flat=True
                    )
                ),
                "call_types": list(
                    CallType.objects.filter(active=True).values_list("code", flat=True)
                ),
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
                "services": list(ServiceType.objects.filter(active=True).values("code", "label")),
                "dispositions": list(
                    Disposition.objects.filter(active=True).values("code", "label")
                ),
                "survey_questions": list(
                    SurveyQuestion.objects.filter(active=True).values("key", "text")
                ),
                "naloxone": {
                    "routes": ["intranasal", "intramuscular"],
                    "responses": ["improved", "unchanged", "worse", "unknown"],
                    "max_dose_mg": 16,
                },
                "referral_statuses": {k: list(v) for k, v in REFERRAL_FLOW.items()},
            }
        )


class UnitListView(APIView):
    roles = {"GET": (Role.DISPATCHER, Role.ADMIN, *FIELD_ROLES)}

    @extend_schema(responses=UnitSerializer(many=True))
    def get(self, request):
        units = Unit.objects.prefetch_related(
            Prefetch(
                "assignments",
                to_attr="open_assignments",
                queryset=Assignment.objects.exclude(status__in=["cleared", "cancelled"]),
            )
        )
        kind = request.query_params.get("kind")
        if kind:
            units = units.filter(kind=kind)
        return Response(UnitSerializer(units, many=True).data)


class IncidentListView(APIView):
    roles = {"GET": DISPATCH_ROLES, "POST": DISPATCH_ROLES}

    @extend_schema(
        operation_id="incidents_list",
        responses=IncidentSerializer(many=True),
        parameters=[OpenApiParameter("status", str), OpenApiParameter("open", bool)],
    )
    def get(self, request):
        incidents = _incident_queryset()
        if request.query_params.get("status"):
            incidents = incidents.filter(status=request.query_params["status"])
        if request.query_params.get("open") in ("1", "true"):
            incidents = incidents.exclude(
                status__in=["closed", "cancelled", "resolved_by_phone", "referred_to_hotline"]
            )
        return Response(IncidentSerializer(incidents[:200], many=True).data)

    @extend_schema(request=IncidentCreateSerializer, responses={201: IncidentSerializer})
    def post(self, request):
        form = IncidentCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        incident = services.create_incident(
            actor=request.user, device=request_device(request), **form.validated_data
        )
        return _incident_response(incident.pk, status.HTTP_201_CREATED)


class IncidentDetailView(APIView):
    roles = {"GET": DISPATCH_ROLES}

    @extend_schema(responses=IncidentSerializer)
    def get(self, request, incident_id):
        incident = _incident_queryset().filter(pk=incident_id).first()
        if incident is None:
            raise NotFound("No such incident.")
        return Response(IncidentSerializer(incident).data)


class DispatchView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(request=DispatchSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, incident_id):
        form = DispatchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        assignments = services.dispatch_incident(
            actor=request.user,
            device=request_device(request),
            incident_id=incident_id,
            care_unit=data.get("care_unit"),
            spd_unit=data["spd_unit"],
            override_reason=data.get("override_reason", ""),
            police_only_code=data.get("police_only_code", ""),
        )
        return Response(
            {
                "incident": str(incident_id),
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
            },
            status=status.HTTP_201_CREATED,
        )


class CancelView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(request=ReasonSerializer, responses=IncidentSerializer)
    def post(self, request, incident_id):
        form = ReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.cancel_incident(
            actor=request.user,
            device=request_device(request),
            incident_id=incident_id,
            reason=form.validated_data["reason"],
        )
        return _incident_response(incident_id)


class ResolveByPhoneView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(request=NoteSerializer, responses=IncidentSerializer)
    def post(self, request, incident_id):
        form = NoteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.resolve_by_phone(
            actor=request.user,
            device=request_device(request),
            incident_id=incident_id,
            note=form.validated_data["note"],
        )
        return _incident_response(incident_id)


class ReferToHotlineView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(request=HotlineSerializer, responses=IncidentSerializer)
    def post(self, request, incident_id):
        form = HotlineSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.refer_to_hotline(
            actor=request.user,
            device=request_device(request),
            incident_id=incident_id,
            **form.validated_data,
        )
        return _incident_response(incident_id)


def visible_assignments(user):
    """Dispatch and admins see every assignment; a field unit sees its own; others none."""
    queryset = Assignment.objects.select_related("unit", "incident", "incident__call_type")
    role = role_of(user)
    if role in DISPATCH_ROLES:
        return queryset
    if role in FIELD_ROLES and user.unit_id:
        return queryset.filter(unit_id=user.unit_id)
    return queryset.none()


def _present(assignments: list[Assignment]) -> list[dict]:
    incident_ids = {a.incident_id for a in assignments}
    partners: dict = {}
    for p in Assignment.objects.filter(incident_id__in=incident_ids).select_related("unit"):
        partners.setdefault(p.incident_id, []).append(p)
    return [
        assignment_data(a, partners=[p for p in partners.get(a.incident_id, []) if p.pk != a.pk])
        for a in assignments
    ]


class AssignmentListView(APIView):
    roles = {"GET": (*DISPATCH_ROLES, *FIELD_ROLES)}

    @extend_schema(
        responses=list[dict],
        operation_id="assignments_list",
        parameters=[OpenApiParameter("open", bool)],
    )
    def get(self, request):
        assignments = visible_assignments(request.user)
        if request.query_params.get("open") in ("1", "true"):
            assignments = assignments.exclude(status__in=["cleared", "cancelled"])
        return Response(_present(list(assignments[:200])))


class AssignmentDetailView(APIView):
    roles = {"GET": (*DISPATCH_ROLES, *FIELD_ROLES)}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, assignment_id):
        assignment = visible_assignments(request.user).filter(pk=assignment_id).first()
        if assignment is None:
            raise NotFound("No such assignment.")
        data = _present([assignment])[0]
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
        return Response(data)


class TransitionView(APIView):
    roles = {"POST": (*DISPATCH_ROLES, *FIELD_ROLES)}

    @extend_schema(request=TransitionSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, assignment_id):
        form = TransitionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        assignment = services.transition_assignment(
            actor=request.user,
            device=request_device(request),
            assignment_id=assignment_id,
            to=data["to"],
            occurred_at=data.get("occurred_at"),
            note=data.get("note", ""),
        )
        return Response(_present([assignment])[0])
