"""How the sync screen names a queued change: in the words the responder saw on the tablet."""

from __future__ import annotations

import pytest

pytest.importorskip("kivy", reason="Kivy is not installed (pip install -e '.[tablet]')")

from mobile.client.store import Mutation
from mobile.ui.sync import describe

AT = "2026-11-18T23:00:00+00:00"
NAMES = {
    "de-escalation": "De-escalation",
    "7f3e": "24-Hour Crisis Line",
    "declined": "Declined services",
}


def queued(type_: str, **data) -> Mutation:
    return Mutation(id="m", type=type_, entity_id="e", base_version=None, occurred_at=AT, data=data)


@pytest.mark.parametrize(
    ("mutation", "start"),
    [
        (queued("service.create", service="de-escalation"), "Service De-escalation at "),
        (queued("referral.create", service="7f3e"), "Referral to 24-Hour Crisis Line at "),
        (queued("assignment.transition", to="en_route"), "Status change en route at "),
        (queued("naloxone.update", dose_mg="2"), "Naloxone correction at "),
        (queued("referral.update", status="contacted"), "Referral follow-up at "),
        (queued("encounter.upsert", disposition="declined"), "Disposition Declined services at "),
    ],
)
def test_a_queued_change_reads_in_the_responders_words(mutation, start):
    assert describe(mutation, NAMES).startswith(start)
