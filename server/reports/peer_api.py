"""`GET /api/v1/metrics/peer`: the figures peer programs publish, for signed-in supervisors and
coordinators over any range (audited). Not public: an arbitrary range of public answers could be
differenced down to one person; the public gets the same figures in GET /api/v1/metrics, for whole
published periods only."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.models import Role
from server.audit.services import record_audit
from server.reports.access import _range
from server.reports.peer_figures import peer_figures


class PeerMetricsView(APIView):
    roles = {"GET": (Role.ADMIN, Role.COORDINATOR)}

    @extend_schema(
        description="The figures peer programs publish for any range of days (default: the last "
        "365), as GET /api/v1/metrics names and suppresses them. Audited.",
        responses=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE),
            OpenApiParameter("to", OpenApiTypes.DATE),
        ],
    )
    def get(self, request):
        params = request.query_params
        if params.get("from") or params.get("to"):
            start, end = _range(params)
        else:
            end = timezone.localdate()
            start = end - datetime.timedelta(days=364)
        with transaction.atomic():
            record_audit(
                actor=request.user,
                action="metrics.range_viewed",
                object_type="metrics.peer",
                object_id=f"{start.isoformat()}..{end.isoformat()}",
                after={"from": start.isoformat(), "to": end.isoformat(), "where": "peer api"},
            )
        return Response(
            {"from": start.isoformat(), "to": end.isoformat(), **peer_figures(start=start, end=end)}
        )
