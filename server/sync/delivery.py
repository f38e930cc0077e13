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
    outcome: list[str | None] = [None] * len(receipts)
    with change_transaction():
        for i in order:
            try:
                _store(receipts[i])
            except InvalidInput as exc:
                outcome[i] = exc.detail
    return outcome


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
