"""Units, their positions, rosters and sign-on requests over REST: thin views over their
commands and selectors."""

from __future__ import annotations

import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.authentication import run_for_request as _run
from server.accounts.models import Role
from server.accounts.permissions import FIELD_ROLES, role_of
from server.accounts.policies import DISPATCHERS, FIELD
from server.dispatch.models import SignOnRequestStatus
from server.dispatch.units import commands, presenters, selectors
from server.dispatch.units.shifts import today
from server.errors import InvalidInput, PositionRefused

READERS = (*DISPATCHERS, *FIELD)
# Supervisors are the admin role.
POSITION_READERS = (Role.DISPATCHER, Role.ADMIN)


class RosterEntryShape(serializers.Serializer):
    """The answer's shape, for the schema (`presenters.roster_entry_data` makes it)."""

    id = serializers.UUIDField()
    unit = serializers.IntegerField()
    call_sign = serializers.CharField()
    user = serializers.IntegerField()
    username = serializers.CharField()
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    note = serializers.CharField(allow_blank=True)
    cancelled = serializers.BooleanField()


class SignOnRequestShape(serializers.Serializer):
    """The answer's shape, for the schema (`presenters.sign_on_request_data` makes it)."""

    id = serializers.UUIDField()
    unit = serializers.IntegerField()
    call_sign = serializers.CharField()
    user = serializers.IntegerField()
    username = serializers.CharField()
    day = serializers.DateField()
    reason = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=SignOnRequestStatus.choices)
    requested_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)


def _day(raw: str | None) -> datetime.date:
    """A day as the program counts them (local dates): YYYY-MM-DD, or "today" (the server's own,
    so a tablet whose clock or time zone differs asks about the same day the roster means)."""
    if not raw or raw == "today":
        return today()
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput("Give the day as YYYY-MM-DD.", fields={"day": ["Not a date."]}) from exc


class RosterView(APIView):
    """Who is rostered on which unit for a day (today unless `?day=`)."""

    roles = {"GET": READERS, "POST": commands.add_to_roster.roles}

    @extend_schema(
        parameters=[
            OpenApiParameter("day", str, description="YYYY-MM-DD or `today`; today by default")
        ],
        responses=RosterEntryShape(many=True),
    )
    def get(self, request):
        entries = selectors.visible_roster(request.user, _day(request.query_params.get("day")))
        return Response([presenters.roster_entry_data(e) for e in entries])

    @extend_schema(request=commands.RosterSerializer, responses={201: RosterEntryShape})
    def post(self, request):
        answer = _run(commands.add_to_roster, request)
        return Response(answer, status=status.HTTP_201_CREATED)


class RosterCancelView(APIView):
    roles = {"POST": commands.cancel_roster_entry.roles}

    @extend_schema(request=None, responses=RosterEntryShape)
    def post(self, request, entry_id):
        return Response(_run(commands.cancel_roster_entry, request, entry_id=entry_id))


class SignOnRequestView(APIView):
    """A responder's requests to ride a unit they are not rostered on; a supervisor's queue."""

    roles = {"GET": READERS, "POST": commands.request_sign_on.roles}

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=SignOnRequestStatus.values),
            OpenApiParameter("day", str, description="YYYY-MM-DD or `today`; every day if absent"),
        ],
        responses=SignOnRequestShape(many=True),
    )
    def get(self, request):
        requests = selectors.visible_sign_on_requests(request.user)
        wanted = request.query_params.get("status")
        if wanted:
            requests = requests.filter(status=wanted)
        if "day" in request.query_params:  # a tablet asks about the server's today
            requests = requests.filter(day=_day(request.query_params["day"]))
        return Response([presenters.sign_on_request_data(r) for r in requests[:200]])

    @extend_schema(request=commands.SignOnRequestSerializer, responses={201: SignOnRequestShape})
    def post(self, request):
        answer = _run(commands.request_sign_on, request)
        return Response(answer, status=status.HTTP_201_CREATED)


class SignOnDecisionView(APIView):
    roles = {"POST": commands.decide_sign_on_request.roles}

    @extend_schema(request=commands.DecisionSerializer, responses=SignOnRequestShape)
    def post(self, request, request_id):
        return Response(_run(commands.decide_sign_on_request, request, request_id=request_id))


class UnitListView(APIView):
    roles = {"GET": (Role.DISPATCHER, Role.ADMIN, *FIELD_ROLES)}

    @extend_schema(responses=presenters.UnitSerializer(many=True))
    def get(self, request):
        units = selectors.units_with_open_assignments()
        kind = request.query_params.get("kind")
        if kind:
            units = units.filter(kind=kind)
        # Where units are is for dispatchers and supervisors only, never a unit in the field.
        context = {"show_positions": role_of(request.user) in POSITION_READERS}
        return Response(presenters.UnitSerializer(units, many=True, context=context).data)


class UnitPositionView(APIView):
    roles = {"POST": FIELD_ROLES}
    throttle_scope = "position"  # per person and per device (server/throttles.py)

    @extend_schema(
        request=commands.PositionSerializer,
        responses={
            202: presenters.PositionOutcomeSerializer,
            200: OpenApiResponse(
                presenters.PositionOutcomeSerializer,
                description="Older than the unit's last fix (`stale`): not applied.",
            ),
            422: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="An absurd fix (`position_refused`): counted, not applied.",
            ),
        },
    )
    def post(self, request, unit_id):
        answer = _run(commands.report_position, request, unit_id=unit_id)
        if answer["status"] == "refused":
            # Stored and counted by the service; the tablet is told why, in the error shape.
            raise PositionRefused(
                answer["reason"], fields={"position": [answer["reason"]]}, reason=answer["code"]
            )
        # An older fix than the one kept is answered like a duplicate: nothing changed.
        code = status.HTTP_202_ACCEPTED if answer["status"] == "accepted" else status.HTTP_200_OK
        return Response(answer, status=code)
