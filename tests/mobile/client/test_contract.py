"""The mutation types the tablet sends and the event kinds it understands match the server's."""

from __future__ import annotations

from mobile.client.contract import EVENT_KINDS, MUTATION_TYPES, RECORD_EVENTS
from server.sync import push

# The server's own declaration: `MUTATION_TYPES` where push declares it, else its handler table.
SERVER_MUTATION_TYPES = getattr(push, "MUTATION_TYPES", None) or tuple(push.HANDLERS)


def test_the_tablet_sends_only_mutation_types_the_server_handles_and_handles_every_one():
    assert set(MUTATION_TYPES) == set(SERVER_MUTATION_TYPES)


def test_a_new_referral_and_a_referral_update_are_both_understood_as_referrals():
    assert RECORD_EVENTS["referral.recorded"] == RECORD_EVENTS["referral.updated"] == "referral"
    assert {"referral.recorded", "referral.updated", "naloxone.updated"} <= set(EVENT_KINDS)
    assert len(set(EVENT_KINDS)) == len(EVENT_KINDS)
