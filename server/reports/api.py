"""Public program metrics as JSON: one whole published period, or any range for signed-in staff."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.permissions import ANYONE
from server.reports.access import figures_asked


class MetricsView(APIView):
    roles = {"GET": (ANYONE,)}

    @extend_schema(
        description="The program's public figures for one whole closed period (signed-in staff: "
        "any range), small counts withheld. Among them, the figures peer programs publish: "
        "eligible_care_responded and eligible_care_responded_share (% of eligible_calls), "
        "backup_requested, median_backup_to_arrival_minutes over backup_to_arrival_calls, "
        "person_not_found, declined_services, transports.",
        responses=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter(
                "period",
                OpenApiTypes.STR,
                description="A closed month (2026-10), quarter (2026-Q3) or year (2025); "
                "the latest published month when left out. Weeks are not published.",
            ),
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                description="Signed-in administrators, supervisors and coordinators only "
                "(audited); anyone else gets 400. With 'to', any range of days.",
            ),
            OpenApiParameter("to", OpenApiTypes.DATE, description="As 'from'."),
        ],
    )
    def get(self, request):
        return Response(figures_asked(request.query_params, request.user, where="api"))
