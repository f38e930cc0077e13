"""The contract between the server and the tablet, checked from both declarations (as Zulip
checks its event schemas): the mutation types a tablet pushes are the commands the server runs,
and every event kind the tablet acts on is one an app declared."""

from __future__ import annotations

import ast
from pathlib import Path

from mobile.client import contract as tablet
from server.feed.event_kinds import EVENT_KINDS
from server.feed.services import declared_event_kinds
from server.sync.push import COMMANDS, MUTATION_TYPES


def test_the_tablet_pushes_exactly_the_mutation_types_the_server_has_commands_for():
    assert sorted(tablet.MUTATION_TYPES) == sorted(MUTATION_TYPES) == sorted(COMMANDS)


def test_every_event_kind_the_tablet_acts_on_is_declared_by_the_server():
    assert set(tablet.EVENT_KINDS) <= set(declared_event_kinds())


def test_every_care_record_the_server_sends_a_care_unit_is_understood_by_the_tablet():
    # The kinds only a crew hears of (no board, no police): its clinical records.
    crews_own = {
        kind
        for kind, declared in EVENT_KINDS.items()
        if "crew" in declared.shapes and not {"dispatch", "police"} & set(declared.shapes)
    }
    # The scan sees the records (not only a few).
    assert {"encounter.updated", "naloxone.recorded", "referral.updated"} <= crews_own
    assert crews_own <= set(tablet.RECORD_EVENTS)


def test_the_protocol_publishes_the_same_lists(client_for):
    protocol = client_for("care1").get("/api/v1/protocol").json()
    assert protocol["mutation_types"] == sorted(MUTATION_TYPES)
    assert set(protocol["event_kinds"]) == set(declared_event_kinds())
    assert protocol["limits"]["naloxone"] == {"dose_mg_max": 16, "doses_min": 1, "doses_max": 10}


def test_the_tablets_statuses_roles_and_unit_kinds_are_the_servers(client_for):
    """The tablet names each status, role and unit kind once (mobile/client/vocabulary.py); its
    values are the server's enums and what the protocol serves."""
    from mobile.client import vocabulary
    from server.accounts.models import Role
    from server.accounts.sso import UNIT_KIND_OF_ROLE
    from server.care.models import ReferralStatus
    from server.dispatch.models import AssignmentStatus, SignOnRequestStatus, UnitKind

    protocol = client_for("care1").get("/api/v1/protocol").json()
    served_states = [s["value"] for s in protocol["assignment_states"]]
    assert list(vocabulary.AssignmentStatus) == served_states == list(AssignmentStatus.values)
    assert set(vocabulary.ReferralStatus) == set(protocol["referral_statuses"])
    assert list(vocabulary.ReferralStatus) == list(ReferralStatus.values)
    assert list(vocabulary.Role) == list(Role.values)
    assert list(vocabulary.UnitKind) == list(UnitKind.values)
    assert list(vocabulary.SignOnRequestStatus) == list(SignOnRequestStatus.values)
    assert vocabulary.UNIT_KIND_OF_ROLE == UNIT_KIND_OF_ROLE


def _vocabulary_literals_compared_in(path: Path, words: set[str]) -> list[str]:
    """`x == "on_scene"`, `x in ("cleared", "cancelled")`: a status or role typed as a literal."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Compare):
            continue
        for side in (node.left, *node.comparators):
            items = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
            for item in items:
                if isinstance(item, ast.Constant) and item.value in words:
                    found.append(f"{path.name}:{node.lineno} {item.value}")
    return found


def test_the_tablet_compares_statuses_roles_and_unit_kinds_only_by_their_names():
    from mobile.client import vocabulary

    words = {
        member.value
        for enum in (
            vocabulary.Role,
            vocabulary.UnitKind,
            vocabulary.AssignmentStatus,
            vocabulary.ReferralStatus,
            vocabulary.SignOnRequestStatus,
        )
        for member in enum
    }
    tablet = Path(vocabulary.__file__).resolve().parents[1]
    found = [
        hit
        for path in sorted(tablet.rglob("*.py"))
        if path.name != "vocabulary.py"
        for hit in _vocabulary_literals_compared_in(path, words)
    ]
    assert found == []
