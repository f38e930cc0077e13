"""Recording offline: each call changes the tablet's view and queues its mutation together, and the
allowed transitions come from the server's protocol."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from mobile.client.recorder import NotAllowed, RepeatDose
from server.accounts.models import Role, User
from server.care.models import NaloxoneAdministration, Referral, ServiceGiven
from tests.conftest import PASSWORD, SHIFTS_SINCE, put_on_shift


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
    assert stored["id"] == dose
    assert [m.type for m in tablet.store.pending()] == ["encounter.upsert", "naloxone.create"]


def test_one_naloxone_tap_records_the_time_and_leaves_dose_and_route_not_yet_recorded(crew):
    tablet, call = crew
    encounter = _synced_on_scene(tablet, call)
    dose = tablet.recorder.log_naloxone(encounter)
    held = tablet.store.record(dose)
    assert (held["dose_mg"], held["route"], held["response"]) == (None, None, "unknown")
    assert tablet.engine.sync_once() and tablet.store.queued_count() == 0
    stored = NaloxoneAdministration.objects.get(pk=dose)
    assert (stored.dose_mg, stored.route, stored.response) == (None, "", "unknown")
    tablet.recorder.correct_naloxone(dose, dose_mg="4", route="intranasal")
    assert tablet.engine.sync_once() and tablet.store.queued_count() == 0
    stored.refresh_from_db()
    assert (stored.dose_mg, stored.route) == (Decimal("4"), "intranasal")


def test_a_service_logged_then_taken_off_offline_leaves_no_service_on_the_server(crew):
    tablet, call = crew
    encounter = _synced_on_scene(tablet, call)
    kept = tablet.recorder.log_service(encounter, "first-aid")
    mistaken = tablet.recorder.log_service(encounter, "transport")
    tablet.recorder.remove_service(mistaken)
    assert [s["id"] for s in tablet.store.records("service", parent=encounter)] == [kept]
    assert tablet.engine.sync_once() and tablet.store.queued_count() == 0
    assert [str(pk) for pk in ServiceGiven.objects.values_list("pk", flat=True)] == [kept]
    tablet.engine.pull()  # the echoes of the create and the removal leave it off the tablet
    assert [s["id"] for s in tablet.store.records("service", parent=encounter)] == [kept]


def test_a_second_naloxone_tap_within_a_minute_asks_first_and_records_nothing(crew):
    tablet, call = crew
    encounter = tablet.recorder.open_encounter(call["care"], people_contacted=1)
    given = datetime.datetime(2026, 11, 20, 22, 0, tzinfo=datetime.UTC)
    tablet.recorder.log_naloxone(encounter, at=given)
    with pytest.raises(RepeatDose, match="Record another dose"):
        tablet.recorder.log_naloxone(encounter, at=given + datetime.timedelta(seconds=2))
    assert len(tablet.store.records("naloxone", parent=encounter)) == 1
    assert [m.type for m in tablet.store.pending()] == ["encounter.upsert", "naloxone.create"]


def test_a_second_dose_the_responder_confirms_is_recorded_as_its_own_administration(crew):
    tablet, call = crew
    encounter = tablet.recorder.open_encounter(call["care"], people_contacted=1)
    given = datetime.datetime(2026, 11, 20, 22, 0, tzinfo=datetime.UTC)
    first = tablet.recorder.log_naloxone(encounter, at=given)
    second = tablet.recorder.log_naloxone(
        encounter, at=given + datetime.timedelta(seconds=20), another_dose=True
    )
    assert first != second
    assert len(tablet.store.records("naloxone", parent=encounter)) == 2


def test_a_dose_three_minutes_after_the_first_is_recorded_without_asking(crew):
    tablet, call = crew
    encounter = tablet.recorder.open_encounter(call["care"], people_contacted=1)
    given = datetime.datetime(2026, 11, 20, 22, 0, tzinfo=datetime.UTC)
    tablet.recorder.log_naloxone(encounter, at=given)
    tablet.recorder.log_naloxone(encounter, at=given + datetime.timedelta(minutes=3))
    assert len(tablet.store.records("naloxone", parent=encounter)) == 2


def test_opening_the_encounter_twice_returns_the_same_one(crew):
    tablet, call = crew
    first = tablet.recorder.open_encounter(call["care"])
    assert tablet.recorder.open_encounter(call["care"]) == first


def _synced_on_scene(tablet, call) -> str:
    for to in ("acknowledged", "en_route", "on_scene"):
        tablet.recorder.transition(call["care"], to)
    return tablet.recorder.open_encounter(call["care"], people_contacted=1)


def test_a_dose_corrected_offline_reaches_the_server_as_one_naloxone_update(crew):
    tablet, call = crew
    encounter = _synced_on_scene(tablet, call)
    dose = tablet.recorder.log_naloxone(encounter)
    tablet.recorder.correct_naloxone(dose, dose_mg="2,5", route="intramuscular")
    assert tablet.store.record(dose)["dose_mg"] == "2.5"
    assert tablet.store.pending()[-1].type == "naloxone.update"
    assert tablet.engine.sync_once() and tablet.store.queued_count() == 0
    stored = NaloxoneAdministration.objects.get(pk=dose)
    assert (stored.dose_mg, stored.route, stored.version) == (Decimal("2.5"), "intramuscular", 2)
    assert tablet.store.record(dose)["version"] == 2  # the server's copy, settled


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"dose_mg": "17"}, "at most 16 mg"),
        ({"dose_mg": "0"}, "more than 0"),
        ({"dose_mg": "four"}, "a number of mg"),
        ({"dose_mg": "2.125"}, "two decimal places"),
        ({"route": "oral"}, "intranasal, intramuscular"),
        ({"doses": 11}, "Between 1 and 10"),
        ({"administered_at": "2026-11-18T23:00:00+00:00"}, "not administered_at"),
    ],
)
def test_a_dose_correction_the_server_would_refuse_is_refused_on_the_tablet(crew, changes, why):
    tablet, call = crew
    encounter = _synced_on_scene(tablet, call)
    dose = tablet.recorder.log_naloxone(encounter)
    queued = tablet.store.queued_count()
    with pytest.raises(NotAllowed, match=why):
        tablet.recorder.correct_naloxone(dose, **changes)
    assert tablet.store.queued_count() == queued
    assert tablet.store.record(dose)["dose_mg"] is None


def test_a_referral_moved_along_offline_reaches_the_server_with_its_note(crew):
    tablet, call = crew
    encounter = _synced_on_scene(tablet, call)
    referral = tablet.recorder.refer(encounter, tablet.store.directory()[0]["id"], consent=True)
    assert tablet.engine.sync_once()
    tablet.recorder.update_referral(referral, status="contacted", note="Intake called back.")
    (update,) = tablet.store.pending()
    assert update.type == "referral.update" and update.base_version == 1
    assert tablet.store.record(referral)["status"] == "contacted"
    assert tablet.engine.sync_once() and tablet.store.queued_count() == 0
    stored = Referral.objects.get(pk=referral)
    assert (stored.status, stored.version) == ("contacted", 2)
    assert stored.updates.get(to_status="contacted").note == "Intake called back."


def test_a_referral_status_the_protocol_does_not_allow_next_is_refused(crew):
    tablet, call = crew
    encounter = _synced_on_scene(tablet, call)
    referral = tablet.recorder.refer(encounter, tablet.store.directory()[0]["id"], consent=True)
    with pytest.raises(NotAllowed, match="made can't become connected"):
        tablet.recorder.update_referral(referral, status="connected")
    with pytest.raises(NotAllowed, match="Change the status"):
        tablet.recorder.update_referral(referral, note="  ")


def test_care_recorded_before_scene_safe_is_kept_and_flagged_and_after_it_is_not(crew):
    """The rule both sides hold: the tablet lets the responder record before the officer marks
    the scene safe (with a warning), and the server keeps it and flags it."""
    from mobile.client.assignment_view import SAFE, UNCHECKED, assignment_view
    from server.care.models import ServiceGiven
    from server.dispatch.incidents import services as dispatch_services
    from server.dispatch.models import Assignment

    tablet, call = crew
    encounter = _synced_on_scene(tablet, call)
    role = tablet.store.get_setting("user")["role"]
    view = assignment_view(tablet.store.assignment(call["care"]), tablet.store.protocol(), role)
    assert view.scene == UNCHECKED and view.may_open_encounter and view.encounter_warning
    code = tablet.store.protocol()["services"][0]["code"]
    early = tablet.recorder.log_service(encounter, code)
    assert tablet.engine.sync_once() and tablet.store.queued_count() == 0
    assert ServiceGiven.objects.get(pk=early).before_scene_safe is True

    spd = Assignment.objects.get(pk=call["spd"])
    officer = User.objects.create_user(
        username=f"officer-{spd.unit.call_sign}",
        password=PASSWORD,
        role=Role.SPD_OFFICER,
        unit=spd.unit,
    )
    put_on_shift(officer, spd.unit, since=SHIFTS_SINCE)
    for to in ("acknowledged", "en_route", "on_scene", "scene_safe"):
        dispatch_services.transition_assignment(actor=officer, assignment_id=spd.pk, to=to)
    assert tablet.engine.sync_once()
    view = assignment_view(tablet.store.assignment(call["care"]), tablet.store.protocol(), role)
    assert view.scene == SAFE and view.encounter_warning == ""
    later = tablet.recorder.log_service(encounter, tablet.store.protocol()["services"][1]["code"])
    assert tablet.engine.sync_once() and tablet.store.queued_count() == 0
    assert ServiceGiven.objects.get(pk=later).before_scene_safe is False


def test_a_disposition_undone_offline_reaches_the_server_undone_not_as_a_conflict(crew):
    """Two edits of the same field made offline one on top of the other (a choice and its Undo)
    both carry the version the tablet saw; the second is rebased on the first's."""
    from mobile.client.undo import UndoShelf
    from server.care.models import Encounter

    tablet, call = crew
    encounter = _synced_on_scene(tablet, call)
    assert tablet.engine.sync_once() and tablet.store.queued_count() == 0
    code = tablet.store.protocol()["dispositions"][0]["code"]
    shelf = UndoShelf(tablet.recorder)
    shelf.dispose(encounter, code, "first")
    shelf.undo()
    first, second = tablet.store.pending()
    assert first.base_version == second.base_version is not None
    assert tablet.engine.sync_once() and tablet.store.queued_count() == 0
    assert {m.state for m in tablet.store.mutations()} == {"done"}
    stored = Encounter.objects.get(pk=encounter)
    assert stored.disposition is None
    assert stored.version == first.base_version + 2
