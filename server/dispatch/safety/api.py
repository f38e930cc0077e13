"""Shifts, duty status and responder safety over REST: thin views over their commands."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.authentication import run_for_request as _run
from server.accounts.models import Role
from server.accounts.permissions import FIELD_ROLES, role_of
from server.dispatch.incidents import selectors
from server.dispatch.protocol import current_protocol
from server.dispatch.safety import commands as safety_commands
from server.dispatch.safety import presenters
from server.dispatch.units import commands as unit_commands
from server.errors import NotFound

DISPATCH_ROLES = selectors.DISPATCH_ROLES
CARE_ONLY = (Role.CARE_RESPONDER, Role.ADMIN)


class ShiftListView(APIView):
    roles = {"POST": (*FIELD_ROLES, Role.ADMIN)}

    @extend_schema(request=unit_commands.SignOnSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        return Response(_run(unit_commands.sign_on, request), status=status.HTTP_201_CREATED)


class ShiftEndView(APIView):
    roles = {"POST": (*FIELD_ROLES, Role.ADMIN)}

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, shift_id):
        return Response(_run(unit_commands.sign_off, request, shift_id=shift_id))


class DutyStatusView(APIView):
    roles = {"POST": (*FIELD_ROLES, *DISPATCH_ROLES)}

    @extend_schema(request=unit_commands.DutyStatusSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, unit_id):
        return Response(_run(unit_commands.set_duty_status, request, unit_id=unit_id))


class EmergencyListView(APIView):
    roles = {"POST": FIELD_ROLES}

    @extend_schema(
        request=safety_commands.EmergencySerializer, responses={201: OpenApiTypes.OBJECT}
    )
    def post(self, request):
        return Response(
            _run(safety_commands.start_emergency, request), status=status.HTTP_201_CREATED
        )


class EmergencyAcknowledgeView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, emergency_id):
        return Response(
            _run(safety_commands.acknowledge_emergency, request, emergency_id=emergency_id)
        )


class EmergencyEndView(APIView):
    roles = {"POST": (*FIELD_ROLES, *DISPATCH_ROLES)}

    @extend_schema(request=safety_commands.EmergencyEndSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, emergency_id):
        return Response(_run(safety_commands.end_emergency, request, emergency_id=emergency_id))


class BackupView(APIView):
    roles = {"POST": CARE_ONLY}

    @extend_schema(request=safety_commands.BackupSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, assignment_id):
        answer = _run(safety_commands.request_backup, request, assignment_id=assignment_id)
        return Response(answer, status=status.HTTP_201_CREATED)


class SendBackupView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(
        request=safety_commands.SendBackupSerializer, responses={201: OpenApiTypes.OBJECT}
    )
    def post(self, request, incident_id):
        answer = _run(safety_commands.send_backup, request, incident_id=incident_id)
        return Response(answer, status=status.HTTP_201_CREATED)


class CheckInView(APIView):
    roles = {"POST": CARE_ONLY}

    @extend_schema(request=safety_commands.CheckInSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, assignment_id):
        answer = _run(safety_commands.record_check_in, request, assignment_id=assignment_id)
        return Response(answer, status=status.HTTP_201_CREATED)


class LapseClearView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(request=safety_commands.LapseClearSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, lapse_id):
        return Response(_run(safety_commands.clear_lapse, request, lapse_id=lapse_id))


class CautionsView(APIView):
    """Safety flags near the call, for the units assigned to it (and dispatch)."""

    roles = {"GET": (*FIELD_ROLES, *DISPATCH_ROLES)}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, incident_id):
        incident = selectors.incidents().filter(pk=incident_id).first()
        in_field = role_of(request.user) in FIELD_ROLES
        if incident is None or (in_field and not selectors.assigned_to(request.user, incident)):
            raise NotFound("No such incident.")
        radius = current_protocol().caution_radius_m
        flags = selectors.caution_history(incident, radius_m=radius)
        return Response(presenters.cautions_data(incident, radius, flags))
