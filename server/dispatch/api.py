"""Dispatch API: thin views. Each write is a command (`server.dispatch.commands`), each read a
selector, each answer a presenter."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.authentication import request_device
from server.accounts.models import Role
from server.accounts.permissions import FIELD_ROLES
from server.dispatch import commands, presenters, selectors
from server.dispatch.models import OPEN_INCIDENT_STATUSES
from server.errors import NotFound

DISPATCH_ROLES = selectors.DISPATCH_ROLES


def _run(command, request, **fixed) -> dict:
    return command(actor=request.user, device=request_device(request), data=request.data, **fixed)


class UnitListView(APIView):
    roles = {"GET": (Role.DISPATCHER, Role.ADMIN, *FIELD_ROLES)}

    @extend_schema(responses=presenters.UnitSerializer(many=True))
    def get(self, request):
        units = selectors.units_with_open_assignments()
        kind = request.query_params.get("kind")
        if kind:
            units = units.filter(kind=kind)
        return Response(presenters.UnitSerializer(units, many=True).data)


class IncidentListView(APIView):
    roles = {"GET": DISPATCH_ROLES, "POST": DISPATCH_ROLES}

    @extend_schema(
        operation_id="incidents_list",
        responses=presenters.IncidentSerializer(many=True),
        parameters=[OpenApiParameter("status", str), OpenApiParameter("open", bool)],
    )
    def get(self, request):
        incidents = selectors.incidents()
        if request.query_params.get("status"):
            incidents = incidents.filter(status=request.query_params["status"])
        if request.query_params.get("open") in ("1", "true"):
            incidents = incidents.filter(status__in=OPEN_INCIDENT_STATUSES)
        return Response(presenters.IncidentSerializer(incidents[:200], many=True).data)

    @extend_schema(
        request=commands.IncidentCreateSerializer, responses={201: presenters.IncidentSerializer}
    )
    def post(self, request):
        return Response(_run(commands.create_incident, request), status=status.HTTP_201_CREATED)


class IncidentDetailView(APIView):
    roles = {"GET": DISPATCH_ROLES}

    @extend_schema(responses=presenters.IncidentSerializer)
    def get(self, request, incident_id):
        incident = selectors.incidents().filter(pk=incident_id).first()
        if incident is None:
            raise NotFound("No such incident.")
        return Response(presenters.IncidentSerializer(incident).data)


class DispatchView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(request=commands.DispatchSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, incident_id):
        answer = _run(commands.dispatch_incident, request, incident_id=incident_id)
        return Response(answer, status=status.HTTP_201_CREATED)


class CancelView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(request=commands.ReasonSerializer, responses=presenters.IncidentSerializer)
    def post(self, request, incident_id):
        return Response(_run(commands.cancel_incident, request, incident_id=incident_id))


class ResolveByPhoneView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(request=commands.NoteSerializer, responses=presenters.IncidentSerializer)
    def post(self, request, incident_id):
        return Response(_run(commands.resolve_by_phone, request, incident_id=incident_id))


class ReferToHotlineView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(request=commands.HotlineSerializer, responses=presenters.IncidentSerializer)
    def post(self, request, incident_id):
        return Response(_run(commands.refer_to_hotline, request, incident_id=incident_id))


class AssignmentListView(APIView):
    roles = {"GET": (*DISPATCH_ROLES, *FIELD_ROLES)}

    @extend_schema(
        responses=list[dict],
        operation_id="assignments_list",
        parameters=[OpenApiParameter("open", bool)],
    )
    def get(self, request):
        assignments = selectors.visible_assignments(request.user)
        if request.query_params.get("open") in ("1", "true"):
            assignments = assignments.open()
        return Response(presenters.assignments_with_partners(list(assignments[:200])))


class AssignmentDetailView(APIView):
    roles = {"GET": (*DISPATCH_ROLES, *FIELD_ROLES)}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, assignment_id):
        assignment = selectors.visible_assignments(request.user).filter(pk=assignment_id).first()
        if assignment is None:
            raise NotFound("No such assignment.")
        return Response(presenters.assignment_detail(assignment))


class TransitionView(APIView):
    roles = {"POST": (*DISPATCH_ROLES, *FIELD_ROLES)}

    @extend_schema(request=commands.TransitionSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, assignment_id):
        return Response(
            _run(commands.transition_assignment, request, assignment_id=assignment_id)
        )
