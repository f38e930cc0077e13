"""A service logged by mistake and taken off (the Undo): gone from the tablet at once, and the
feed's echoes never bring it back, neither the create's echo while the removal still waits in
the outbox nor after the server's `service.removed`."""

from __future__ import annotations

import pytest

from mobile.client.recorder import NotAllowed, Recorder
from mobile.client.store import DONE, Store
from mobile.client.sync_engine import SyncEngine


@pytest.fixture
def tablet(tmp_path):
    store = Store(tmp_path / "tablet.sqlite3")
    with store.transaction() as db:
        store.put_assignment(db, {"id": "a-1", "kind": "care", "status": "on_scene"})
    recorder = Recorder(store)
    yield recorder, SyncEngine(store, client=None)
    store.close()


def echo(kind: str, service: dict, seq: int) -> dict:
    data = {"id": service["id"], "encounter": service["encounter"], "service": "transport"}
    return {"stream": "unit:1", "seq": seq, "kind": kind, "data": data}


def test_a_service_taken_off_is_gone_and_its_create_echo_does_not_bring_it_back(tablet):
    recorder, engine = tablet
    encounter = recorder.open_encounter("a-1")
    service_id = recorder.log_service(encounter, "transport")
    service = recorder.store.record(service_id)
    recorder.remove_service(service_id)
    assert recorder.store.records("service", parent=encounter) == []
    engine.apply_events([echo("service.recorded", service, 1)], {})
    assert recorder.store.records("service", parent=encounter) == []
    with pytest.raises(NotAllowed):
        recorder.remove_service(service_id)  # nothing left to take off


def test_the_servers_removal_takes_a_service_off_a_tablet_that_still_showed_it(tablet):
    recorder, engine = tablet
    encounter = recorder.open_encounter("a-1")
    service_id = recorder.log_service(encounter, "transport")
    service = recorder.store.record(service_id)
    with recorder.store.transaction() as db:  # pushed and answered
        for mutation in recorder.store.pending():
            recorder.store.finish(db, mutation.id, DONE)
    engine.apply_events([echo("service.recorded", service, 1)], {})
    assert [s["id"] for s in recorder.store.records("service", parent=encounter)] == [service_id]
    engine.apply_events([echo("service.removed", service, 2)], {})
    assert recorder.store.records("service", parent=encounter) == []


def test_the_servers_answer_to_a_removal_keeps_nothing_of_the_service(tablet):
    recorder, engine = tablet
    encounter = recorder.open_encounter("a-1")
    service_id = recorder.log_service(encounter, "transport")
    recorder.remove_service(service_id)
    removal = recorder.store.pending()[-1]
    answer = {"id": service_id, "encounter": encounter, "removed": True}
    with recorder.store.transaction() as db:
        engine._take_server_copy(db, removal, answer)
    assert recorder.store.records("service", parent=encounter) == []
