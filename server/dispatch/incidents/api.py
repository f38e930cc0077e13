"""Incidents and assignments over REST: thin views. Each write is a command
(`server.dispatch.incidents.commands`), each read a selector, each answer a presenter."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.authentication import run_for_request as _run
from server.accounts.models import Role
from server.accounts.permissions import FIELD_ROLES
from server.dispatch.geography import locate
from server.dispatch.incidents import commands, geocoding, presenters, selectors
from server.dispatch.models import OPEN_INCIDENT_STATUSES, UnitKind
from server.errors import InvalidInput, NotFound

DISPATCH_ROLES = selectors.DISPATCH_ROLES


class SuggestedUnitsView(APIView):
    roles = {"GET": DISPATCH_ROLES}

    @extend_schema(responses=presenters.SuggestedUnitsSerializer)
    def get(self, request, incident_id):
        incident = selectors.incidents().filter(pk=incident_id).first()
        if incident is None:
            raise NotFound("No such incident.")
        return Response(
            {
                kind: [
                    presenters.suggested_unit_data(c)
                    for c in selectors.suggested_units(incident, kind)
                ]
                for kind in (UnitKind.CARE, UnitKind.SPD)
            }
        )


class LocateView(APIView):
    roles = {"POST": DISPATCH_ROLES}

    @extend_schema(request=commands.LocateSerializer, responses=presenters.IncidentSerializer)
    def post(self, request, incident_id):
        return Response(_run(commands.locate_incident, request, incident_id=incident_id))


class GeocodeView(APIView):
    roles = {"GET": (Role.DISPATCHER, Role.ADMIN)}
    throttle_scope = "geocode"  # per person and per device (server/throttles.py)

    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True)],
        responses=presenters.GeocodeCandidateSerializer(many=True),
    )
    def get(self, request):
        query = (request.query_params.get("q") or "").strip()
        if not 2 <= len(query) <= geocoding.QUERY_MAX:
            raise InvalidInput(
                "Type at least two characters of the address.",
                fields={"q": [f"Between 2 and {geocoding.QUERY_MAX} characters."]},
            )
        found = geocoding.candidates(query)
        return Response([presenters.geocode_candidate(c) for c in found])


class ScreenPointView(APIView):
    """Where a point falls (pilot area, beat), saving nothing: the pin's live screening."""

    roles = {"GET": DISPATCH_ROLES}

    @extend_schema(
        parameters=[
            OpenApiParameter("latitude", float, required=True),
            OpenApiParameter("longitude", float, required=True),
        ],
        responses=presenters.PlaceSerializer,
    )
    def get(self, request):
        point = commands.LocateSerializer(data=request.query_params)
        if not point.is_valid():
            fields = {k: [str(m) for m in v] for k, v in point.errors.items()}
            raise InvalidInput("Give a latitude and a longitude.", fields=fields)
        place = locate(**{k: point.validated_data[k] for k in ("latitude", "longitude")})
        return Response(presenters.place_data(place))


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
        return Response(presenters.assignment_detail(assignment, request.user))


class TransitionView(APIView):
    roles = {"POST": (*DISPATCH_ROLES, *FIELD_ROLES)}

    @extend_schema(request=commands.TransitionSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, assignment_id):
        return Response(_run(commands.transition_assignment, request, assignment_id=assignment_id))
