"""The contract between the server and the tablet, checked from both declarations (as Zulip
checks its event schemas): the mutation types a tablet pushes are the commands the server runs,
and every event kind the tablet acts on is one an app declared."""

from __future__ import annotations

from mobile.client import contract as tablet
from server.feed.services import declared_event_kinds
from server.sync.push import COMMANDS, MUTATION_TYPES


def test_the_tablet_pushes_exactly_the_mutation_types_the_server_has_commands_for():
    assert sorted(tablet.MUTATION_TYPES) == sorted(MUTATION_TYPES) == sorted(COMMANDS)


def test_every_event_kind_the_tablet_acts_on_is_declared_by_the_server():
    assert set(tablet.EVENT_KINDS) <= set(declared_event_kinds())


def test_every_care_record_the_server_sends_a_care_unit_is_understood_by_the_tablet():
    from server.care.events import EVENT_KINDS as CARE_KINDS

    # The directory goes on its own stream, a referral's follow-up on the coordinators' stream.
    on_the_unit_stream = set(CARE_KINDS) - {"directory.updated", "referral.followed_up"}
    assert on_the_unit_stream <= set(tablet.RECORD_EVENTS)


def test_the_protocol_publishes_the_same_lists(client_for):
    protocol = client_for("care1").get("/api/v1/protocol").json()
    assert protocol["mutation_types"] == sorted(MUTATION_TYPES)
    assert set(protocol["event_kinds"]) == set(declared_event_kinds())
    assert protocol["limits"]["naloxone"] == {"dose_mg_max": 16, "doses_min": 1, "doses_max": 10}
