"""The care services, called the way the API, sync and admin call them: encounters merge field by
field, records made in the field are created by their client-made UUID exactly once, referrals move
only along their flow, and care given before the scene is safe is kept but flagged."""

from __future__ import annotations

import datetime
import decimal
import threading
import uuid

import pytest
from django.db import connection, transaction
from django.utils import timezone

from server.audit.models import AuditEntry
from server.care import services
from server.care.models import (
    DirectoryService,
    Disposition,
    Encounter,
    NaloxoneAdministration,
    Referral,
    ReferralUpdate,
    ServiceGiven,
    ServiceType,
    SurveyResponse,
)
from server.dispatch.models import Assignment
from server.errors import (
    Conflict,
    Forbidden,
    IdReused,
    InvalidInput,
    NotFound,
    VersionConflict,
)
from tests.racing import wait_for_a_lock_waiter

DESC_MOBILE_CRISIS = "0b7f0a52-5d2c-4c57-9b65-6f1d1a4e0001"
CRISIS_SOLUTIONS_CENTER = "0b7f0a52-5d2c-4c57-9b65-6f1d1a4e0002"


def at() -> datetime.datetime:
    """Care is recorded just after the dispatch that sent the team (the fixtures dispatch now):
    the same time on every call in a test, so a retried record is the same record."""
    latest = Assignment.objects.order_by("-dispatched_at").values_list("dispatched_at", flat=True)
    return (latest.first() or timezone.now()) + datetime.timedelta(seconds=1)


@pytest.fixture
def call(dispatched):
    return dispatched()


@pytest.fixture
def care1(people):
    return people["care1"]


@pytest.fixture
def encounter(call, care1) -> Encounter:
    return services.upsert_encounter(
        actor=care1,
        encounter_id=uuid.uuid4(),
        assignment_id=call["care"],
        started_at=at(),
        changes={"people_contacted": 1, "disposition": "referred", "notes": "Met at the bus stop."},
    )


def _edit(actor, encounter, base_version, **changes) -> Encounter:
    return services.upsert_encounter(
        actor=actor,
        encounter_id=encounter.pk,
        assignment_id=encounter.assignment_id,
        base_version=base_version,
        changes=changes,
    )


def _mark_scene_safe(move, call) -> None:
    for to in ("acknowledged", "en_route", "on_scene", "scene_safe"):
        assert move("officer1", call["spd"], to).status_code == 200


# ---- encounters ----------------------------------------------------------------------------


def test_an_encounter_is_stored_under_the_uuid_the_tablet_made(encounter, call, care1):
    stored = Encounter.objects.get(pk=encounter.pk)
    assert str(stored.assignment_id) == call["care"]
    assert stored.recorded_by == care1
    assert stored.version == 1
    assert stored.disposition.code == "referred"
    assert stored.notes == "Met at the bus stop."


def test_the_same_encounter_upsert_retried_leaves_one_encounter_at_version_one(encounter, care1):
    again = services.upsert_encounter(
        actor=care1,
        encounter_id=encounter.pk,
        assignment_id=encounter.assignment_id,
        changes={"people_contacted": 1, "disposition": "referred", "notes": "Met at the bus stop."},
    )
    assert again.pk == encounter.pk
    assert Encounter.objects.count() == 1
    assert Encounter.objects.get().version == 1
    assert AuditEntry.objects.filter(object_id=str(encounter.pk)).count() == 1


def test_a_second_encounter_id_for_the_same_assignment_is_refused_and_names_the_first(
    encounter, care1
):
    with pytest.raises(Conflict) as refused:
        services.upsert_encounter(
            actor=care1,
            encounter_id=uuid.uuid4(),
            assignment_id=encounter.assignment_id,
            changes={"people_contacted": 2},
        )
    assert refused.value.status == 409
    assert refused.value.extra["server"] == {"encounter": str(encounter.pk)}
    assert Encounter.objects.count() == 1


def test_an_encounter_id_cannot_be_reused_on_another_assignment(
    encounter, people, client_for, new_call, units
):
    other = new_call()
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{other['id']}/dispatch",
        {"care_unit": units["CARE-2"].pk, "spd_unit": units["2K21"].pk},
        format="json",
    )
    care2_assignment = next(a["id"] for a in answer.json()["assignments"] if a["kind"] == "care")
    with pytest.raises(IdReused):
        services.upsert_encounter(
            actor=people["admin"],
            encounter_id=encounter.pk,
            assignment_id=care2_assignment,
            changes={"notes": "x"},
        )
    assert str(Encounter.objects.get(pk=encounter.pk).assignment_id) == str(encounter.assignment_id)


def test_two_edits_made_from_version_one_to_different_fields_both_apply(encounter, care1):
    _edit(care1, encounter, 1, notes="Accepted water and a blanket.")
    merged = _edit(care1, encounter, 1, disposition="stabilized-on-scene")
    stored = Encounter.objects.get(pk=merged.pk)
    assert stored.notes == "Accepted water and a blanket."
    assert stored.disposition.code == "stabilized-on-scene"
    assert stored.version == 3
    assert stored.field_versions["notes"] == 2
    assert stored.field_versions["disposition"] == 3


def test_two_edits_made_from_version_one_to_the_same_field_conflict_and_change_nothing(
    encounter, care1
):
    _edit(care1, encounter, 1, notes="Accepted water and a blanket.")
    with pytest.raises(VersionConflict) as refused:
        _edit(care1, encounter, 1, notes="Declined everything.", people_contacted=3)
    assert refused.value.code == "version_conflict"
    server = refused.value.extra["server"]
    assert server["notes"] == "Accepted water and a blanket."
    assert server["version"] == 2
    stored = Encounter.objects.get(pk=encounter.pk)
    # The whole edit is refused, even its field nobody else touched.
    assert (stored.notes, stored.people_contacted, stored.version) == (
        "Accepted water and a blanket.",
        1,
        2,
    )


def test_a_stale_edit_that_agrees_with_the_server_on_a_changed_field_is_not_a_conflict(
    encounter, care1
):
    _edit(care1, encounter, 1, notes="Accepted water.")
    merged = _edit(care1, encounter, 1, notes="Accepted water.", people_contacted=2)
    assert (merged.notes, merged.people_contacted, merged.version) == ("Accepted water.", 2, 3)


def test_an_edit_based_on_the_current_version_applies_even_to_a_field_changed_before(
    encounter, care1
):
    _edit(care1, encounter, 1, notes="First note.")
    merged = _edit(care1, encounter, 2, notes="Second note.")
    assert merged.notes == "Second note."
    assert Encounter.objects.get(pk=encounter.pk).version == 3


def test_an_edit_that_changes_nothing_does_not_bump_the_version_or_write_an_audit_row(
    encounter, care1
):
    _edit(care1, encounter, 1, notes="Met at the bus stop.")
    assert Encounter.objects.get(pk=encounter.pk).version == 1
    assert not AuditEntry.objects.filter(action="encounter.updated").exists()


def test_an_unknown_or_retired_disposition_is_refused_with_a_field_message(encounter, care1):
    with pytest.raises(InvalidInput) as refused:
        _edit(care1, encounter, 1, disposition="arrested")
    assert "disposition" in refused.value.fields
    Disposition.objects.filter(code="transported").update(active=False)
    with pytest.raises(InvalidInput):
        _edit(care1, encounter, 1, disposition="transported")
    assert Encounter.objects.get(pk=encounter.pk).disposition.code == "referred"


# ---- records created by UUID: retries are no-ops, reused ids are refused --------------------


def _service(actor, record_id, encounter, **extra):
    data = {"service": "de-escalation", "occurred_at": at(), "note": ""} | extra
    return services.record_service_given(
        actor=actor, service_id=record_id, encounter_id=encounter.pk, **data
    )


def _naloxone(actor, record_id, encounter, **extra):
    data = {"administered_at": at(), "dose_mg": "4", "doses": 1, "route": "intranasal"} | extra
    return services.record_naloxone(
        actor=actor, administration_id=record_id, encounter_id=encounter.pk, **data
    )


def _referral(actor, record_id, encounter, **extra):
    data = {"service": DESC_MOBILE_CRISIS, "consent": True, "made_at": at()} | extra
    return services.create_referral(
        actor=actor, referral_id=record_id, encounter_id=encounter.pk, **data
    )


def _survey(actor, record_id, encounter, **extra):
    data = {"consent": True, "answers": {"respected": 5, "helped": 4}, "answered_at": at()} | extra
    return services.record_survey(
        actor=actor, survey_id=record_id, encounter_id=encounter.pk, **data
    )


RECORDS = {
    "service": (_service, ServiceGiven, {"service": "first-aid"}),
    "naloxone": (_naloxone, NaloxoneAdministration, {"dose_mg": "8"}),
    "referral": (_referral, Referral, {"service": CRISIS_SOLUTIONS_CENTER}),
    "survey": (_survey, SurveyResponse, {"answers": {"respected": 1}}),
}


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_a_record_retried_with_the_same_id_and_data_is_the_same_record_and_nothing_new(
    kind, encounter, care1
):
    make, model, _ = RECORDS[kind]
    record_id = uuid.uuid4()
    first = make(care1, record_id, encounter)
    audit_rows = AuditEntry.objects.count()
    again = make(care1, record_id, encounter)
    assert again.pk == first.pk == record_id
    assert model.objects.count() == 1
    assert AuditEntry.objects.count() == audit_rows


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_a_record_id_reused_for_different_data_is_refused_and_changes_nothing(
    kind, encounter, care1
):
    make, model, different = RECORDS[kind]
    record_id = uuid.uuid4()
    make(care1, record_id, encounter)
    before = model.objects.values().get(pk=record_id)
    audit_rows = AuditEntry.objects.count()
    with pytest.raises(IdReused) as refused:
        make(care1, record_id, encounter, **different)
    assert refused.value.status == 409
    assert model.objects.values().get(pk=record_id) == before
    assert model.objects.count() == 1
    assert AuditEntry.objects.count() == audit_rows


def test_a_retried_naloxone_dose_written_as_4_matches_the_stored_4_point_00(encounter, care1):
    record_id = uuid.uuid4()
    _naloxone(care1, record_id, encounter, dose_mg="4.00")
    assert _naloxone(care1, record_id, encounter, dose_mg=4).pk == record_id


# ---- naloxone -------------------------------------------------------------------------------


@pytest.mark.parametrize("dose", ["-2", "16.01"])
def test_a_naloxone_dose_of_zero_or_less_or_over_16_mg_is_refused(dose, encounter, care1):
    with pytest.raises(InvalidInput) as refused:
        _naloxone(care1, uuid.uuid4(), encounter, dose_mg=dose)
    assert "dose_mg" in refused.value.fields
    assert not NaloxoneAdministration.objects.exists()


def test_a_naloxone_dose_of_exactly_16_mg_is_accepted(encounter, care1):
    record = _naloxone(care1, uuid.uuid4(), encounter, dose_mg="16")
    assert NaloxoneAdministration.objects.get(pk=record.pk).dose_mg == decimal.Decimal("16")


def test_a_naloxone_route_other_than_intranasal_or_intramuscular_is_refused(encounter, care1):
    with pytest.raises(InvalidInput) as refused:
        _naloxone(care1, uuid.uuid4(), encounter, route="oral")
    assert "route" in refused.value.fields


def test_correcting_a_naloxone_record_changes_dose_route_and_response_and_bumps_its_version(
    encounter, care1
):
    record = _naloxone(care1, uuid.uuid4(), encounter)
    services.update_naloxone(
        actor=care1,
        administration_id=record.pk,
        changes={"dose_mg": decimal.Decimal("2"), "route": "intramuscular", "response": "improved"},
    )
    stored = NaloxoneAdministration.objects.get(pk=record.pk)
    assert (stored.dose_mg, stored.route, stored.response, stored.version) == (
        decimal.Decimal("2"),
        "intramuscular",
        "improved",
        2,
    )


def test_a_naloxone_correction_to_an_absurd_dose_is_refused(encounter, care1):
    record = _naloxone(care1, uuid.uuid4(), encounter)
    with pytest.raises(InvalidInput):
        services.update_naloxone(
            actor=care1, administration_id=record.pk, changes={"dose_mg": decimal.Decimal("20")}
        )
    assert NaloxoneAdministration.objects.get(pk=record.pk).dose_mg == decimal.Decimal("4")


# ---- referrals ------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["7d5c1f0e-3b2a-4c9d-8e7f-000000000404", "not-a-uuid"])
def test_a_referral_to_a_service_not_in_the_directory_is_refused(service, encounter, care1):
    with pytest.raises(InvalidInput) as refused:
        _referral(care1, uuid.uuid4(), encounter, service=service)
    assert "service" in refused.value.fields
    assert not Referral.objects.exists()


def test_a_referral_to_a_directory_service_taken_out_of_use_is_refused(encounter, care1):
    DirectoryService.objects.filter(pk=DESC_MOBILE_CRISIS).update(active=False)
    with pytest.raises(InvalidInput):
        _referral(care1, uuid.uuid4(), encounter)


def test_a_referral_goes_from_made_to_contacted_to_connected_with_a_row_for_each_step(
    encounter, care1, people
):
    referral = _referral(care1, uuid.uuid4(), encounter)
    coordinator = people["coordinator"]
    services.update_referral(actor=coordinator, referral_id=referral.pk, status="contacted")
    services.update_referral(actor=coordinator, referral_id=referral.pk, status="connected")
    stored = Referral.objects.get(pk=referral.pk)
    assert (stored.status, stored.version) == ("connected", 3)
    steps = list(
        ReferralUpdate.objects.filter(referral=referral).values_list("from_status", "to_status")
    )
    assert steps == [("made", "contacted"), ("contacted", "connected")]


@pytest.mark.parametrize(
    ("path", "jump"),
    [
        (["declined"], "contacted"),
        (["contacted", "connected"], "made"),
        (["closed"], "made"),
    ],
)
def test_a_referral_cannot_jump_its_flow(path, jump, encounter, care1, people):
    referral = _referral(care1, uuid.uuid4(), encounter)
    for status in path:
        services.update_referral(
            actor=people["coordinator"], referral_id=referral.pk, status=status
        )
    current = path[-1] if path else "made"
    rows = ReferralUpdate.objects.count()
    with pytest.raises(Conflict) as refused:
        services.update_referral(actor=people["coordinator"], referral_id=referral.pk, status=jump)
    assert refused.value.extra == {"current": current, "requested": jump}
    assert Referral.objects.get(pk=referral.pk).status == current
    assert ReferralUpdate.objects.count() == rows


def test_a_referral_update_based_on_an_old_version_is_a_version_conflict(encounter, care1, people):
    referral = _referral(care1, uuid.uuid4(), encounter)
    services.update_referral(
        actor=people["coordinator"], referral_id=referral.pk, status="contacted", base_version=1
    )
    with pytest.raises(VersionConflict) as refused:
        services.update_referral(
            actor=people["coordinator"], referral_id=referral.pk, status="declined", base_version=1
        )
    assert refused.value.extra["server"]["status"] == "contacted"


def test_a_referral_update_with_nothing_in_it_is_refused(encounter, care1, people):
    referral = _referral(care1, uuid.uuid4(), encounter)
    with pytest.raises(InvalidInput):
        services.update_referral(actor=people["coordinator"], referral_id=referral.pk)
    assert not ReferralUpdate.objects.exists()


def test_an_officer_or_dispatcher_cannot_update_a_referral(encounter, care1, people):
    referral = _referral(care1, uuid.uuid4(), encounter)
    for who in ("officer1", "dispatcher"):
        with pytest.raises(Forbidden):
            services.update_referral(actor=people[who], referral_id=referral.pk, note="x")
    assert Referral.objects.get(pk=referral.pk).version == 1


# ---- surveys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("consent", "answers", "field"),
    [
        (False, {"respected": 5}, "consent"),
        (True, {"respected": 0}, "answers.respected"),
        (True, {"helped": 6}, "answers.helped"),
        (True, {"favourite_colour": 3}, "answers.favourite_colour"),
        (True, {"respected": True}, "answers.respected"),
        (True, {}, "answers"),
    ],
)
def test_a_survey_needs_consent_and_answers_from_1_to_5_to_known_questions(
    consent, answers, field, encounter, care1
):
    with pytest.raises(InvalidInput) as refused:
        _survey(care1, uuid.uuid4(), encounter, consent=consent, answers=answers)
    assert field in refused.value.fields
    assert not SurveyResponse.objects.exists()


# ---- where care may be recorded, and by whom ------------------------------------------------


def test_care_is_never_recorded_on_an_spd_assignment(call, people):
    with pytest.raises(InvalidInput) as refused:
        services.upsert_encounter(
            actor=people["admin"],
            encounter_id=uuid.uuid4(),
            assignment_id=call["spd"],
            changes={"people_contacted": 1},
        )
    assert "assignment" in refused.value.fields
    assert not Encounter.objects.exists()


@pytest.mark.parametrize("who", ["care3", "officer1", "coordinator", "dispatcher"])
def test_only_the_assigned_care_unit_can_add_to_its_encounter(who, call, encounter, people):
    with pytest.raises(NotFound):
        services.upsert_encounter(
            actor=people[who],
            encounter_id=uuid.uuid4(),
            assignment_id=call["care"],
            changes={"people_contacted": 1},
        )
    with pytest.raises(NotFound):
        _service(people[who], uuid.uuid4(), encounter)
    assert not ServiceGiven.objects.exists()


def test_a_service_type_deactivated_in_the_catalog_is_refused(encounter, care1):
    ServiceType.objects.filter(code="transport").update(active=False)
    with pytest.raises(InvalidInput) as refused:
        _service(care1, uuid.uuid4(), encounter, service="transport")
    assert "service" in refused.value.fields
    assert _service(care1, uuid.uuid4(), encounter, service="first-aid").service.code == "first-aid"


# ---- before the scene is safe ---------------------------------------------------------------


def test_care_recorded_before_the_officer_marks_the_scene_safe_is_kept_and_flagged(
    encounter, care1
):
    records = [
        encounter,
        _service(care1, uuid.uuid4(), encounter),
        _naloxone(care1, uuid.uuid4(), encounter),
        _referral(care1, uuid.uuid4(), encounter),
        _survey(care1, uuid.uuid4(), encounter),
    ]
    assert all(type(r).objects.get(pk=r.pk).before_scene_safe for r in records)


def test_care_recorded_after_the_scene_is_safe_is_not_flagged_even_once_the_officer_leaves(
    call, care1, move
):
    _mark_scene_safe(move, call)
    assert move("officer1", call["spd"], "cleared").status_code == 200
    encounter = services.upsert_encounter(
        actor=care1, encounter_id=uuid.uuid4(), assignment_id=call["care"], changes={}
    )
    service = _service(care1, uuid.uuid4(), encounter)
    assert not Encounter.objects.get(pk=encounter.pk).before_scene_safe
    assert not ServiceGiven.objects.get(pk=service.pk).before_scene_safe


def test_a_scene_marked_unsafe_keeps_care_flagged_until_it_is_marked_safe(call, care1, move):
    for to in ("acknowledged", "en_route", "on_scene"):
        move("officer1", call["spd"], to)
    assert move("officer1", call["spd"], "scene_unsafe", note="Shouting").status_code == 200
    encounter = services.upsert_encounter(
        actor=care1, encounter_id=uuid.uuid4(), assignment_id=call["care"], changes={}
    )
    assert encounter.before_scene_safe
    assert move("officer1", call["spd"], "scene_safe").status_code == 200
    assert not _service(care1, uuid.uuid4(), encounter).before_scene_safe


def test_the_device_time_of_a_record_is_kept_as_given(encounter, care1):
    # A few seconds after the dispatch, to the microsecond the tablet sent.
    early = timezone.now().replace(microsecond=123456) - datetime.timedelta(seconds=7)
    record = _service(care1, uuid.uuid4(), encounter, occurred_at=early)
    assert ServiceGiven.objects.get(pk=record.pk).occurred_at == early


# ---- a retry that arrives while the first copy is still being written (PostgreSQL) ----------


def _while_first_copy_is_uncommitted(first, second):
    """Run `first` on another connection and hold its transaction open while `second` runs here,
    so the second copy can't see the first until it commits: the retry-after-timeout race."""
    written, results = threading.Event(), {}

    def hold():
        try:
            with transaction.atomic():
                results["first"] = first()
                written.set()
                wait_for_a_lock_waiter()  # the second copy's INSERT waits on this row
        except BaseException as exc:  # reported to the test, not lost in the thread
            results["first"] = exc
            written.set()
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert written.wait(timeout=10)
    try:
        results["second"] = second()
    except BaseException as exc:
        results["second"] = exc
    thread.join(timeout=10)
    return results["first"], results["second"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["service", "naloxone"])
def test_a_record_retried_while_the_first_copy_is_still_being_written_is_stored_once(
    kind, encounter, care1
):
    make, model, _ = RECORDS[kind]
    record_id = uuid.uuid4()
    first, second = _while_first_copy_is_uncommitted(
        lambda: make(care1, record_id, encounter), lambda: make(care1, record_id, encounter)
    )
    assert not isinstance(first, BaseException), first
    assert not isinstance(second, BaseException), second
    assert first.pk == second.pk == record_id
    assert model.objects.filter(pk=record_id).count() == 1
    assert AuditEntry.objects.filter(object_id=str(record_id)).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_encounter_put_retried_while_the_first_copy_is_still_being_written_is_stored_once(
    call, care1
):
    encounter_id = uuid.uuid4()

    def put():
        return services.upsert_encounter(
            actor=care1,
            encounter_id=encounter_id,
            assignment_id=call["care"],
            changes={"people_contacted": 2, "notes": "Retried."},
        )

    first, second = _while_first_copy_is_uncommitted(put, put)
    assert not isinstance(first, BaseException), first
    assert not isinstance(second, BaseException), second
    assert first.pk == second.pk == encounter_id
    stored = Encounter.objects.get(pk=encounter_id)
    assert (stored.version, stored.notes) == (1, "Retried.")
    assert AuditEntry.objects.filter(object_id=str(encounter_id)).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_encounter_id_put_while_the_first_is_being_written_is_refused_as_a_conflict(
    call, care1
):
    def put(encounter_id):
        return lambda: services.upsert_encounter(
            actor=care1, encounter_id=encounter_id, assignment_id=call["care"], changes={}
        )

    first, second = _while_first_copy_is_uncommitted(put(uuid.uuid4()), put(uuid.uuid4()))
    assert isinstance(first, Encounter)
    assert isinstance(second, Conflict), second
    assert second.extra["server"] == {"encounter": str(first.pk)}
    assert Encounter.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_reused_id_arriving_while_the_first_record_is_being_written_is_refused(encounter, care1):
    record_id = uuid.uuid4()
    first, second = _while_first_copy_is_uncommitted(
        lambda: _service(care1, record_id, encounter),
        lambda: _service(care1, record_id, encounter, service="first-aid"),
    )
    assert isinstance(first, ServiceGiven)
    assert isinstance(second, IdReused), second
    assert ServiceGiven.objects.get(pk=record_id).service.code == "de-escalation"
