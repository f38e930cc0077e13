"""Acks: how far a device has read each stream.

An ack moves the device's cursor forward only (a late or replayed ack never moves it back).
What an ack means for the domain (a dispatch reached its unit) is not the feed's business: it
sends `acks_recorded` inside the ack's transaction, with each ack that moved a cursor and the
cursor before it, and the domain app that cares listens.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging

from django.db import DatabaseError
from django.dispatch import Signal

from server.errors import InvalidInput
from server.feed.models import DeviceCursor, Stream
from server.feed.services import change_transaction

logger = logging.getLogger(__name__)

# Sent inside the acks' transaction: covered = [(Receipt, cursor before it), ...] for every ack
# that moved a cursor. A receiver that raises rolls the acks back.
acks_recorded = Signal()


@dataclasses.dataclass(frozen=True)
class Receipt:
    """One ack as a socket heard it: which device, which stream and seq, and when it arrived."""

    device: object  # accounts.Device (the feed names no domain app)
    stream: str
    seq: int
    at: datetime.datetime


def record_ack(*, device, stream: str, seq: int, at: datetime.datetime | None = None) -> int:
    """Store a device's ack of everything up to `seq` on `stream`; returns its cursor after.

    `at` is when the ack reached the server (now, unless it waited in a batch). The caller has
    already checked the device may read the stream.
    """
    from django.utils import timezone

    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InvalidInput("An ack names a stream and a seq of 1 or more.")
    with change_transaction():
        last_seq = Stream.objects.filter(name=stream).values_list("last_seq", flat=True).first()
        if last_seq is None or seq > last_seq:
            raise InvalidInput(f"{stream} has no event {seq} yet.")
        cursor, _ = DeviceCursor.objects.select_for_update().get_or_create(
            device=device, stream_id=stream
        )
        if seq <= cursor.acked_seq:
            return cursor.acked_seq  # old news: cursors never go back
        before = cursor.acked_seq
        cursor.acked_seq = seq
        cursor.save(update_fields=["acked_seq", "updated_at"])
        receipt = Receipt(device, stream, seq, at or timezone.now())
        acks_recorded.send(sender=DeviceCursor, covered=[(receipt, before)])
        return seq


def record_acks(receipts: list[Receipt]) -> list[str | None]:
    """Store many acks in one transaction (one savepoint each); for each, None or why it was
    refused. Delivered times are each ack's own arrival time, not the batch's.

    Rows are locked in one order (device, stream, seq) so two processes' batches can't deadlock
    on cursors. Should the batch fail as a whole (a deadlock with a dispatch on an assignment
    row, a lost connection), each ack is written again on its own.
    """
    order = sorted(range(len(receipts)), key=lambda i: _lock_order(receipts[i]))
    try:
        return _record_in_one_transaction(receipts, order)
    except DatabaseError:
        logger.warning("ack batch failed; writing its %d acks one by one", len(receipts))
        return [_record_one(r) for r in receipts]


def _lock_order(receipt: Receipt) -> tuple:
    return (str(receipt.device.pk), receipt.stream, receipt.seq)


def _record_in_one_transaction(receipts: list[Receipt], order: list[int]) -> list[str | None]:
    """The batch in a handful of statements, whatever its size: the streams' ends, the cursors
    (made if missing, then locked), one update of those that moved, one read of the dispatch
    events the batch covers. Four statements per ack was most of a socket process's work."""
    outcome: list[str | None] = [None] * len(receipts)
    with change_transaction():
        streams = {r.stream for r in receipts}
        ends = dict(Stream.objects.filter(name__in=streams).values_list("name", "last_seq"))
        for i in order:
            outcome[i] = _refusal(receipts[i], ends.get(receipts[i].stream))
        good = [receipts[i] for i in order if outcome[i] is None]
        cursors = _locked_cursors(good)
        covered: list[tuple[Receipt, int]] = []  # (receipt, cursor before it)
        for receipt in good:
            cursor = cursors[(receipt.device.pk, receipt.stream)]
            if receipt.seq > cursor.acked_seq:
                covered.append((receipt, cursor.acked_seq))
                cursor.acked_seq = receipt.seq
                cursor.updated_at = receipt.at
        moved = {id(c): c for c in cursors.values() if c.updated_at is not None}
        DeviceCursor.objects.bulk_update(list(moved.values()), ["acked_seq", "updated_at"])
        acks_recorded.send(sender=DeviceCursor, covered=covered)
    return outcome


def _refusal(receipt: Receipt, end: int | None) -> str | None:
    if not isinstance(receipt.seq, int) or isinstance(receipt.seq, bool) or receipt.seq < 1:
        return "An ack names a stream and a seq of 1 or more."
    if end is None or receipt.seq > end:
        return f"{receipt.stream} has no event {receipt.seq} yet."
    return None


def _locked_cursors(receipts: list[Receipt]) -> dict[tuple, DeviceCursor]:
    """The cursors of the batch's (device, stream) pairs, locked in one order; missing ones are
    made first (a concurrent maker elsewhere is fine: the insert ignores the conflict)."""
    pairs = {(r.device.pk, r.stream) for r in receipts}
    if not pairs:
        return {}
    DeviceCursor.objects.bulk_create(
        [DeviceCursor(device_id=d, stream_id=s) for d, s in sorted(pairs, key=str)],
        ignore_conflicts=True,
    )
    rows = (
        DeviceCursor.objects.select_for_update()
        .filter(device_id__in={d for d, _ in pairs}, stream_id__in={s for _, s in pairs})
        .order_by("device_id", "stream_id")
    )
    cursors = {(c.device_id, c.stream_id): c for c in rows if (c.device_id, c.stream_id) in pairs}
    for cursor in cursors.values():
        cursor.updated_at = None  # set again only for those this batch moves
    return cursors


def _record_one(receipt: Receipt) -> str | None:
    try:
        _store(receipt)
    except InvalidInput as exc:
        return exc.detail
    return None


def _store(receipt: Receipt) -> None:
    record_ack(device=receipt.device, stream=receipt.stream, seq=receipt.seq, at=receipt.at)
