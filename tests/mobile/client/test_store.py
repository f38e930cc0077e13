"""The tablet's local store: one transaction per change, an ordered outbox, cursors that never
rewind, purge of synced clinical records, and a wipe that forgets everything."""

from __future__ import annotations

import datetime
import multiprocessing

import pytest

from mobile.client.store import DONE, Store, now


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path / "tablet.sqlite3")
    yield opened
    opened.close()


def _queue(store: Store, n: int = 1, entity: str = "e1") -> list[str]:
    ids = []
    for i in range(n):
        with store.transaction() as db:
            ids.append(
                store.enqueue(
                    db,
                    type="service.create",
                    entity_id=f"{entity}-{i}",
                    data={"i": i},
                    occurred_at=now(),
                ).id
            )
    return ids


def test_the_store_uses_a_write_ahead_log(store):
    assert store._one("PRAGMA journal_mode")[0] == "wal"


def test_the_outbox_hands_out_mutations_in_the_order_they_were_made(store):
    ids = _queue(store, 5)
    assert [m.id for m in store.pending(3)] == ids[:3]
    assert store.queued_count() == 5


def test_a_failed_change_leaves_neither_the_record_nor_its_mutation(store):
    with pytest.raises(RuntimeError), store.transaction() as db:
        store.put_record(db, "service", {"id": "s1"}, parent="enc", synced=False)
        store.enqueue(db, type="service.create", entity_id="s1", data={}, occurred_at=now())
        raise RuntimeError("the app died here")
    assert store.record("s1") is None
    assert store.queued_count() == 0


def test_a_sent_mutation_stays_pending_with_the_same_id_until_answered(store):
    (mid,) = _queue(store)
    store.mark_sent([mid])
    store.mark_sent([mid])
    (again,) = store.pending()
    assert again.id == mid and again.state == "sent" and again.attempts == 2


def test_a_finished_mutation_is_no_longer_pending(store):
    (mid,) = _queue(store)
    with store.transaction() as db:
        store.finish(db, mid, DONE)
    assert store.pending() == [] and store.queued_count() == 0


def test_cursors_never_move_backwards(store):
    with store.transaction() as db:
        store.put_cursor(db, "unit:1", 9)
        store.put_cursor(db, "unit:1", 4)
    assert store.cursors() == {"unit:1": 9}


def test_synced_clinical_records_are_purged_after_the_retention_time(store):
    with store.transaction() as db:
        store.put_record(db, "encounter", {"id": "old"}, parent="a", synced=True)
        store.put_record(db, "service", {"id": "unsent"}, parent="old", synced=False)
        db.execute("UPDATE records SET synced_at = '2000-01-01T00:00:00+00:00' WHERE id='old'")
    assert store.purge_synced_clinical(datetime.timedelta(hours=12)) == 1
    assert store.record("old") is None
    assert store.record("unsent") is not None


def test_a_recently_synced_record_is_kept(store):
    with store.transaction() as db:
        store.put_record(db, "encounter", {"id": "fresh"}, parent="a", synced=True)
    assert store.purge_synced_clinical(datetime.timedelta(hours=12)) == 0


def test_a_wipe_forgets_the_token_records_outbox_and_cursors(store):
    store.set_settings(token="secret", server_url="http://x")
    _queue(store, 2)
    with store.transaction() as db:
        store.put_cursor(db, "unit:1", 3)
        store.put_record(db, "encounter", {"id": "e"}, parent="a", synced=True)
    store.wipe()
    assert store.token is None and store.queued_count() == 0
    assert store.cursors() == {} and store.record("e") is None


def _write_and_die(path: str) -> None:
    store = Store(path)
    for i in range(10_000):
        with store.transaction() as db:
            store.put_record(db, "service", {"id": f"s{i}"}, parent="enc", synced=False)
            store.enqueue(db, type="service.create", entity_id=f"s{i}", data={}, occurred_at=now())


def test_an_app_killed_mid_write_reopens_with_every_record_matched_by_its_mutation(tmp_path):
    path = str(tmp_path / "killed.sqlite3")
    Store(path).close()
    child = multiprocessing.get_context("spawn").Process(target=_write_and_die, args=(path,))
    child.start()
    reopened = Store(path)
    while reopened.queued_count() < 20 and child.is_alive():
        pass
    child.kill()
    child.join()
    reopened.close()
    after = Store(path)
    records = {r["id"] for r in after.records("service")}
    queued = {m.entity_id for m in after.mutations()}
    assert records and records == queued
    after.close()
