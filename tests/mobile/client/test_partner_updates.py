"""The other unit's state on our call, kept current from `assignment.partner_updated`.

The server sends that event to a unit with its own assignment's view (its id, `partners` holding
the other unit's new state), so the CARE tablet's banner turns green on the officer's scene safe.
"""

from __future__ import annotations

import pytest

from mobile.client.api import ApiClient
from mobile.client.recorder import Recorder
from mobile.client.store import Store
from mobile.client.sync_engine import SyncEngine

SAFE_AT = "2026-11-18T23:40:00+00:00"


def care_assignment(officer_status: str, scene_safe_at: str | None, **extra) -> dict:
    """The CARE unit's view of its assignment, as the server sends it (partners inside)."""
    return {
        "id": "care-1",
        "kind": "care",
        "status": "on_scene",
        "version": 3,
        "partners": [
            {
                "assignment": "spd-1",
                "kind": "spd",
                "call_sign": "2M12",
                "status": officer_status,
                "scene_safe_at": scene_safe_at,
            }
        ],
        **extra,
    }


@pytest.fixture
def engine(tmp_path, refused_url):
    store = Store(tmp_path / "tablet.sqlite3")
    engine = SyncEngine(store, ApiClient(refused_url))
    with store.transaction() as db:
        store.take_server_assignment(db, care_assignment("on_scene", None))
    yield engine
    store.close()


def partner_update(seq: int, **extra) -> dict:
    return {
        "stream": "unit:1",
        "seq": seq,
        "kind": "assignment.partner_updated",
        "data": care_assignment("scene_safe", SAFE_AT, **extra),
    }


def test_the_officers_scene_safe_reaches_the_care_assignment_on_the_tablet(engine):
    engine.apply_events([partner_update(1)], {})
    partner = engine.store.assignment("care-1")["partners"][0]
    assert (partner["status"], partner["scene_safe_at"]) == ("scene_safe", SAFE_AT)
    assert engine.store.cursors() == {"unit:1": 1}


def test_a_move_of_ours_still_queued_keeps_its_status_and_takes_the_partners(engine):
    engine.store.set_settings(
        protocol={"transitions": {"care": {"on_scene": ["cleared"]}}},
        user={"role": "care_responder"},
    )
    Recorder(engine.store).transition("care-1", "cleared")
    engine.apply_events([partner_update(1)], {})
    mine = engine.store.assignment("care-1")
    assert mine["status"] == "cleared"  # not yet on the server; the tablet's move shows
    assert mine["partners"][0]["status"] == "scene_safe"


def test_a_partner_update_for_an_assignment_not_on_the_tablet_changes_nothing(engine):
    event = partner_update(1)
    event["data"] = {**event["data"], "id": "someone-elses"}
    engine.apply_events([event], {})
    assert engine.store.assignment("care-1")["partners"][0]["status"] == "on_scene"
    assert engine.store.assignment("someone-elses") is None


def test_a_new_referral_arrives_as_referral_recorded_and_its_update_as_referral_updated(engine):
    made = {"id": "r-1", "encounter": "e-1", "service": 7, "status": "made", "version": 1}
    engine.apply_events(
        [{"stream": "unit:1", "seq": 1, "kind": "referral.recorded", "data": made}], {}
    )
    assert engine.store.record("r-1")["status"] == "made"
    moved = {**made, "status": "contacted", "version": 2}
    engine.apply_events(
        [{"stream": "unit:1", "seq": 2, "kind": "referral.updated", "data": moved}], {}
    )
    assert engine.store.record("r-1")["status"] == "contacted"
    assert engine.store.records("referral", parent="e-1") == [moved]
