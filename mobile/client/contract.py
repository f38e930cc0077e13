"""What the tablet says to the server and what it understands back, declared once.

A server-side test compares these with the server's own declarations (the push handlers and the
feed's event kinds), so a new mutation type or event kind on one side can't be forgotten on the
other.
"""

from __future__ import annotations

# The mutation types the tablet queues in its outbox and pushes.
MUTATION_TYPES: tuple[str, ...] = (
    "assignment.transition",
    "encounter.upsert",
    "service.create",
    "service.remove",
    "naloxone.create",
    "naloxone.update",
    "naloxone.remove",
    "referral.create",
    "referral.update",
    "survey.create",
    "unit.position",
    "emergency.start",
    "emergency.end",
    "backup.request",
    "check_in.create",
)

# Feed events that carry an assignment (this unit's own view of it).
ASSIGNMENT_EVENTS: tuple[str, ...] = ("assignment.dispatched", "assignment.updated")
PARTNER_EVENT = "assignment.partner_updated"

# Feed events that carry a clinical record, and the record kind the store keeps it as. A new
# referral is `referral.recorded` (like every other create); `referral.updated` is a later change.
RECORD_EVENTS: dict[str, str] = {
    "encounter.updated": "encounter",
    "service.recorded": "service",
    "service.removed": "service",
    "naloxone.recorded": "naloxone",
    "naloxone.updated": "naloxone",
    "naloxone.removed": "naloxone",
    "referral.recorded": "referral",
    "referral.updated": "referral",
    "survey.recorded": "survey",
}

# Record events that take a record off the tablet rather than bring one.
REMOVAL_EVENTS: tuple[str, ...] = ("service.removed", "naloxone.removed")
# The mutation that takes a record off, for each creating one: the record's echo is not taken
# back onto the tablet while its removal waits in the outbox.
REMOVALS: dict[str, str] = {"service": "service.remove", "naloxone": "naloxone.remove"}

# Feed events about the responders' safety and their unit (the safety bar acts on them).
SAFETY_EVENTS: tuple[str, ...] = (
    "emergency.started",
    "emergency.acknowledged",
    "emergency.ended",
    "emergency.alert",
    "check_in.answered",
    "backup.requested",
    "backup.sent",
    "unit.updated",
)

# Feed events about the responder's own roster and sign-on requests (on their own stream).
ROSTER_EVENTS: tuple[str, ...] = ("roster.updated", "sign_on_request.updated")

# Every event kind the tablet acts on; anything else is skipped (its cursor still moves).
EVENT_KINDS: tuple[str, ...] = (
    *ASSIGNMENT_EVENTS,
    PARTNER_EVENT,
    *RECORD_EVENTS,
    *SAFETY_EVENTS,
    *ROSTER_EVENTS,
)
