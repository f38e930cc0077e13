"""A service recorded by mistake taken off its encounter (the tablet's "Undo: service ..."): a
command like the others, through the offline push and its REST door, audited and published to
the crew, idempotent, and refused on a closed call or to anyone not on its crew."""

from __future__ import annotations

import uuid

from server.audit.models import AuditEntry
from server.care.models import ServiceGiven
from server.feed.models import Event
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data
from tests.server.sync.conftest import change, results, statuses


def given(care1, encounter, code="de-escalation") -> str:
    service_id = str(uuid.uuid4())
    made = change("service.create", service_id, {"encounter": encounter, "service": code})
    assert statuses(results(care1, made)) == ["applied"]
    return service_id


def test_a_service_pushed_then_removed_is_gone_audited_and_its_removal_published(
    encounter, care1, units
):
    service_id = given(care1, encounter)
    kept = given(care1, encounter, "first-aid")
    removal = change("service.remove", service_id)
    [answer] = results(care1, removal)
    assert answer["status"] == "applied", answer
    assert answer["server"] == {"id": service_id, "encounter": encounter, "removed": True}
    assert list(ServiceGiven.objects.values_list("pk", flat=True)) == [uuid.UUID(kept)]
    entry = AuditEntry.objects.get(action="service.removed")
    assert entry.object_id == service_id
    assert entry.before["service_id"] is not None  # the record as it was stays in the audit
    event = Event.objects.get(stream_id=f"unit:{units['CARE-1'].pk}", kind="service.removed")
    assert str(event.mutation_id) == removal["id"]
    assert event.data["id"] == service_id


def test_the_same_removal_sent_again_is_answered_as_a_duplicate_and_removes_nothing_more(
    encounter, care1
):
    service_id = given(care1, encounter)
    removal = change("service.remove", service_id)
    assert statuses(results(care1, removal)) == ["applied"]
    again = results(care1, removal)
    assert statuses(again) == ["duplicate"], again
    assert AuditEntry.objects.filter(action="service.removed").count() == 1


def test_a_service_created_and_removed_in_one_push_is_not_kept(encounter, care1):
    service_id = uuid.uuid4()
    made = change("service.create", service_id, {"encounter": encounter, "service": "transport"})
    found = results(care1, made, change("service.remove", service_id))
    assert statuses(found) == ["applied", "applied"], found
    assert not ServiceGiven.objects.filter(pk=service_id).exists()


def test_removing_a_service_nobody_recorded_is_refused_as_not_found(encounter, care1):
    [answer] = results(care1, change("service.remove", uuid.uuid4()))
    assert (answer["status"], answer.get("code")) == ("rejected", "not_found"), answer


def test_someone_not_on_the_crew_cannot_remove_a_service_and_learns_nothing_of_it(
    encounter, care1, client_for
):
    service_id = given(care1, encounter)
    [answer] = results(client_for("care3"), change("service.remove", service_id))
    assert (answer["status"], answer.get("code")) == ("rejected", "not_found"), answer
    assert ServiceGiven.objects.filter(pk=service_id).exists()


def test_an_officer_may_not_remove_a_service(encounter, care1, client_for):
    service_id = given(care1, encounter)
    [answer] = results(client_for("officer1"), change("service.remove", service_id))
    assert answer["status"] == "rejected", answer
    assert ServiceGiven.objects.filter(pk=service_id).exists()


def test_a_service_on_a_closed_call_stays(encounter, on_scene, care1, move):
    service_id = given(care1, encounter)
    assert move("care1", on_scene["care"], "cleared").status_code == 200
    [answer] = results(care1, change("service.remove", service_id))
    assert (answer["status"], answer.get("code")) == ("conflict", "conflict"), answer
    assert ServiceGiven.objects.filter(pk=service_id).exists()
    assert not AuditEntry.objects.filter(action="service.removed").exists()


def test_the_rest_door_removes_a_service_the_same_way(encounter, care1, client_for):
    service_id = given(care1, encounter)
    assert client_for("care3").delete(f"/api/v1/services-given/{service_id}").status_code == 404
    answer = care1.delete(f"/api/v1/services-given/{service_id}")
    assert answer.status_code == 200, answer.content
    assert answer.json()["removed"] is True
    assert care1.delete(f"/api/v1/services-given/{service_id}").status_code == 404
