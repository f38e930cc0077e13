"""Pull: the change feed over plain HTTP, for a device without a socket."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.permissions import ALL_ROLES
from server.errors import Forbidden
from server.sync.access import readable_streams
from server.sync.services import events_after, parse_cursors


class PullView(APIView):
    roles = {"GET": ALL_ROLES}

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter("cursors", str, description="stream:seq,... e.g. unit:7:41,user:3:0"),
            OpenApiParameter("limit", int),
        ],
    )
    def get(self, request):
        allowed = readable_streams(request.user)
        raw = request.query_params.get("cursors", "")
        cursors = parse_cursors(raw) if raw else dict.fromkeys(allowed, 0)
        refused = sorted(set(cursors) - set(allowed))
        if refused:
            raise Forbidden(f"You may not read {', '.join(refused)}.", streams=refused)
        try:
            limit = max(1, min(int(request.query_params.get("limit", 500)), 1000))
        except ValueError:
            limit = 500
        events, has_more = events_after(cursors, limit=limit)
        new_cursors = dict(cursors)
        for event in events:
            new_cursors[event.stream_id] = event.seq
        return Response(
            {
                "events": [e.as_frame() for e in events],
                "cursors": new_cursors,
                "has_more": has_more,
            }
        )
