"""The server's statuses, roles and unit kinds, named once on the tablet.

The tablet branches on these words (is this a CARE assignment, has the officer called the scene
unsafe), so it needs them as names in its code; the lists of what may follow what still come from
`GET /api/v1/protocol` at run time. Each enum here carries the server's values exactly:
tests/server/test_contract.py compares them with the server's enums and with what the protocol
serves, so a status renamed on one side fails there, not in the field.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A person's role (server/accounts/models.py `Role`)."""

    DISPATCHER = "dispatcher"
    CARE_RESPONDER = "care_responder"
    SPD_OFFICER = "spd_officer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    SYSTEM = "system"


class UnitKind(StrEnum):
    """A unit's, and so its assignment's, kind (server/dispatch/models.py `UnitKind`)."""

    CARE = "care"
    SPD = "spd"


class AssignmentStatus(StrEnum):
    """Where an assignment is in its lifecycle (the protocol's `assignment_states`)."""

    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    SCENE_SAFE = "scene_safe"
    SCENE_UNSAFE = "scene_unsafe"
    CLEARED = "cleared"
    CANCELLED = "cancelled"


class ReferralStatus(StrEnum):
    """Where a referral is (the protocol's `referral_statuses`)."""

    MADE = "made"
    CONTACTED = "contacted"
    CONNECTED = "connected"
    UNABLE_TO_REACH = "unable_to_reach"
    DECLINED = "declined"
    CLOSED = "closed"


class SignOnRequestStatus(StrEnum):
    """A request to ride a unit (server/dispatch/models.py `SignOnRequestStatus`)."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


# The unit kind each field role rides (a CARE responder rides CARE teams only).
UNIT_KIND_OF_ROLE: dict[str, UnitKind] = {
    Role.CARE_RESPONDER: UnitKind.CARE,
    Role.SPD_OFFICER: UnitKind.SPD,
}

# An assignment in one of these is over for its unit.
CLOSED_ASSIGNMENT_STATUSES = frozenset({AssignmentStatus.CLEARED, AssignmentStatus.CANCELLED})
