"""Care records API. Officers never reach these views (deny by default); responders reach only
their own unit's records; every read of a person's record is audited. Each write is a command
(`server.care.commands`); each read a selector."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.authentication import request_device
from server.accounts.authentication import run_for_request as _run
from server.accounts.models import Role
from server.audit.services import record_audit
from server.care import commands, presenters, selectors
from server.care.models import Encounter
from server.errors import NotFound

CARE_WRITERS = commands.CARE_WRITERS
CARE_READERS = (Role.CARE_RESPONDER, Role.COORDINATOR, Role.ADMIN)


def _audit_view(request, obj, action: str) -> None:
    with transaction.atomic():
        record_audit(actor=request.user, device=request_device(request), action=action, obj=obj)


class DirectoryView(APIView):
    roles = {"GET": CARE_READERS}

    @extend_schema(
        responses=presenters.DirectoryServiceSerializer(many=True),
        parameters=[OpenApiParameter("q", str, description="Search name/organization")],
    )
    def get(self, request):
        found = selectors.directory(request.query_params.get("q", ""))
        return Response(presenters.DirectoryServiceSerializer(found, many=True).data)


class EncounterView(APIView):
    roles = {"GET": CARE_READERS, "PUT": CARE_WRITERS}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, encounter_id):
        encounter = selectors.visible_encounters(request.user).filter(pk=encounter_id).first()
        if encounter is None:
            raise NotFound("No such encounter.")
        _audit_view(request, encounter, "encounter.viewed")
        # Minimum necessary (docs/security.md): the audience's own shape, chosen by the policy.
        return Response(presenters.encounter_for(request.user, encounter))

    @extend_schema(
        request=commands.EncounterWriteSerializer,
        responses=OpenApiTypes.OBJECT,
        summary="Create or merge-edit the encounter (field by field on versions)",
    )
    def put(self, request, encounter_id):
        existed = Encounter.objects.filter(pk=encounter_id).exists()
        answer = _run(commands.upsert_encounter, request, encounter_id=encounter_id)
        return Response(answer, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)


class ServiceGivenView(APIView):
    roles = {"POST": CARE_WRITERS}

    @extend_schema(request=commands.ServiceGivenSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        answer = _run(commands.record_service_given, request)
        return Response(answer, status=status.HTTP_201_CREATED)


class ServiceGivenDetailView(APIView):
    roles = {"DELETE": CARE_WRITERS}

    # The answer says what was taken off (200 with a body, not 204).
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def delete(self, request, service_id):
        """Take a service recorded by mistake off its open call (the tablet's Undo)."""
        return Response(_run(commands.remove_service_given, request, service_id=service_id))


class NaloxoneView(APIView):
    roles = {"POST": CARE_WRITERS}

    @extend_schema(request=commands.NaloxoneSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        return Response(_run(commands.record_naloxone, request), status=status.HTTP_201_CREATED)


class NaloxoneDetailView(APIView):
    roles = {"PATCH": CARE_WRITERS, "DELETE": CARE_WRITERS}

    @extend_schema(request=commands.NaloxoneEditSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, administration_id):
        return Response(
            _run(commands.update_naloxone, request, administration_id=administration_id)
        )

    # The answer says what was taken off (200 with a body, not 204).
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def delete(self, request, administration_id):
        """Take a dose recorded by mistake off its open call (the tablet's Undo)."""
        return Response(
            _run(commands.remove_naloxone, request, administration_id=administration_id)
        )


class ReferralListView(APIView):
    roles = {"GET": CARE_READERS, "POST": CARE_WRITERS}

    @extend_schema(
        responses=list[dict],
        operation_id="referrals_list",
        parameters=[OpenApiParameter("status", str), OpenApiParameter("overdue", bool)],
    )
    def get(self, request):
        referrals = selectors.visible_referrals(request.user)
        if request.query_params.get("status"):
            referrals = referrals.filter(status=request.query_params["status"])
        if request.query_params.get("overdue") in ("1", "true"):
            referrals = selectors.overdue(referrals)
        return Response([presenters.referral_row(r) for r in referrals[:200]])

    @extend_schema(request=commands.ReferralCreateSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        return Response(_run(commands.create_referral, request), status=status.HTTP_201_CREATED)


class ReferralDetailView(APIView):
    roles = {"GET": CARE_READERS, "PATCH": (Role.COORDINATOR, Role.ADMIN, Role.CARE_RESPONDER)}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, referral_id):
        referral = selectors.visible_referrals(request.user).filter(pk=referral_id).first()
        if referral is None:
            raise NotFound("No such referral.")
        _audit_view(request, referral, "referral.viewed")
        return Response(presenters.referral_detail(referral, request.user))

    @extend_schema(request=commands.ReferralUpdateSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, referral_id):
        return Response(_run(commands.update_referral, request, referral_id=referral_id))


class SurveyView(APIView):
    roles = {"POST": CARE_WRITERS}

    @extend_schema(request=commands.SurveySerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        return Response(_run(commands.record_survey, request), status=status.HTTP_201_CREATED)
