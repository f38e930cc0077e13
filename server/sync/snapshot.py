"""Resync: how long the feed keeps events, what a too-old cursor gets, and the snapshot that
replaces it.

The server keeps events for `CARE_EVENT_RETENTION_DAYS` (but always each stream's last one, so a
stream's numbering is never lost). A device whose cursor points before what is kept can't be
brought up to date by events: it is told so (410 `cursor_expired`), fetches a snapshot of what it
may see now together with the cursors that snapshot is current to, and reads events from there.
For a CARE responder the snapshot also carries the records its team made on its open calls.
The cursors are read before the data, in one transaction (Zulip's register-then-events order): a
change that commits while the snapshot is taken is in the snapshot, or after its cursors, or both
(events carry whole records, so applying one twice is harmless) — never in neither.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from rest_framework.request import Request

from server.accounts.authentication import request_device
from server.accounts.models import Role
from server.accounts.permissions import role_of
from server.audit.services import record_audit
from server.care import presenters as care_presenters
from server.care import selectors as care_selectors
from server.care.models import Encounter
from server.dispatch.incidents import presenters as dispatch_presenters
from server.dispatch.incidents import selectors as dispatch_selectors
from server.dispatch.models import UnitKind
from server.feed.models import Stream
from server.sync.access import readable_streams
from server.sync.protocol import protocol_payload

DIRECTORY_READERS = (Role.CARE_RESPONDER, Role.COORDINATOR, Role.ADMIN)


# ---- the snapshot --------------------------------------------------------------------------


def take_snapshot(request: Request) -> dict[str, Any]:
    """What the caller may see now, and the stream cursors it is current to."""
    user = request.user
    streams = readable_streams(user)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            # One view of the database for every read below. (SQLite's transaction is one already.)
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # Cursors first: anything committed after this read is in the events after them.
        known = dict(Stream.objects.filter(name__in=streams).values_list("name", "last_seq"))
        cursors = {stream: known.get(stream, 0) for stream in streams}
        assignments = _open_assignments(user)
        body: dict[str, Any] = {
            "cursors": cursors,
            "server_time": timezone.now().isoformat(),
            "assignments": assignments,
            # The protocol exactly as GET /api/v1/protocol answers it.
            "protocol": protocol_payload(),
        }
        if role_of(user) == Role.CARE_RESPONDER:
            body.update(_care_records(request, assignments))
        if role_of(user) in DIRECTORY_READERS:
            body["directory"] = care_presenters.DirectoryServiceSerializer(
                care_selectors.directory(), many=True
            ).data
    return body


def _open_assignments(user) -> list[dict]:
    # As GET /api/v1/assignments?open=1 shows them to this caller.
    assignments = dispatch_selectors.visible_assignments(user).open()
    return dispatch_presenters.assignments_with_partners(list(assignments))


def _care_records(request: Request, assignments: list[dict]) -> dict[str, list[dict]]:
    """The records a responder's team has made on its open calls, in the shapes the feed uses.

    Each encounter sent is a view of a person's record, audited like one read through the API.
    """
    care_ids = [a["id"] for a in assignments if a["kind"] == UnitKind.CARE]
    encounters = list(
        Encounter.objects.filter(assignment_id__in=care_ids)
        .select_related("disposition")
        .prefetch_related("services__service", "naloxone", "referrals", "surveys")
    )
    device = request_device(request)
    for encounter in encounters:
        record_audit(
            actor=request.user,
            device=device,
            action="encounter.viewed",
            obj=encounter,
            after={"via": "sync.snapshot"},
        )
    return {
        "encounters": [care_presenters.encounter_data(e) for e in encounters],
        "services": [care_presenters.service_data(s) for e in encounters for s in e.services.all()],
        "naloxones": [
            care_presenters.naloxone_data(n) for e in encounters for n in e.naloxone.all()
        ],
        "referrals": [
            care_presenters.referral_data(r) for e in encounters for r in e.referrals.all()
        ],
        "surveys": [care_presenters.survey_data(v) for e in encounters for v in e.surveys.all()],
    }
