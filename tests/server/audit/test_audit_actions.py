"""Audit actions are one declared vocabulary (server/audit/actions.py): a name written anywhere
in the server is declared, and an undeclared one is refused as it is written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.audit.actions import AUDIT_ACTIONS
from server.audit.models import AuditEntry
from server.audit.services import record_audit
from server.feed.event_kinds import EVENT_KINDS

SERVER = Path(__file__).resolve().parents[3] / "server"
# An audit action literal: `action="x.y"`, or a constant holding one (`LOGIN = "auth.login"`).
WRITTEN = re.compile(r'(?:action=|^[A-Z_]+ = )"((?!server\.)[a-z_]+\.[a-z_]+)"', re.MULTILINE)


def _names_written_in_the_server() -> set[str]:
    found = set()
    for path in SERVER.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for name in WRITTEN.findall(path.read_text()):
            found.add(name)
    return found


def test_every_audit_action_the_server_writes_is_declared():
    written = _names_written_in_the_server()
    # The scan sees the server's names (not only a few), and every one is declared.
    assert {"incident.created", "referral.recorded", "auth.login"} <= written
    events = set(EVENT_KINDS)
    assert sorted(written - set(AUDIT_ACTIONS) - events) == []


def test_an_undeclared_audit_action_is_refused_and_nothing_is_written(db):
    with pytest.raises(ValueError, match=r"referral\.created"):
        record_audit(actor=None, action="referral.created", object_type="care.referral")
    assert not AuditEntry.objects.exists()


def test_a_declared_audit_action_is_written(db):
    record_audit(actor=None, action="referral.recorded", object_type="care.referral")
    assert AuditEntry.objects.get().action == "referral.recorded"


def test_a_change_told_both_to_the_audit_trail_and_the_feed_has_one_name_in_both():
    """An audit action whose subject has a feed event of the same verb family uses its name:
    no "created" in one and "recorded" in the other."""
    events = set(EVENT_KINDS)
    for event in events:
        subject, verb = event.split(".")
        if verb == "recorded":
            assert f"{subject}.created" not in AUDIT_ACTIONS, event


def test_the_audit_trails_assignment_steps_are_the_assignment_statuses_a_transition_reaches():
    """The audit app sits below dispatch and can't import its enum, so it spells the statuses
    out (server/audit/actions.py); they must be the enum's, less `dispatched` (no transition
    reaches it: `assignment.dispatched` is the dispatch's own action)."""
    from server.audit.actions import ASSIGNMENT_STATUSES
    from server.dispatch.models import AssignmentStatus

    assert sorted(ASSIGNMENT_STATUSES) == sorted(
        s for s in AssignmentStatus.values if s != AssignmentStatus.DISPATCHED
    )
