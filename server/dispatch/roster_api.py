"""Rosters and sign-on requests over REST: thin views over their commands and selectors."""

from __future__ import annotations

import datetime

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.authentication import run_for_request as _run
from server.accounts.policies import DISPATCHERS, FIELD
from server.dispatch import commands, presenters, selectors
from server.dispatch.models import SignOnRequestStatus
from server.dispatch.shifts import today
from server.errors import InvalidInput

READERS = (*DISPATCHERS, *FIELD)


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
