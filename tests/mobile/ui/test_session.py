"""The app's session keeps the other unit's state current from `assignment.partner_updated`."""

from __future__ import annotations

import pytest

pytest.importorskip("kivy", reason="Kivy is not installed (pip install -e '.[tablet]')")

from mobile.client.api import ApiClient
from mobile.client.store import Store
from mobile.client.sync_engine import SyncEngine
from mobile.ui.session import follow_partners


def care_assignment(officer_status: str, scene_safe_at: str | None) -> dict:
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
    }


@pytest.fixture
def engine(tmp_path):
    store = Store(tmp_path / "tablet.sqlite3")
    engine = SyncEngine(store, ApiClient("http://127.0.0.1:9"))
    with store.transaction() as db:
        store.take_server_assignment(db, care_assignment("on_scene", None))
    yield engine
    store.close()


def partner_update(seq: int) -> dict:
    return {
        "stream": "unit:1",
        "seq": seq,
        "kind": "assignment.partner_updated",
        "data": care_assignment("scene_safe", "2026-11-18T23:40:00+00:00"),
    }


def test_the_officers_scene_safe_reaches_the_care_assignment_on_the_tablet(engine):
    follow_partners(engine)
    engine.apply_events([partner_update(1)], {})
    partner = engine.store.assignment("care-1")["partners"][0]
    assert partner["status"] == "scene_safe"
    assert partner["scene_safe_at"] == "2026-11-18T23:40:00+00:00"


def test_a_partner_update_for_an_assignment_not_on_the_tablet_changes_nothing(engine):
    follow_partners(engine)
    event = partner_update(1)
    event["data"] = {**event["data"], "id": "someone-elses"}
    engine.apply_events([event], {})
    assert engine.store.assignment("care-1")["partners"][0]["status"] == "on_scene"
    assert engine.store.assignment("someone-elses") is None
