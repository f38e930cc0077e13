"""A naloxone dose recorded by mistake taken off its encounter (the tablet's Undo of "Naloxone
given now"): a command like the others, through the offline push and its REST door, audited and
published to the crew, idempotent, and refused on a closed call or to anyone not on its crew."""

from __future__ import annotations

import uuid

from server.audit.models import AuditEntry
from server.care.models import NaloxoneAdministration
from server.feed.models import Event
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data
from tests.server.sync.conftest import change, results, statuses


def given(care1, encounter) -> str:
    """One tap's dose: its time only, dose and route not yet recorded."""
    dose_id = str(uuid.uuid4())
    made = change("naloxone.create", dose_id, {"encounter": encounter, "doses": 1})
    assert statuses(results(care1, made)) == ["applied"]
    return dose_id


def test_a_dose_pushed_then_removed_is_gone_audited_and_its_removal_published(
    encounter, care1, units
):
    dose_id = given(care1, encounter)
    kept = given(care1, encounter)
    removal = change("naloxone.remove", dose_id)
    [answer] = results(care1, removal)
    assert answer["status"] == "applied", answer
    assert answer["server"] == {"id": dose_id, "encounter": encounter, "removed": True}
    assert list(NaloxoneAdministration.objects.values_list("pk", flat=True)) == [uuid.UUID(kept)]
    entry = AuditEntry.objects.get(action="naloxone.removed")
    assert entry.object_id == dose_id
    assert entry.before["administered_at"] is not None  # the dose as it was stays in the audit
    event = Event.objects.get(stream_id=f"unit:{units['CARE-1'].pk}", kind="naloxone.removed")
    assert str(event.mutation_id) == removal["id"]
    assert event.data["id"] == dose_id


def test_the_same_dose_removal_sent_again_is_a_duplicate_and_removes_nothing_more(encounter, care1):
    dose_id = given(care1, encounter)
    removal = change("naloxone.remove", dose_id)
    assert statuses(results(care1, removal)) == ["applied"]
    again = results(care1, removal)
    assert statuses(again) == ["duplicate"], again
    assert AuditEntry.objects.filter(action="naloxone.removed").count() == 1


def test_removing_a_dose_nobody_recorded_is_refused_as_not_found(encounter, care1):
    [answer] = results(care1, change("naloxone.remove", uuid.uuid4()))
    assert (answer["status"], answer.get("code")) == ("rejected", "not_found"), answer


def test_someone_not_on_the_crew_cannot_remove_a_dose_and_learns_nothing_of_it(
    encounter, care1, client_for
):
    dose_id = given(care1, encounter)
    [answer] = results(client_for("care3"), change("naloxone.remove", dose_id))
    assert (answer["status"], answer.get("code")) == ("rejected", "not_found"), answer
    assert NaloxoneAdministration.objects.filter(pk=dose_id).exists()


def test_an_officer_may_not_remove_a_dose(encounter, care1, client_for):
    dose_id = given(care1, encounter)
    [answer] = results(client_for("officer1"), change("naloxone.remove", dose_id))
    assert answer["status"] == "rejected", answer
    assert NaloxoneAdministration.objects.filter(pk=dose_id).exists()


def test_a_dose_on_a_closed_call_stays(encounter, on_scene, care1, move):
    dose_id = given(care1, encounter)
    assert move("care1", on_scene["care"], "cleared").status_code == 200
    [answer] = results(care1, change("naloxone.remove", dose_id))
    assert (answer["status"], answer.get("code")) == ("conflict", "conflict"), answer
    assert NaloxoneAdministration.objects.filter(pk=dose_id).exists()
    assert not AuditEntry.objects.filter(action="naloxone.removed").exists()


def test_the_rest_door_removes_a_dose_the_same_way(encounter, care1, client_for):
    dose_id = given(care1, encounter)
    path = f"/api/v1/naloxone-administrations/{dose_id}"
    assert client_for("care3").delete(path).status_code == 404
    answer = care1.delete(path)
    assert answer.status_code == 200, answer.content
    assert answer.json()["removed"] is True
    assert care1.delete(path).status_code == 404
