"""The audit trail: every change writes one entry (actor, device, action, object, before/after) in
the transaction that makes the change; a refused change writes none; every read of a person's
record is an entry too; and nobody, not even a superuser in admin, can change or remove one."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from server.accounts.models import Device, User
from server.audit.models import AuditEntry
from server.audit.services import record_audit
from server.care import services as care_services
from server.care.models import ServiceGiven
from server.dispatch.incidents import services as dispatch_services
from server.dispatch.models import Assignment, AssignmentTransition
from tests.conftest import PASSWORD

DESC_MOBILE_CRISIS = "0b7f0a52-5d2c-4c57-9b65-6f1d1a4e0001"


def at() -> str:
    """Care is recorded just after the dispatch that sent the team (the fixtures dispatch now):
    the same time on every call in a test, so a retried record is the same record."""
    latest = Assignment.objects.order_by("-dispatched_at").values_list("dispatched_at", flat=True)
    return ((latest.first() or timezone.now()) + datetime.timedelta(seconds=1)).isoformat()


def entries(action: str, object_id=None):
    found = AuditEntry.objects.filter(action=action)
    if object_id is not None:
        found = found.filter(object_id=str(object_id))
    return list(found.order_by("id"))


def the_entry(action: str, object_id=None) -> AuditEntry:
    found = entries(action, object_id)
    assert len(found) == 1, f"{action}: {len(found)} entries"
    return found[0]


def device_of(username: str) -> Device:
    return Device.objects.get(user__username=username)


@pytest.fixture
def call(dispatched):
    return dispatched()


@pytest.fixture
def encounter(call, client_for) -> str:
    encounter_id = str(uuid.uuid4())
    answer = client_for("care1").put(
        f"/api/v1/encounters/{encounter_id}",
        {"assignment": call["care"], "people_contacted": 1, "notes": "Sitting by the door."},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    return encounter_id


def post(client, path: str, body: dict):
    answer = client.post(path, body, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


# ---- each change, its entry -----------------------------------------------------------------


def test_creating_and_dispatching_a_call_is_audited_with_the_dispatchers_device(call, people):
    incident_id = call["incident"]["id"]
    created = the_entry("incident.created", incident_id)
    assert created.actor == people["dispatcher"]
    assert created.device == device_of("dispatcher")
    assert created.object_type == "dispatch.incident"
    assert created.before is None
    assert created.after["cad_number"] == call["incident"]["cad_number"]

    dispatched = the_entry("incident.dispatched", incident_id)
    assert dispatched.device == device_of("dispatcher")
    assert dispatched.before["status"] == "screened"
    assert dispatched.after["status"] == "dispatched"
    assert sorted(dispatched.after["units"]) == ["2M12", "CARE-1"]

    for kind in ("care", "spd"):
        entry = the_entry("assignment.dispatched", call[kind])
        assert entry.object_type == "dispatch.assignment"
        assert entry.after["status"] == "dispatched"


def test_every_assignment_transition_is_audited_with_its_before_and_after(call, move, people):
    spd_path = ["acknowledged", "en_route", "on_scene", "scene_unsafe", "scene_safe", "cleared"]
    care_path = ["acknowledged", "en_route", "on_scene", "cleared"]
    for to in spd_path:
        assert move("officer1", call["spd"], to, note="Calm now").status_code == 200
    for to in care_path:
        assert move("care1", call["care"], to).status_code == 200

    for who, kind, path in (("officer1", "spd", spd_path), ("care1", "care", care_path)):
        previous = "dispatched"
        for to in path:
            entry = the_entry(f"assignment.{to}", call[kind])
            assert entry.actor == people[who]
            assert entry.device == device_of(who)
            assert (entry.before["status"], entry.after["status"]) == (previous, to)
            assert entry.after["version"] == entry.before["version"] + 1
            previous = to


def test_cancelling_a_call_audits_the_incident_and_each_open_assignment(
    call, client_for, move, people
):
    assert move("care1", call["care"], "acknowledged").status_code == 200
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{call['incident']['id']}/cancel",
        {"reason": "Caller says he left."},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    cancelled = the_entry("incident.cancelled", call["incident"]["id"])
    assert cancelled.actor == people["dispatcher"]
    assert cancelled.device == device_of("dispatcher")
    assert cancelled.after["status"] == "cancelled"
    assert cancelled.before["status"] == "dispatched"
    assert the_entry("assignment.cancelled", call["care"]).before["status"] == "acknowledged"
    assert the_entry("assignment.cancelled", call["spd"]).before["status"] == "dispatched"


def test_an_encounter_is_audited_when_created_and_when_each_edit_changes_it(
    encounter, call, client_for, people
):
    created = the_entry("encounter.created", encounter)
    assert created.object_type == "care.encounter"
    assert (created.actor, created.device) == (people["care1"], device_of("care1"))
    assert created.after["notes"] == "Sitting by the door."

    client_for("care1").put(
        f"/api/v1/encounters/{encounter}",
        {"assignment": call["care"], "base_version": 1, "notes": "Walked with us to the van."},
        format="json",
    )
    updated = the_entry("encounter.updated", encounter)
    assert updated.before["notes"] == "Sitting by the door."
    assert updated.after["notes"] == "Walked with us to the van."
    assert (updated.before["version"], updated.after["version"]) == (1, 2)


def test_services_naloxone_referrals_and_surveys_are_audited_as_they_are_recorded(
    encounter, client_for, people
):
    care1 = client_for("care1")
    service = post(
        care1,
        "/api/v1/services-given",
        {
            "id": str(uuid.uuid4()),
            "encounter": encounter,
            "service": "first-aid",
            "occurred_at": at(),
        },
    )
    naloxone = post(
        care1,
        "/api/v1/naloxone-administrations",
        {
            "id": str(uuid.uuid4()),
            "encounter": encounter,
            "administered_at": at(),
            "dose_mg": "4",
            "route": "intranasal",
        },
    )
    referral = post(
        care1,
        "/api/v1/referrals",
        {
            "id": str(uuid.uuid4()),
            "encounter": encounter,
            "service": DESC_MOBILE_CRISIS,
            "consent": True,
            "made_at": at(),
        },
    )
    survey = post(
        care1,
        "/api/v1/surveys",
        {
            "id": str(uuid.uuid4()),
            "encounter": encounter,
            "consent": True,
            "answers": {"respected": 5},
            "answered_at": at(),
        },
    )
    for action, made, object_type in (
        ("service.recorded", service, "care.servicegiven"),
        ("naloxone.recorded", naloxone, "care.naloxoneadministration"),
        ("referral.recorded", referral, "care.referral"),
        ("survey.recorded", survey, "care.surveyresponse"),
    ):
        entry = the_entry(action, made["id"])
        assert entry.object_type == object_type
        assert (entry.actor, entry.device) == (people["care1"], device_of("care1"))
        assert entry.before is None
        assert entry.after["id"] == made["id"]
        assert entry.after["encounter_id"] == encounter
    assert the_entry("naloxone.recorded", naloxone["id"]).after["dose_mg"] == "4.00"

    care1.patch(
        f"/api/v1/naloxone-administrations/{naloxone['id']}",
        {"response": "improved"},
        format="json",
    )
    corrected = the_entry("naloxone.updated", naloxone["id"])
    assert (corrected.before["response"], corrected.after["response"]) == ("unknown", "improved")

    client_for("coordinator").patch(
        f"/api/v1/referrals/{referral['id']}",
        {"status": "contacted", "note": "Reached his sister."},
        format="json",
    )
    followed = the_entry("referral.updated", referral["id"])
    assert (followed.actor, followed.device) == (people["coordinator"], device_of("coordinator"))
    assert (followed.before["status"], followed.after["status"]) == ("made", "contacted")
    assert followed.after["note"] == "Reached his sister."


def test_signing_in_audits_the_token_and_its_device_and_a_bad_password_is_audited_too(
    people, client_for
):
    client_for("care1")
    issued = the_entry("auth.token_issued")
    assert issued.actor == people["care1"]
    assert issued.device == device_of("care1")
    assert issued.object_type == "accounts.device"
    assert issued.object_id == str(device_of("care1").pk)

    answer = Client().post(
        "/api/v1/auth/token",
        {"username": "care1", "password": "guess", "device_name": "stolen-tablet"},
        content_type="application/json",
    )
    assert answer.status_code == 401
    failed = the_entry("auth.login_failed")
    assert (failed.actor, failed.device) == (None, None)
    assert failed.object_id == "care1"
    assert "guess" not in str(failed.after)
    assert Device.objects.filter(user=people["care1"]).count() == 1


# ---- refusals write nothing -----------------------------------------------------------------


def test_a_refused_change_writes_no_audit_entry(encounter, call, client_for, move, units):
    care1, officer = client_for("care1"), client_for("officer1")
    referral = post(
        care1,
        "/api/v1/referrals",
        {
            "id": str(uuid.uuid4()),
            "encounter": encounter,
            "service": DESC_MOBILE_CRISIS,
            "consent": True,
            "made_at": at(),
        },
    )
    care1.put(
        f"/api/v1/encounters/{encounter}",
        {"assignment": call["care"], "base_version": 1, "notes": "Edited."},
        format="json",
    )
    for who in ("care3", "coordinator", "dispatcher"):
        client_for(who)  # signed in first: signing in is itself audited
    before = AuditEntry.objects.count()

    refusals = [
        move("care1", call["care"], "on_scene"),
        move("care1", call["care"], "scene_safe"),
        move("care3", call["care"], "acknowledged"),
        client_for("dispatcher").post(
            f"/api/v1/incidents/{call['incident']['id']}/dispatch",
            {"care_unit": units["CARE-1"].pk, "spd_unit": units["2M12"].pk},
            format="json",
        ),
        care1.put(
            f"/api/v1/encounters/{encounter}",
            {"assignment": call["care"], "base_version": 1, "notes": "Stale."},
            format="json",
        ),
        care1.put(
            f"/api/v1/encounters/{uuid.uuid4()}",
            {"assignment": call["care"]},
            format="json",
        ),
        care1.post(
            "/api/v1/naloxone-administrations",
            {
                "id": str(uuid.uuid4()),
                "encounter": encounter,
                "administered_at": at(),
                "dose_mg": "0",
            },
            format="json",
        ),
        care1.post(
            "/api/v1/referrals",
            {
                "id": referral["id"],
                "encounter": encounter,
                "service": DESC_MOBILE_CRISIS,
                "consent": False,
                "made_at": at(),
            },
            format="json",
        ),
        client_for("coordinator").patch(
            f"/api/v1/referrals/{referral['id']}", {"status": "connected"}, format="json"
        ),
        officer.post(
            "/api/v1/services-given",
            {
                "id": str(uuid.uuid4()),
                "encounter": encounter,
                "service": "first-aid",
                "occurred_at": at(),
            },
            format="json",
        ),
    ]
    assert [a.status_code for a in refusals] == [409, 403, 404, 409, 409, 409, 400, 409, 409, 403]
    assert AuditEntry.objects.count() == before


def test_an_audit_entry_is_written_in_the_changes_transaction_and_rolled_back_with_it(
    encounter, people, monkeypatch
):
    def broken_publish(**kwargs):
        raise RuntimeError("feed is down")

    monkeypatch.setattr(care_services, "publish_event", broken_publish)
    record_id = uuid.uuid4()
    with pytest.raises(RuntimeError):
        care_services.record_service_given(
            actor=people["care1"],
            service_id=record_id,
            encounter_id=encounter,
            service="first-aid",
            occurred_at=timezone.now(),
        )
    assert not ServiceGiven.objects.filter(pk=record_id).exists()
    assert not AuditEntry.objects.filter(object_id=str(record_id)).exists()


def test_a_transition_whose_audit_entry_cannot_be_written_is_not_made(call, people, monkeypatch):
    def broken_audit(**kwargs):
        raise RuntimeError("audit table is full")

    monkeypatch.setattr(dispatch_services, "record_audit", broken_audit)
    with pytest.raises(RuntimeError):
        dispatch_services.transition_assignment(
            actor=people["care1"], assignment_id=call["care"], to="acknowledged"
        )
    assert Assignment.objects.get(pk=call["care"]).status == "dispatched"
    assert not AssignmentTransition.objects.filter(assignment_id=call["care"]).exists()


# ---- reads of a person's record -------------------------------------------------------------


def test_reading_an_encounter_or_a_referral_through_the_api_is_audited(
    encounter, client_for, people
):
    referral = post(
        client_for("care1"),
        "/api/v1/referrals",
        {
            "id": str(uuid.uuid4()),
            "encounter": encounter,
            "service": DESC_MOBILE_CRISIS,
            "consent": True,
            "made_at": at(),
        },
    )
    coordinator = client_for("coordinator")
    assert coordinator.get(f"/api/v1/encounters/{encounter}").status_code == 200
    assert coordinator.get(f"/api/v1/encounters/{encounter}").status_code == 200
    assert coordinator.get(f"/api/v1/referrals/{referral['id']}").status_code == 200

    viewed = entries("encounter.viewed", encounter)
    assert len(viewed) == 2
    assert all(
        (v.actor, v.device) == (people["coordinator"], device_of("coordinator")) for v in viewed
    )
    assert viewed[0].object_type == "care.encounter"
    assert the_entry("referral.viewed", referral["id"]).actor == people["coordinator"]


def test_a_read_that_is_refused_is_not_audited_as_a_view(encounter, client_for):
    assert client_for("officer1").get(f"/api/v1/encounters/{encounter}").status_code == 403
    assert client_for("care3").get(f"/api/v1/encounters/{encounter}").status_code == 404
    assert entries("encounter.viewed") == []


# ---- the trail cannot be changed ------------------------------------------------------------


@pytest.fixture
def entry(people) -> AuditEntry:
    return record_audit(actor=people["admin"], action="test.done", object_id="x", after={"a": 1})


def test_an_audit_entry_cannot_be_saved_again(entry):
    entry.action = "test.undone"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.done"


def test_an_audit_entry_cannot_be_deleted(entry):
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_audit_entries_cannot_be_changed_or_deleted_in_bulk_either(entry):
    with pytest.raises(ValueError, match="append-only"):
        AuditEntry.objects.filter(pk=entry.pk).update(action="test.undone")
    with pytest.raises(ValueError, match="append-only"):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.done"


@pytest.fixture
def superuser_browser(db) -> Client:
    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    browser = Client()
    assert browser.login(username="root", password=PASSWORD)
    return browser


def test_the_admin_lists_and_shows_audit_entries_but_offers_no_way_to_change_them(
    superuser_browser, entry
):
    listing = superuser_browser.get("/admin/audit/auditentry/")
    assert listing.status_code == 200
    assert "test.done" in listing.content.decode()
    assert 'name="action"' not in listing.content.decode()  # no bulk actions (delete selected)

    page = superuser_browser.get(f"/admin/audit/auditentry/{entry.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "test.done" in html
    assert 'name="_save"' not in html
    assert 'name="_continue"' not in html
    assert "/delete/" not in html


def test_the_admin_refuses_to_add_change_or_delete_an_audit_entry(superuser_browser, entry):
    changed = superuser_browser.post(
        f"/admin/audit/auditentry/{entry.pk}/change/",
        {"action": "test.undone", "object_id": "y", "_save": "Save"},
    )
    assert changed.status_code == 403
    assert superuser_browser.get("/admin/audit/auditentry/add/").status_code == 403
    assert (
        superuser_browser.post("/admin/audit/auditentry/add/", {"action": "forged"}).status_code
        == 403
    )
    assert superuser_browser.get(f"/admin/audit/auditentry/{entry.pk}/delete/").status_code == 403
    assert (
        superuser_browser.post(
            f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    bulk = superuser_browser.post(
        "/admin/audit/auditentry/",
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    # No bulk action is offered, so the admin ignores the request and shows the list again.
    assert bulk.status_code == 200
    assert "test.done" in bulk.content.decode()
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.action, stored.object_id) == ("test.done", "x")
    assert not AuditEntry.objects.filter(action="forged").exists()
