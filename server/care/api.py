"""Care records API. Officers never reach these views (deny by default); responders reach only
their own unit's records; every read of a person's record is audited."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.authentication import request_device
from server.accounts.models import Role
from server.accounts.permissions import role_of
from server.audit.services import record_audit
from server.care import services
from server.care.models import (
    DirectoryService,
    Encounter,
    NaloxoneResponse,
    NaloxoneRoute,
    Referral,
    ReferralStatus,
)
from server.care.presenters import encounter_for_follow_up
from server.errors import NotFound

CARE_WRITERS = (Role.CARE_RESPONDER, Role.ADMIN)
CARE_READERS = (Role.CARE_RESPONDER, Role.COORDINATOR, Role.ADMIN)


class DirectoryServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = DirectoryService
        fields = [
            "id",
            "name",
            "organization",
            "category",
            "description",
            "phone",
            "address",
            "hours",
        ]


class EncounterWriteSerializer(serializers.Serializer):
    assignment = serializers.UUIDField()
    started_at = serializers.DateTimeField(required=False)
    base_version = serializers.IntegerField(required=False, min_value=1)
    people_contacted = serializers.IntegerField(required=False, min_value=0, max_value=50)
    client_initials = serializers.CharField(required=False, allow_blank=True, max_length=4)
    client_birth_year = serializers.IntegerField(
        required=False, allow_null=True, min_value=1900, max_value=2100
    )
    disposition = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)


class ServiceGivenSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    encounter = serializers.UUIDField()
    service = serializers.CharField(max_length=40)
    occurred_at = serializers.DateTimeField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class NaloxoneSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    encounter = serializers.UUIDField()
    administered_at = serializers.DateTimeField()
    doses = serializers.IntegerField(required=False, default=1, min_value=1, max_value=10)
    dose_mg = serializers.DecimalField(max_digits=6, decimal_places=2)
    route = serializers.ChoiceField(choices=NaloxoneRoute.choices, default=NaloxoneRoute.INTRANASAL)
    response = serializers.ChoiceField(
        choices=NaloxoneResponse.choices, default=NaloxoneResponse.UNKNOWN
    )
    ems_called = serializers.BooleanField(required=False, default=False)

    def validate_dose_mg(self, value):
        if not (0 < value <= services.MAX_NALOXONE_MG):
            raise serializers.ValidationError(
                f"A dose is more than 0 and at most {services.MAX_NALOXONE_MG} mg."
            )
        return value


class NaloxoneEditSerializer(serializers.Serializer):
    doses = serializers.IntegerField(required=False, min_value=1, max_value=10)
    dose_mg = serializers.DecimalField(required=False, max_digits=6, decimal_places=2)
    route = serializers.ChoiceField(required=False, choices=NaloxoneRoute.choices)
    response = serializers.ChoiceField(required=False, choices=NaloxoneResponse.choices)
    ems_called = serializers.BooleanField(required=False)


class ReferralCreateSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    encounter = serializers.UUIDField()
    service = serializers.UUIDField()
    consent = serializers.BooleanField()
    made_at = serializers.DateTimeField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReferralUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(required=False, choices=ReferralStatus.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    follow_up_due = serializers.DateField(required=False)
    base_version = serializers.IntegerField(required=False, min_value=1)


class SurveySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    encounter = serializers.UUIDField()
    consent = serializers.BooleanField()
    answers = serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=5))
    answered_at = serializers.DateTimeField()
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


def _validated(serializer_class, data, **kwargs) -> dict:
    form = serializer_class(data=data, **kwargs)
    form.is_valid(raise_exception=True)
    return form.validated_data


def _visible_encounters(user):
    queryset = Encounter.objects.select_related("assignment__unit", "disposition")
    role = role_of(user)
    if role in (Role.COORDINATOR, Role.ADMIN):
        return queryset
    if role == Role.CARE_RESPONDER and user.unit_id:
        return queryset.filter(assignment__unit_id=user.unit_id)
    return queryset.none()


def _audit_view(request, obj, action: str) -> None:
    with transaction.atomic():
        record_audit(actor=request.user, device=request_device(request), action=action, obj=obj)


def encounter_detail(encounter: Encounter) -> dict:
    return services.encounter_data(encounter) | {
        "services": [
            services.service_data(s) for s in encounter.services.select_related("service")
        ],
        "naloxone": [services.naloxone_data(n) for n in encounter.naloxone.all()],
        "referrals": [services.referral_data(r) for r in encounter.referrals.all()],
        "surveys": encounter.surveys.count(),
    }


class DirectoryView(APIView):
    roles = {"GET": CARE_READERS}

    @extend_schema(
        responses=DirectoryServiceSerializer(many=True),
        parameters=[OpenApiParameter("q", str, description="Search name/organization")],
    )
    def get(self, request):
        services_ = DirectoryService.objects.filter(active=True)
        q = request.query_params.get("q", "").strip()
        if q:
            services_ = services_.filter(name__icontains=q) | services_.filter(
                organization__icontains=q
            )
        return Response(DirectoryServiceSerializer(services_, many=True).data)


class EncounterView(APIView):
    roles = {"GET": CARE_READERS, "PUT": CARE_WRITERS}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, encounter_id):
        encounter = _visible_encounters(request.user).filter(pk=encounter_id).first()
        if encounter is None:
            raise NotFound("No such encounter.")
        _audit_view(request, encounter, "encounter.viewed")
        if role_of(request.user) == Role.COORDINATOR:  # minimum necessary (docs/security.md)
            referrals = [services.referral_data(r) for r in encounter.referrals.all()]
            return Response(encounter_for_follow_up(encounter, referrals))
        return Response(encounter_detail(encounter))

    @extend_schema(
        request=EncounterWriteSerializer,
        responses=OpenApiTypes.OBJECT,
        summary="Create or merge-edit the encounter (field by field on versions)",
    )
    def put(self, request, encounter_id):
        data = dict(_validated(EncounterWriteSerializer, request.data))
        existed = Encounter.objects.filter(pk=encounter_id).exists()
        encounter = services.upsert_encounter(
            actor=request.user,
            device=request_device(request),
            encounter_id=encounter_id,
            assignment_id=data.pop("assignment"),
            started_at=data.pop("started_at", None),
            base_version=data.pop("base_version", None),
            changes=data,
        )
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(services.encounter_data(encounter), status=code)


class ServiceGivenView(APIView):
    roles = {"POST": CARE_WRITERS}

    @extend_schema(request=ServiceGivenSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = dict(_validated(ServiceGivenSerializer, request.data))
        record = services.record_service_given(
            actor=request.user,
            device=request_device(request),
            service_id=data.pop("id"),
            encounter_id=data.pop("encounter"),
            **data,
        )
        return Response(services.service_data(record), status=status.HTTP_201_CREATED)


class NaloxoneView(APIView):
    roles = {"POST": CARE_WRITERS}

    @extend_schema(request=NaloxoneSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = dict(_validated(NaloxoneSerializer, request.data))
        record = services.record_naloxone(
            actor=request.user,
            device=request_device(request),
            administration_id=data.pop("id"),
            encounter_id=data.pop("encounter"),
            **data,
        )
        return Response(services.naloxone_data(record), status=status.HTTP_201_CREATED)


class NaloxoneDetailView(APIView):
    roles = {"PATCH": CARE_WRITERS}

    @extend_schema(request=NaloxoneEditSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, administration_id):
        changes = _validated(NaloxoneEditSerializer, request.data)
        record = services.update_naloxone(
            actor=request.user,
            device=request_device(request),
            administration_id=administration_id,
            changes=dict(changes),
        )
        return Response(services.naloxone_data(record))


class ReferralListView(APIView):
    roles = {"GET": CARE_READERS, "POST": CARE_WRITERS}

    @extend_schema(
        responses=list[dict],
        operation_id="referrals_list",
        parameters=[OpenApiParameter("status", str), OpenApiParameter("overdue", bool)],
    )
    def get(self, request):
        referrals = Referral.objects.select_related("service", "encounter__assignment__unit")
        role = role_of(request.user)
        if role == Role.CARE_RESPONDER:
            referrals = referrals.filter(encounter__assignment__unit_id=request.user.unit_id)
        if request.query_params.get("status"):
            referrals = referrals.filter(status=request.query_params["status"])
        if request.query_params.get("overdue") in ("1", "true"):
            referrals = referrals.filter(follow_up_due__lt=timezone.localdate()).exclude(
                status__in=[ReferralStatus.CONNECTED, ReferralStatus.CLOSED]
            )
        return Response(
            [
                services.referral_data(r)
                | {"service_name": r.service.name, "unit": r.encounter.assignment.unit.call_sign}
                for r in referrals[:200]
            ]
        )

    @extend_schema(request=ReferralCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = dict(_validated(ReferralCreateSerializer, request.data))
        record = services.create_referral(
            actor=request.user,
            device=request_device(request),
            referral_id=data.pop("id"),
            encounter_id=data.pop("encounter"),
            **data,
        )
        return Response(services.referral_data(record), status=status.HTTP_201_CREATED)


class ReferralDetailView(APIView):
    roles = {"GET": CARE_READERS, "PATCH": (Role.COORDINATOR, Role.ADMIN, Role.CARE_RESPONDER)}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, referral_id):
        referral = (
            Referral.objects.select_related("service", "encounter__assignment__unit")
            .filter(pk=referral_id)
            .first()
        )
        if referral is None or (
            role_of(request.user) == Role.CARE_RESPONDER
            and referral.encounter.assignment.unit_id != request.user.unit_id
        ):
            raise NotFound("No such referral.")
        _audit_view(request, referral, "referral.viewed")
        return Response(
            services.referral_data(referral)
            | {
                "service_name": referral.service.name,
                "encounter_summary": services.encounter_data(referral.encounter),
                "updates": [
                    {
                        "from": u.from_status,
                        "to": u.to_status,
                        "note": u.note,
                        "follow_up_due": u.follow_up_due,
                        "author": u.author.username,
                        "at": u.created_at,
                    }
                    for u in referral.updates.select_related("author")
                ],
            }
        )

    @extend_schema(request=ReferralUpdateSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, referral_id):
        data = _validated(ReferralUpdateSerializer, request.data)
        record = services.update_referral(
            actor=request.user,
            device=request_device(request),
            referral_id=referral_id,
            **data,
        )
        return Response(services.referral_data(record))


class SurveyView(APIView):
    roles = {"POST": CARE_WRITERS}

    @extend_schema(request=SurveySerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = dict(_validated(SurveySerializer, request.data))
        record = services.record_survey(
            actor=request.user,
            device=request_device(request),
            survey_id=data.pop("id"),
            encounter_id=data.pop("encounter"),
            **data,
        )
        return Response(
            {"id": str(record.id), "encounter": str(record.encounter_id)},
            status=status.HTTP_201_CREATED,
        )
