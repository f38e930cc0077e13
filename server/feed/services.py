"""Publishing to the change feed (the outbox) and reading it back.

`publish_event` runs inside the caller's transaction: the event row commits with the change it
describes, or not at all. The channel layer hears of it only after commit; it is the fast path,
the database is the truth.

Numbering an event locks its stream's row until commit (that is what makes commit order equal
seq order). Every service therefore runs its change in `change_transaction`, which holds the
events back and numbers them as the transaction's last statements, streams in name order: a
transaction holding a stream lock then never waits for a record lock, nor for streams out of
order, so stream locks can't close a deadlock cycle, and they are held for the commit only.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction

from server.audit.services import record_audit
from server.errors import InvalidInput
from server.feed.event_kinds import EVENT_KINDS, PRIORITY_KINDS, check_event
from server.feed.models import Event, Stream

logger = logging.getLogger(__name__)

STREAM_NAME = re.compile(r"^(dispatch|directory|referrals|unit:[0-9]+|user:[0-9]+)$")

# Kinds only the tests publish (to exercise numbering, replay and delivery), with any payload.
# Every kind the server publishes is declared, with its payload's shape, in event_kinds.py.
_test_kinds: dict[str, str] = {}


def declare_event_kinds(kinds: dict[str, str]) -> None:
    """More kinds, whose payloads are not checked (the tests' own)."""
    clash = set(kinds) & set(EVENT_KINDS)
    if clash:
        raise ValueError(f"already declared in server/feed/event_kinds.py: {sorted(clash)}")
    _test_kinds.update(kinds)


def is_priority(kind: str) -> bool:
    return kind in PRIORITY_KINDS


def declared_event_kinds() -> dict[str, str]:
    """Every kind a stream may carry, and what it says (GET /api/v1/protocol lists them)."""
    return {kind: declared.says for kind, declared in EVENT_KINDS.items()} | _test_kinds


def _check_event(stream: str, kind: str, data: dict[str, Any]) -> None:
    if kind in _test_kinds:
        return
    check_event(stream, kind, data, shapes=settings.CARE_CHECK_VOCABULARY)


def unit_stream(unit_id: int) -> str:
    return f"unit:{unit_id}"


def user_stream(user_id: int) -> str:
    return f"user:{user_id}"


def group_name(stream: str) -> str:
    """Channel layer group names allow only [a-zA-Z0-9-_.]."""
    return "feed." + stream.replace(":", ".")


def priority_group_name(stream: str) -> str:
    """The stream's priority lane: each socket listens on it with a channel of its own, so an
    emergency is not queued behind the routine events waiting on the socket's main channel."""
    return "feed-priority." + stream.replace(":", ".")


def feed_message(event: Event) -> dict[str, Any]:
    """The channel-layer message for an event: the frame encoded once, here, and sent as text to
    every socket it reaches (no socket encodes it again); stream, seq and kind beside it for the
    socket's ordering and priority checks."""
    frame = {"type": "event", **event.as_frame()}
    return {
        "type": "feed.event",
        "stream": event.stream_id,
        "seq": event.seq,
        "kind": event.kind,
        "frame": json.dumps(frame, default=str),
    }


@dataclass(frozen=True)
class EventDraft:
    """An event not yet numbered: `publish_events` numbers and writes many at once."""

    stream: str
    kind: str
    data: dict[str, Any]
    mutation_id: uuid.UUID | None = None


_held_back: contextvars.ContextVar[list[EventDraft] | None] = contextvars.ContextVar(
    "care_events_held_back", default=None
)


@contextlib.contextmanager
def change_transaction() -> Iterator[None]:
    """`transaction.atomic()` for a service's change, with its events written last (see above).

    Nested, it is a savepoint whose events join the outer change's, or are dropped with it when
    the savepoint rolls back."""
    held = _held_back.get()
    if held is not None:
        mark = len(held)
        try:
            with transaction.atomic():
                yield
        except BaseException:
            del held[mark:]
            raise
        return
    held = []
    token = _held_back.set(held)
    try:
        with transaction.atomic():
            yield
            _held_back.reset(token)
            token = None
            if held:
                _write_events(held)  # each checked as it was published
    finally:
        if token is not None:
            _held_back.reset(token)


def publish_event(
    *, stream: str, kind: str, data: dict[str, Any], mutation_id: uuid.UUID | None = None
) -> Event | None:
    """Write one event to a stream. Inside `change_transaction` it is held back and written at
    the end (returns None); elsewhere it is numbered and written now."""
    if not STREAM_NAME.match(stream):
        raise ValueError(f"not a stream name: {stream!r}")
    _check_event(stream, kind, data)
    held = _held_back.get()
    if held is not None:
        held.append(EventDraft(stream, kind, data, mutation_id))
        return None
    seq = _next_seq(stream)
    if seq is None:  # the stream's first event
        Stream.objects.get_or_create(name=stream)
        seq = _next_seq(stream)
    event = Event.objects.create(
        stream_id=stream, seq=seq, kind=kind, data=data, mutation_id=mutation_id
    )
    transaction.on_commit(lambda: _push(event))
    return event


def audit_and_publish(
    *,
    kind: str,
    data: dict[str, Any],
    to: str | None = None,
    mutation_id: uuid.UUID | None = None,
    audit: dict[str, Any] | None = None,
) -> None:
    """The tail of a dispatch write, in one place: its audit row (`audit`: the arguments of
    `record_audit`; None when the write audited itself earlier), then the event for the board
    on the `dispatch` stream and the same event for the one the change concerns (`to`: a unit's
    or a person's stream), which alone carries the mutation id its tablet waits on. The dispatch
    stream always comes first, so two changes publish to their streams in the same order."""
    if audit is not None:
        record_audit(**audit)
    publish_event(stream="dispatch", kind=kind, data=data)
    if to is not None:
        publish_event(stream=to, kind=kind, data=data, mutation_id=mutation_id)


def publish_events(drafts: list[EventDraft]) -> list[Event]:
    """`publish_event` for many events: one update per stream takes their numbers (in the order
    given) and one insert writes them all. As there: the caller's transaction, pushed on commit."""
    for draft in drafts:
        if not STREAM_NAME.match(draft.stream):
            raise ValueError(f"not a stream name: {draft.stream!r}")
        _check_event(draft.stream, draft.kind, draft.data)
    return _write_events(drafts)


def _write_events(drafts: list[EventDraft]) -> list[Event]:
    by_stream: dict[str, list[EventDraft]] = defaultdict(list)
    for draft in drafts:
        by_stream[draft.stream].append(draft)
    events: list[Event] = []
    for stream in sorted(by_stream):  # one lock order for every writer: no deadlock between them
        wanted = by_stream[stream]
        last = _next_seq(stream, count=len(wanted))
        if last is None:
            Stream.objects.get_or_create(name=stream)
            last = _next_seq(stream, count=len(wanted))
        first = last - len(wanted) + 1
        events.extend(
            Event(
                stream_id=stream, seq=first + i, kind=d.kind, data=d.data, mutation_id=d.mutation_id
            )
            for i, d in enumerate(wanted)
        )
    Event.objects.bulk_create(events)
    events.sort(key=lambda e: (e.stream_id, e.seq))
    transaction.on_commit(lambda: _push_all(events))
    return events


def _next_seq(stream: str, *, count: int = 1) -> int | None:
    """Take the stream's next `count` numbers (returns the last), or None when the stream has no
    row yet.

    The UPDATE takes the row lock that orders writers to one stream; it is held until the
    caller's transaction ends, so a later seq can never commit before an earlier one. RETURNING
    (PostgreSQL, SQLite 3.35+) reads the number in the same statement: this runs for every event.
    """
    table = connection.ops.quote_name(Stream._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + %s WHERE name = %s RETURNING last_seq",
            [count, stream],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _push(event: Event) -> None:
    _push_all([event])


def _push_all(events: list[Event]) -> None:
    """Tell the sockets, in one hop to the event loop: the priority lane first (emergencies and
    backups, to their streams' priority groups), then every event to its stream's group in seq
    order. A priority event thus goes out twice; the socket sends whichever copy comes first and
    drops the other by its seq."""
    layer = get_channel_layer()
    if layer is None or not events:
        return
    messages = [(event, feed_message(event)) for event in events]
    sends = [
        (priority_group_name(event.stream_id), message)
        for event, message in messages
        if is_priority(event.kind)
    ]
    sends += [(group_name(event.stream_id), message) for event, message in messages]

    async def send_all() -> None:
        for group, message in sends:
            try:
                await layer.group_send(group, message)
            except Exception:  # the database has it; a device will replay it
                logger.warning(
                    "live push failed for %s#%s", message["stream"], message["seq"], exc_info=True
                )

    async_to_sync(send_all)()


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
