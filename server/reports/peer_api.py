"""`GET /api/v1/metrics/peer`: the figures peer programs publish, public and suppressed, over
the same date range rules as `GET /api/v1/metrics`."""

from __future__ import annotations

import datetime

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.permissions import ANYONE
from server.errors import InvalidInput
from server.reports.api import _date
from server.reports.metrics import LONGEST_RANGE_DAYS
from server.reports.peer_figures import peer_figures


class PeerMetricsView(APIView):
    roles = {"GET": (ANYONE,)}
    authentication_classes: list = []

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE),
            OpenApiParameter("to", OpenApiTypes.DATE),
        ],
    )
    def get(self, request):
        end = _date(request.query_params.get("to"), timezone.localdate(), "to")
        start = _date(request.query_params.get("from"), end - datetime.timedelta(days=364), "from")
        if start > end or (end - start).days >= LONGEST_RANGE_DAYS:
            raise InvalidInput(
                f"'from' must be before 'to' and at most {LONGEST_RANGE_DAYS} days earlier.",
                fields={"from": ["Out of range."]},
            )
        return Response(
            {"from": start.isoformat(), "to": end.isoformat(), **peer_figures(start=start, end=end)}
        )
