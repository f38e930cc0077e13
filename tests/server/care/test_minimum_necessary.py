"""Minimum necessary: a coordinator reads of an encounter what referral follow-up needs, not the
crew's notes nor the naloxone administration's detail; the crew and an administrator read it all."""

from __future__ import annotations

import pytest

from tests.server.test_authorization_matrix import SENTINELS
from tests.server.test_authorization_matrix import care_records as care_records_fixture

care_records = care_records_fixture  # the fixture, under its own name

pytestmark = pytest.mark.django_db


def test_a_coordinator_reads_the_follow_up_summary_of_an_encounter(client_for, care_records):
    answer = client_for("coordinator").get(f"/api/v1/encounters/{care_records['encounter']}")
    assert answer.status_code == 200
    seen = answer.json()
    text = answer.content.decode()
    assert SENTINELS["notes"] not in text
    assert SENTINELS["service"] not in text
    assert "notes" not in seen
    assert "naloxone" not in seen
    assert "intranasal" not in text and "dose_mg" not in text
    assert [r["id"] for r in seen["referrals"]] == [care_records["referral"]]
    assert seen["id"] == care_records["encounter"]
    assert seen["services"] == ["de-escalation"]


@pytest.mark.parametrize("reader", ["care1", "admin"])
def test_the_crew_and_an_administrator_read_the_whole_encounter(client_for, care_records, reader):
    seen = client_for(reader).get(f"/api/v1/encounters/{care_records['encounter']}").json()
    assert seen["notes"] == SENTINELS["notes"]
    assert seen["naloxone"][0]["route"] == "intranasal"
