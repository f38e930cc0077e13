"""Public program metrics."""

from __future__ import annotations

import datetime

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.permissions import ANYONE
from server.errors import InvalidInput
from server.reports.metrics import LONGEST_RANGE_DAYS, program_metrics


def _date(raw: str | None, default: datetime.date, name: str) -> datetime.date:
    if not raw:
        return default
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"'{raw}' is not a date; write YYYY-MM-DD.",
            fields={name: ["Write the date as YYYY-MM-DD."]},
        ) from exc


class MetricsView(APIView):
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
        today = timezone.localdate()
        end = _date(request.query_params.get("to"), today, "to")
        start = _date(request.query_params.get("from"), end - datetime.timedelta(days=364), "from")
        if start > end:
            raise InvalidInput("'from' is after 'to'.", fields={"from": ["After 'to'."]})
        if (end - start).days >= LONGEST_RANGE_DAYS:
            raise InvalidInput(
                f"Ask for at most {LONGEST_RANGE_DAYS} days at a time.",
                fields={"from": [f"At most {LONGEST_RANGE_DAYS} days before 'to'."]},
            )
        return Response(program_metrics(start=start, end=end))
