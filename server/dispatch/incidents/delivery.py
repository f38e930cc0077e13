"""Delivery receipts: the delivered time of a dispatch, and the alert dispatch gets when nobody
acknowledges an assignment in time.

The feed records acks (`server.feed.cursors`); the first ack that covers an assignment's
`assignment.dispatched` event on its unit's stream is the moment the dispatch reached the field:
it sets `delivered_at` and tells the dispatch stream.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from server.accounts.models import Device
from server.audit.services import record_audit
from server.dispatch.incidents.presenters import assignment_data
from server.dispatch.models import Assignment, AssignmentStatus
from server.feed.models import Event
from server.feed.services import change_transaction, publish_event

logger = logging.getLogger(__name__)


def mark_covered_dispatches_delivered(*, covered: list, **_) -> None:
    """`acks_recorded` receiver: the first ack covering a unit's `assignment.dispatched` event
    is when the dispatch reached the field — the ack's own arrival time, whichever device sent
    it, even when a batch of acks is written together."""
    on_units = [(r, before) for r, before in covered if r.stream.startswith("unit:")]
    if not on_units:
        return
    ranges = Q()
    for receipt, before in on_units:
        ranges |= Q(stream_id=receipt.stream, seq__gt=before, seq__lte=receipt.seq)
    dispatched = Event.objects.filter(ranges, kind="assignment.dispatched").values_list(
        "stream_id", "seq", "data"
    )
    by_arrival = sorted(on_units, key=lambda pair: pair[0].at)
    for stream, seq, data in sorted(dispatched, key=lambda row: (row[0], row[1])):
        for receipt, before in by_arrival:
            if receipt.stream == stream and before < seq <= receipt.seq:
                mark_delivered(device=receipt.device, assignment_id=data["id"], at=receipt.at)


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
