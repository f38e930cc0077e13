"""Publishing to the change feed (the outbox) and reading it back.

`publish_event` runs inside the caller's transaction: the event row commits with the change it
describes, or not at all. The channel layer hears of it only after commit; it is the fast path,
the database is the truth.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

from server.errors import InvalidInput
from server.sync.models import Event, Stream

logger = logging.getLogger(__name__)

STREAM_NAME = re.compile(r"^(dispatch|directory|unit:[0-9]+|user:[0-9]+)$")


def unit_stream(unit_id: int) -> str:
    return f"unit:{unit_id}"


def user_stream(user_id: int) -> str:
    return f"user:{user_id}"


def group_name(stream: str) -> str:
    """Channel layer group names allow only [a-zA-Z0-9-_.]."""
    return "feed." + stream.replace(":", ".")


def publish_event(
    *, stream: str, kind: str, data: dict[str, Any], mutation_id: uuid.UUID | None = None
) -> Event:
    if not STREAM_NAME.match(stream):
        raise ValueError(f"not a stream name: {stream!r}")
    seq = _next_seq(stream)
    if seq is None:  # the stream's first event
        Stream.objects.get_or_create(name=stream)
        seq = _next_seq(stream)
    event = Event.objects.create(
        stream_id=stream, seq=seq, kind=kind, data=data, mutation_id=mutation_id
    )
    transaction.on_commit(lambda: _push(event))
    return event


def _next_seq(stream: str) -> int | None:
    """Take the stream's next number, or None when the stream has no row yet.

    The UPDATE takes the row lock that orders writers to one stream; it is held until the
    caller's transaction ends, so a later seq can never commit before an earlier one. RETURNING
    (PostgreSQL, SQLite 3.35+) reads the number in the same statement: this runs for every event.
    """
    table = connection.ops.quote_name(Stream._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1 WHERE name = %s RETURNING last_seq",
            [stream],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _push(event: Event) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            group_name(event.stream_id), {"type": "feed.event", "event": event.as_frame()}
        )
    except Exception:  # the database has it; a device will replay it
        logger.warning("live push failed for %s#%s", event.stream_id, event.seq, exc_info=True)


def device_group(device_id) -> str:
    """Every open socket of a device listens here, so revoking it can close them all."""
    return f"device.{device_id}"


def close_device_sockets(*, device_id, code: int, token_id: int | None = None) -> None:
    """Ask every process to close this device's open sockets (only those signed in with
    `token_id`, when given). Call it from `transaction.on_commit`: a socket must not close for a
    revocation that rolled back."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            device_group(device_id), {"type": "device.closed", "code": code, "token": token_id}
        )
    except Exception:  # the token is dead in the database either way; sockets re-check it
        logger.warning("could not close sockets of device %s", device_id, exc_info=True)


def parse_cursors(raw: str) -> dict[str, int]:
    """`unit:7:41,dispatch:3` -> {"unit:7": 41, "dispatch": 3}."""
    cursors: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        stream, _, seq = part.rpartition(":")
        if not stream or not STREAM_NAME.match(stream) or not seq.isdigit():
            raise InvalidInput(
                f"'{part}' is not a cursor; write stream:seq, e.g. unit:7:41 or dispatch:0.",
                fields={"cursors": [f"bad cursor '{part}'"]},
            )
        cursors[stream] = int(seq)
    return cursors


def events_after(cursors: dict[str, int], *, limit: int = 500) -> tuple[list[Event], bool]:
    """Events after each cursor, in stream order; and whether more remain beyond `limit`."""
    events: list[Event] = []
    has_more = False
    for stream, seq in sorted(cursors.items()):
        room = limit - len(events)
        if room <= 0:
            has_more = True
            break
        batch = list(
            Event.objects.filter(stream_id=stream, seq__gt=seq).order_by("seq")[: room + 1]
        )
        if len(batch) > room:
            has_more = True
            batch = batch[:room]
        events.extend(batch)
    return events, has_more
