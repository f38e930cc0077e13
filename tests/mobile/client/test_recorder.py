"""Recording offline: each call changes the tablet's view and queues its mutation together, and the
allowed transitions come from the server's protocol."""

from __future__ import annotations

import pytest

from mobile.client.recorder import NotAllowed


@pytest.fixture
def crew(field_server, tablet_for):
    username, care, spd = field_server.new_crew()
    call = field_server.dispatch(care, spd)
    tablet = tablet_for(username)
    return tablet, call


def test_signing_in_caches_the_protocol_directory_and_the_units_assignments(crew):
    tablet, call = crew
    assert tablet.store.protocol()["transitions"]["care"]["dispatched"]
    assert tablet.store.directory()
    assert tablet.store.assignment(call["care"])["status"] == "dispatched"


def test_a_transition_changes_the_view_and_queues_one_mutation(crew):
    tablet, call = crew
    mutation_id = tablet.recorder.transition(call["care"], "acknowledged")
    assert tablet.store.assignment(call["care"])["status"] == "acknowledged"
    (queued,) = tablet.store.pending()
    assert queued.id == mutation_id and queued.type == "assignment.transition"
    assert queued.data["to"] == "acknowledged"


def test_a_transition_the_protocol_does_not_allow_is_refused_and_changes_nothing(crew):
    tablet, call = crew
    with pytest.raises(NotAllowed, match="cannot become cleared"):
        tablet.recorder.transition(call["care"], "cleared")
    assert tablet.store.queued_count() == 0


def test_a_responder_is_never_offered_the_dispatchers_cancel(crew):
    tablet, call = crew
    tablet.recorder.transition(call["care"], "acknowledged")
    assert "cancelled" not in tablet.recorder.allowed_next(call["care"])


def test_the_transition_table_is_the_servers_not_the_tablets(crew):
    tablet, call = crew
    protocol = tablet.store.protocol()
    protocol["transitions"]["care"]["dispatched"] = ["on_scene"]
    tablet.store.set_settings(protocol=protocol)
    assert tablet.recorder.allowed_next(call["care"]) == ["on_scene"]


def test_naloxone_is_one_call_that_records_a_dose_under_the_encounter(crew):
    tablet, call = crew
    encounter = tablet.recorder.open_encounter(call["care"], people_contacted=1)
    dose = tablet.recorder.log_naloxone(encounter)
    (stored,) = tablet.store.records("naloxone", parent=encounter)
    assert stored["id"] == dose and stored["route"] == "intranasal"
    assert [m.type for m in tablet.store.pending()] == ["encounter.upsert", "naloxone.create"]


def test_opening_the_encounter_twice_returns_the_same_one(crew):
    tablet, call = crew
    first = tablet.recorder.open_encounter(call["care"])
    assert tablet.recorder.open_encounter(call["care"]) == first
