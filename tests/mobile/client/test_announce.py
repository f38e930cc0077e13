"""A new assignment is announced once: not again on a refresh, a replayed feed frame, a move
of the call, or the app reopening."""

from __future__ import annotations

import pytest

from mobile.client.announce import to_announce
from mobile.client.api import ApiClient
from mobile.client.store import Store
from mobile.client.sync_engine import SyncEngine


def dispatched(assignment_id: str, seq: int, status: str = "dispatched") -> dict:
    data = {"id": assignment_id, "kind": "care", "status": status, "version": seq, "partners": []}
    kind = "assignment.dispatched" if status == "dispatched" else "assignment.updated"
    return {"stream": "unit:1", "seq": seq, "kind": kind, "data": data}


@pytest.fixture
def engine(tmp_path, refused_url):
    store = Store(tmp_path / "tablet.sqlite3")
    yield SyncEngine(store, ApiClient(refused_url))  # never reached: events are applied directly
    store.close()


def test_each_dispatched_assignment_is_announced_once(engine, tmp_path):
    store = engine.store
    assert to_announce(store) == []
    engine.apply_events([dispatched("a-1", 1)], {})
    assert to_announce(store) == ["a-1"]
    assert to_announce(store) == []  # a refresh
    engine.apply_events([dispatched("a-1", 1)], {})  # the same frame replayed
    assert to_announce(store) == []
    engine.apply_events([dispatched("a-1", 2, "acknowledged")], {})
    engine.apply_events([dispatched("a-2", 3)], {})
    assert to_announce(store) == ["a-2"]
    store.close()
    engine.store = Store(tmp_path / "tablet.sqlite3")  # the app reopens
    assert to_announce(engine.store) == []


def test_an_assignment_that_arrives_already_acknowledged_does_not_ring(engine):
    engine.apply_events([dispatched("a-1", 1, "acknowledged")], {})
    assert to_announce(engine.store) == []
