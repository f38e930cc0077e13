"""The naloxone limits come from the server's protocol (`limits.naloxone`); the tablet's own
values are only the fallback before the first protocol load."""

from __future__ import annotations

import pytest

from mobile.client.recorder import NotAllowed, Recorder
from mobile.client.store import Store


@pytest.fixture
def dose(tmp_path):
    store = Store(tmp_path / "tablet.sqlite3")
    with store.transaction() as db:
        store.put_assignment(db, {"id": "a-1", "kind": "care", "status": "on_scene"})
    recorder = Recorder(store)
    record = recorder.log_naloxone(recorder.open_encounter("a-1"))
    yield recorder, record
    store.close()


def test_before_any_protocol_the_fallback_limits_hold(dose):
    recorder, record = dose
    recorder.correct_naloxone(record, dose_mg="16", doses=10)
    with pytest.raises(NotAllowed, match="at most 16 mg"):
        recorder.correct_naloxone(record, dose_mg="16.5")
    with pytest.raises(NotAllowed, match="Between 1 and 10 doses"):
        recorder.correct_naloxone(record, doses=11)


def test_the_servers_published_limits_replace_the_fallback(dose):
    recorder, record = dose
    limits = {"naloxone": {"dose_mg_max": 8, "doses_min": 1, "doses_max": 3}}
    recorder.store.set_settings(protocol={"limits": limits})
    with pytest.raises(NotAllowed, match="at most 8 mg"):
        recorder.correct_naloxone(record, dose_mg="10")
    with pytest.raises(NotAllowed, match="Between 1 and 3 doses"):
        recorder.correct_naloxone(record, doses=4)
    recorder.correct_naloxone(record, dose_mg="8", doses=3)
    assert (recorder.store.record(record)["dose_mg"], recorder.store.record(record)["doses"]) == (
        "8",
        3,
    )


def test_a_dose_chosen_with_the_tap_is_held_to_the_same_limits_and_none_is_not_yet_recorded(
    dose,
):
    recorder, record = dose
    assert recorder.store.record(record)["dose_mg"] is None  # nobody chose one: not assumed
    limits = {"naloxone": {"dose_mg_max": 8, "doses_min": 1, "doses_max": 3}}
    recorder.store.set_settings(protocol={"limits": limits})
    encounter = recorder.store.record(record)["encounter"]
    queued = recorder.store.queued_count()
    with pytest.raises(NotAllowed, match="at most 8 mg"):
        recorder.log_naloxone(encounter, dose_mg="10", another_dose=True)
    assert recorder.store.queued_count() == queued
    chosen = recorder.log_naloxone(encounter, dose_mg="8", another_dose=True)
    assert recorder.store.record(chosen)["dose_mg"] == "8"
    recorder.correct_naloxone(chosen, dose_mg=None)  # back to not yet recorded
    assert recorder.store.record(chosen)["dose_mg"] is None
