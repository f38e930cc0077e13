"""How long the change feed keeps its events, and what a device too far behind is told."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone

from server.audit.services import record_audit
from server.errors import CareFieldError
from server.feed.models import Event, Stream


class CursorExpired(CareFieldError):
    status = 410
    code = "cursor_expired"


def prune_events(*, older_than: datetime.timedelta | None = None) -> int:
    """Delete events older than the retention period, never a stream's last; return how many."""
    if older_than is None:
        older_than = datetime.timedelta(days=settings.CARE_EVENT_RETENTION_DAYS)
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        old = Event.objects.filter(created_at__lt=cutoff).exclude(seq=F("stream__last_seq"))
        deleted, _ = old.delete()
        if deleted:
            record_audit(
                actor=None,
                action="events.pruned",
                object_type="sync.event",
                after={"deleted": deleted, "created_before": cutoff.isoformat()},
            )
    return deleted


def expired_streams(cursors: dict[str, int]) -> list[str]:
    """Streams whose cursor can't be continued by events: the next one was pruned, or the cursor
    is past anything this server ever numbered (its database was replaced)."""
    if not cursors:
        return []
    last = dict(Stream.objects.filter(name__in=cursors).values_list("name", "last_seq"))
    first_kept = dict(
        Event.objects.filter(stream_id__in=cursors)
        .values("stream_id")
        .annotate(first=Min("seq"))
        .values_list("stream_id", "first")
    )
    expired = []
    for stream, seq in sorted(cursors.items()):
        newest = last.get(stream, 0)
        from_the_future = seq > newest
        pruned_past = seq < newest and first_kept.get(stream, newest) > seq + 1
        if from_the_future or pruned_past:
            expired.append(stream)
    return expired


def refuse_expired(cursors: dict[str, int]) -> None:
    expired = expired_streams(cursors)
    if expired:
        raise CursorExpired(
            "This device's copy is older than the events the server keeps for "
            f"{', '.join(expired)}; load a fresh snapshot (GET /api/v1/sync/snapshot) and "
            "read events from its cursors.",
            streams=expired,
        )
