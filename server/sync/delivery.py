"""Delivery receipts: a device's `ack`s, the delivered time of a dispatch, and the alert dispatch
gets when nobody acknowledges an assignment in time.

An ack moves the device's cursor forward only (a late or replayed ack never moves it back). The
first ack that covers an assignment's `assignment.dispatched` event on its unit's stream is the
moment the dispatch reached the field: it sets `delivered_at` and tells the dispatch stream.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from server.accounts.models import Device
from server.audit.services import record_audit
from server.dispatch.feed import assignment_data
from server.dispatch.models import Assignment, AssignmentStatus
from server.errors import InvalidInput
from server.sync.models import DeviceCursor, Event, Stream
from server.sync.services import change_transaction, publish_event

logger = logging.getLogger(__name__)


def record_ack(
    *, device: Device, stream: str, seq: int, at: datetime.datetime | None = None
) -> int:
    """Store a device's ack of everything up to `seq` on `stream`; returns its cursor after.

    `at` is when the ack reached the server (now, unless it waited in a batch). The caller has
    already checked the device may read the stream.
    """
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
        if stream.startswith("unit:"):
            _mark_dispatches_delivered(device, stream, after=before, upto=seq, at=at)
        return seq


@dataclasses.dataclass(frozen=True)
class Receipt:
    """One ack as a socket heard it: which device, which stream and seq, and when it arrived."""

    device: Device
    stream: str
    seq: int
    at: datetime.datetime


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
        _mark_covered_dispatches_delivered(covered)
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


def _mark_covered_dispatches_delivered(covered: list[tuple[Receipt, int]]) -> None:
    on_units = [(r, before) for r, before in covered if r.stream.startswith("unit:")]
    if not on_units:
        return
    ranges = Q()
    for receipt, before in on_units:
        ranges |= Q(stream_id=receipt.stream, seq__gt=before, seq__lte=receipt.seq)
    dispatched = Event.objects.filter(ranges, kind="assignment.dispatched").values_list(
        "stream_id", "seq", "data"
    )
    # The earliest ack covering a dispatch sets its delivered time, whichever device sent it.
    by_arrival = sorted(on_units, key=lambda pair: pair[0].at)
    for stream, seq, data in sorted(dispatched, key=lambda row: (row[0], row[1])):
        for receipt, before in by_arrival:
            if receipt.stream == stream and before < seq <= receipt.seq:
                mark_delivered(device=receipt.device, assignment_id=data["id"], at=receipt.at)


def _record_one(receipt: Receipt) -> str | None:
    try:
        _store(receipt)
    except InvalidInput as exc:
        return exc.detail
    return None


def _store(receipt: Receipt) -> None:
    record_ack(device=receipt.device, stream=receipt.stream, seq=receipt.seq, at=receipt.at)


def _mark_dispatches_delivered(
    device: Device, stream: str, *, after: int, upto: int, at: datetime.datetime | None
) -> None:
    covered = Event.objects.filter(
        stream_id=stream, seq__gt=after, seq__lte=upto, kind="assignment.dispatched"
    ).values_list("data", flat=True)
    for data in covered:
        mark_delivered(device=device, assignment_id=data["id"], at=at)


def mark_delivered(
    *, device: Device, assignment_id: str, at: datetime.datetime | None = None
) -> bool:
    """Set an assignment's delivered time the first time a tablet of its unit acknowledges it:
    `at`, when the ack arrived (now by default).

    Returns whether this call set it. Runs inside the ack's transaction.
    """
    with change_transaction():
        now = at or timezone.now()
        # Conditional update: of two tablets of one unit acking at once, exactly one wins.
        won = Assignment.objects.filter(
            pk=assignment_id, delivered_at__isnull=True, unit_id=device.user.unit_id
        ).update(delivered_at=now)
        if not won:
            return False
        assignment = Assignment.objects.select_related(
            "unit", "incident", "incident__call_type"
        ).get(pk=assignment_id)
        record_audit(
            actor=device.user,
            device=device,
            action="assignment.delivered",
            obj=assignment,
            after={"delivered_at": now.isoformat()},
        )
        publish_event(
            stream="dispatch", kind="assignment.delivered", data=assignment_data(assignment)
        )
        return True


def raise_overdue_acknowledgements(*, now: datetime.datetime | None = None) -> list[Assignment]:
    """Alert the dispatch stream, once each, about assignments nobody acknowledged in time.

    "Acknowledged" is the responder's `acknowledged` transition; the alert says whether the tablet
    at least received the dispatch (`delivered_at`), so a dispatcher can tell a dead tablet from
    a team that hasn't answered. Safe to run from several processes at once: each alert is claimed
    by a conditional update, and only the process whose update changed the row publishes it.
    """
    now = now or timezone.now()
    deadline = now - datetime.timedelta(seconds=settings.CARE_ACK_TIMEOUT_SECONDS)
    overdue = Assignment.objects.filter(
        status=AssignmentStatus.DISPATCHED, dispatched_at__lte=deadline, ack_alerted_at__isnull=True
    ).values_list("pk", flat=True)
    raised = []
    for pk in list(overdue[:200]):
        assignment = _raise_alert(pk, now)
        if assignment is not None:
            raised.append(assignment)
    return raised


def _raise_alert(pk, now: datetime.datetime) -> Assignment | None:
    with change_transaction():
        claimed = Assignment.objects.filter(
            pk=pk, status=AssignmentStatus.DISPATCHED, ack_alerted_at__isnull=True
        ).update(ack_alerted_at=now)
        if not claimed:
            return None  # acknowledged meanwhile, or another process raised it
        assignment = Assignment.objects.select_related(
            "unit", "incident", "incident__call_type"
        ).get(pk=pk)
        waited = (now - assignment.dispatched_at).total_seconds()
        record_audit(
            actor=None,
            action="assignment.ack_overdue",
            obj=assignment,
            after={"seconds_waiting": round(waited), "delivered": bool(assignment.delivered_at)},
        )
        publish_event(
            stream="dispatch",
            kind="assignment.ack_overdue",
            data={
                **assignment_data(assignment),
                "seconds_waiting": round(waited),
                "delivered": assignment.delivered_at is not None,
                "message": _alert_message(assignment, waited),
            },
        )
        logger.info("ack overdue: %s", assignment)
        return assignment


def _alert_message(assignment: Assignment, waited: float) -> str:
    who = assignment.unit.call_sign
    call = assignment.incident.cad_number
    if assignment.delivered_at is None:
        return f"{who} has not received call {call} after {round(waited)} s: its tablet is silent."
    return f"{who} received call {call} but has not acknowledged it after {round(waited)} s."
