"""Sync over plain HTTP: pull the change feed, push a tablet's offline changes."""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.authentication import request_device
from server.accounts.permissions import ALL_ROLES
from server.commands import earliest_time
from server.errors import Forbidden
from server.feed.retention import refuse_expired
from server.feed.services import events_after, parse_cursors
from server.sync.access import readable_streams
from server.sync.push import MAX_BATCH, PUSH_ROLES, push_batch
from server.sync.snapshot import take_snapshot


class PullView(APIView):
    """Events after the caller's cursors, a page at a time (`has_more` says another page waits).

    A device stores the answer's cursors only after it has applied the page. A cursor older than
    the events the server keeps answers 410 `cursor_expired`: load the snapshot instead.
    """

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
        # Below a person's floor is another crew's: start there, as if they had read it.
        cursors = {s: max(seq, allowed.floor(s)) for s, seq in cursors.items()}
        refuse_expired(cursors)
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


class PushSerializer(serializers.Serializer):
    device_time = serializers.DateTimeField()
    mutations = serializers.ListField(
        child=serializers.DictField(), allow_empty=True, max_length=MAX_BATCH
    )

    def validate_device_time(self, value: datetime.datetime) -> datetime.datetime:
        # The skew is measured and corrected, but a clock years off (or at the calendar's edge,
        # where sums overflow) says nothing a mutation's time can be translated by.
        limit = datetime.timedelta(days=settings.CARE_MAX_DEVICE_SKEW_DAYS)
        if value < earliest_time() or value > timezone.now() + limit:
            raise serializers.ValidationError(
                "The tablet's clock reads "
                f"{value.isoformat()}: set its date and time, then send again."
            )
        return value

    def validate_mutations(self, value: list[dict]) -> list[dict]:
        # A mutation is answered by its id; one without a usable id can't be answered at all.
        bad = {}
        for i, mutation in enumerate(value):
            try:
                uuid.UUID(str(mutation.get("id")))
            except ValueError:
                bad[str(i)] = {"id": ["Every change needs its UUID id."]}
        if bad:
            raise serializers.ValidationError(bad)
        return value


class PushView(APIView):
    """A tablet's queued changes, answered one by one (see server/sync/push.py).

    Each result is `{id, status, reason?, code?, server?}`; a `duplicate` also says the first
    answer's status in `original_status`; a result with `retryable: true` was a fault of the
    server's, nothing was kept, and the same mutation should be sent again.
    """

    roles = {"POST": PUSH_ROLES}

    @extend_schema(request=PushSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        device = request_device(request)
        if device is None:
            raise Forbidden("Offline changes are sent by a signed-in tablet, with its token.")
        form = PushSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return Response(push_batch(actor=request.user, device=device, **form.validated_data))


class SnapshotView(APIView):
    """What the caller may see now, with the cursors to read events from afterwards."""

    roles = {"GET": ALL_ROLES}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(take_snapshot(request))
