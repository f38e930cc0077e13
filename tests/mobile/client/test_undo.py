"""Consequential choices can be taken back for 10 seconds, by one more queued change; a tap on
another control just after the layout changed is ignored."""

from __future__ import annotations

import pytest

from mobile.client.recorder import NotAllowed, Recorder
from mobile.client.store import Store
from mobile.client.undo import TapGuard, UndoShelf, can_take_back


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


PROTOCOL = {
    "naloxone": {"routes": ["intranasal", "intramuscular"], "responses": ["improved", "worse"]},
    "referral_statuses": {"made": ["contacted", "closed"], "contacted": ["closed"]},
}


@pytest.fixture
def shelf(tmp_path):
    store = Store(tmp_path / "tablet.sqlite3")
    store.set_settings(protocol=PROTOCOL)
    with store.transaction() as db:
        store.put_assignment(db, {"id": "a-1", "kind": "care", "status": "on_scene"})
    recorder = Recorder(store)
    clock = Clock()
    yield UndoShelf(recorder, clock=clock), recorder, clock
    store.close()


def test_undoing_a_naloxone_response_queues_a_correction_back_to_what_it_was(shelf):
    undo, recorder, clock = shelf
    encounter = recorder.open_encounter("a-1")
    dose = recorder.log_naloxone(encounter, response="improved")
    offer = undo.correct_naloxone(dose, "response", "worse")
    assert offer.said == "Naloxone response: worse"
    clock.now += 9.5
    assert undo.undo() is not None
    assert recorder.store.record(dose)["response"] == "improved"
    updates = [m for m in recorder.store.pending() if m.type == "naloxone.update"]
    assert [m.data for m in updates] == [{"response": "worse"}, {"response": "improved"}]


def test_after_ten_seconds_there_is_nothing_to_undo(shelf):
    undo, recorder, clock = shelf
    encounter = recorder.open_encounter("a-1")
    undo.dispose(encounter, "referred", "Referred")
    clock.now += 10
    assert undo.offer is None and undo.undo() is None
    assert recorder.store.record(encounter)["disposition"] == "referred"


def test_undoing_a_disposition_edits_the_encounter_back_and_keeps_both_edits(shelf):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    undo.dispose(encounter, "referred", "Referred")
    undo.undo()
    assert recorder.store.record(encounter)["disposition"] == ""
    edits = [m.data.get("disposition") for m in recorder.store.pending()]
    assert edits == [None, "referred", ""]  # the opening, the choice, the undo


def test_undoing_a_referral_with_consent_closes_it_with_a_note_never_deletes_it(shelf):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    referral = undo.refer(encounter, 7, "Crisis Line", consent=True)
    assert undo.offer.said == "Referral to Crisis Line, with consent"
    undo.undo()
    assert recorder.store.record(referral)["status"] == "closed"
    (update,) = [m for m in recorder.store.pending() if m.type == "referral.update"]
    assert update.data["status"] == "closed" and "mistake" in update.data["note"]
    assert [m.type for m in recorder.store.pending()].count("referral.create") == 1


def test_a_referral_without_consent_is_offered_for_undo_too_and_undo_closes_it(shelf):
    undo, recorder, _ = shelf
    referral = undo.refer(recorder.open_encounter("a-1"), 7, "Crisis Line", consent=False)
    assert undo.offer.said == "Referral to Crisis Line, no consent"
    undo.undo()
    assert recorder.store.record(referral)["status"] == "closed"


def test_recording_something_else_withdraws_the_offer_so_undo_never_takes_back_an_older_choice(
    shelf,
):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    undo.dispose(encounter, "referred", "Referred")
    recorder.log_service(encounter, "first_aid")
    undo.withdraw()
    assert undo.offer is None and undo.undo() is None
    assert recorder.store.record(encounter)["disposition"] == "referred"


def test_a_newer_choice_replaces_the_offer(shelf):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    undo.dispose(encounter, "referred", "Referred")
    undo.dispose(encounter, "resolved", "Resolved")
    undo.undo()
    assert recorder.store.record(encounter)["disposition"] == "referred"


def test_a_control_that_moved_ignores_taps_for_half_a_second_and_one_that_stayed_takes_them():
    clock = Clock()
    guard = TapGuard(clock=clock)
    guard.laid_out({"refer": ("Refer", 10, 500, 300), "service-a": ("A", 10, 100, 200)})
    clock.now += 0.6
    assert guard.allows("refer") and guard.allows("service-a")
    # A referral list grew above: Refer moved up; a disposition appeared where Refer was.
    guard.laid_out(
        {
            "refer": ("Refer", 10, 650, 300),
            "service-a": ("A", 10, 100, 200),
            "disposition-x": ("X", 10, 500, 300),
        }
    )
    clock.now += 0.45
    assert not guard.allows("disposition-x")
    assert not guard.allows("refer")
    assert guard.allows("service-a")  # it stayed where it was
    clock.now += 0.1
    assert guard.allows("disposition-x") and guard.allows("refer")  # a person's pace


def test_a_control_whose_words_changed_counts_as_moved():
    clock = Clock()
    guard = TapGuard(clock=clock)
    guard.laid_out({"sign-on": ("Sign on", 0, 0, 100)})
    clock.now += 1
    guard.laid_out({"sign-on": ("Sign off", 0, 0, 100)})
    clock.now += 0.3
    assert not guard.allows("sign-on")
    clock.now += 0.3
    assert guard.allows("sign-on")


def test_taking_back_a_queued_naloxone_correction_queues_its_opposite_and_undo_redoes_it(shelf):
    undo, recorder, _ = shelf
    dose = recorder.log_naloxone(recorder.open_encounter("a-1"), route="intranasal")
    recorder.correct_naloxone(dose, route="intramuscular")
    (correction,) = [m for m in recorder.store.pending() if m.type == "naloxone.update"]
    assert can_take_back(correction)
    offer = undo.take_back(correction.id, "Naloxone correction")
    assert offer.said == "Taken back: Naloxone correction"
    assert recorder.store.record(dose)["route"] == "intranasal"
    undo.undo()
    assert recorder.store.record(dose)["route"] == "intramuscular"
    routes = [m.data["route"] for m in recorder.store.pending() if m.type == "naloxone.update"]
    assert routes == ["intramuscular", "intranasal", "intramuscular"]


def test_taking_back_a_queued_referral_closes_it_and_undo_makes_it_again(shelf):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    referral = recorder.refer(encounter, 7, consent=True)
    undo.take_back(recorder.store.pending()[-1].id, "Referral")
    assert recorder.store.record(referral)["status"] == "closed"
    undo.undo()
    made = [m for m in recorder.store.pending() if m.type == "referral.create"]
    assert len(made) == 2 and made[1].data["service"] == 7 and made[1].data["consent"] is True


def test_opening_an_encounter_or_a_service_already_taken_off_cannot_be_taken_back(shelf):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    opening = recorder.store.pending()[-1]
    assert not can_take_back(opening)
    with pytest.raises(NotAllowed):
        undo.take_back(opening.id, "Encounter")
    service = recorder.log_service(encounter, "first_aid")
    made = recorder.store.pending()[-1]
    recorder.remove_service(service)
    with pytest.raises(NotAllowed):
        undo.take_back(made.id, "Service")


# ---- every recording control has its own Undo -------------------------------------------------


def test_a_service_logged_offers_its_own_undo_naming_the_service(shelf):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    offer = undo.log_service(encounter, "de-escalation", "De-escalation")
    assert offer.said == "service De-escalation"  # the button reads "Undo: service De-escalation"
    assert offer.told == "Service logged: De-escalation."
    (service,) = recorder.store.records("service", parent=encounter)
    assert undo.undo() is not None
    assert recorder.store.records("service", parent=encounter) == []
    removal = recorder.store.pending()[-1]
    assert (removal.type, removal.entity_id) == ("service.remove", service["id"])


def test_undo_after_two_services_takes_off_the_last_one_not_an_earlier_naloxone_response(shelf):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    dose = recorder.log_naloxone(encounter)
    undo.correct_naloxone(dose, "response", "improved", which="Dose 1 of 1")
    undo.log_service(encounter, "de-escalation", "De-escalation")
    undo.log_service(encounter, "first-aid", "First aid")
    assert undo.offer.said == "service First aid"
    undo.undo()
    left = [s["service"] for s in recorder.store.records("service", parent=encounter)]
    assert left == ["de-escalation"]
    assert recorder.store.record(dose)["response"] == "improved"
    assert undo.offer is None  # one Undo per action: the first service's has gone with it


def test_a_dose_correction_names_the_dose_it_applies_to_and_undoes_back_to_not_yet_recorded(
    shelf,
):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    dose = recorder.log_naloxone(encounter)
    offer = undo.correct_naloxone(dose, "route", "intranasal", which="Dose 2 of 2")
    assert offer.said == "Dose 2 of 2, route: intranasal"
    assert undo.correct_naloxone(dose, "dose_mg", "4", which="Dose 2 of 2").said == (
        "Dose 2 of 2, dose: 4 mg"
    )
    undo.undo()
    assert recorder.store.record(dose)["dose_mg"] is None
    assert recorder.store.record(dose)["route"] == "intranasal"
    assert recorder.store.pending()[-1].data == {"dose_mg": None}


def test_a_queued_service_can_be_taken_back_from_the_sync_screen_and_given_again(shelf):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    service = recorder.log_service(encounter, "transport")
    made = next(m for m in recorder.store.pending() if m.entity_id == service)
    assert can_take_back(made)
    undo.take_back(made.id, "Service Transport")
    assert recorder.store.record(service) is None
    undo.undo()
    assert [s["service"] for s in recorder.store.records("service", parent=encounter)] == [
        "transport"
    ]


def test_naloxone_given_now_offers_its_own_undo_which_takes_that_dose_off(shelf):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    first = undo.give_naloxone(encounter)
    assert first.said == "Naloxone given, Dose 1 of 1"
    assert first.told.startswith("Dose 1 of 1 recorded at ")
    second = undo.give_naloxone(encounter, another_dose=True)
    assert second.said == "Naloxone given, Dose 2 of 2"
    older, newer = [m.entity_id for m in recorder.store.pending() if m.type == "naloxone.create"]
    assert undo.undo() is not None
    # Only the dose the Undo named is taken off; the earlier one stays as recorded.
    assert [d["id"] for d in recorder.store.records("naloxone", parent=encounter)] == [older]
    removal = recorder.store.pending()[-1]
    assert (removal.type, removal.entity_id) == ("naloxone.remove", newer)


def test_a_dose_given_within_a_minute_of_another_asks_first_and_offers_no_undo_until_confirmed(
    shelf,
):
    undo, recorder, _ = shelf
    encounter = recorder.open_encounter("a-1")
    undo.give_naloxone(encounter)
    undo.withdraw()
    with pytest.raises(NotAllowed, match="Record another dose"):
        undo.give_naloxone(encounter)
    assert undo.offer is None
    assert len(recorder.store.records("naloxone", parent=encounter)) == 1
