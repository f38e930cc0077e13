"""Referrals as FHIR R4 ServiceRequest + Task + Consent for the receiving organization: every
resource reads back through fhir.resources' R4B models; a partner sees only its own consented
referrals; its Task updates move the referral through the care command; stale versions get 412."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from rest_framework.test import APIClient

from server.accounts import system_clients
from server.care import services
from server.care.models import Referral, ReferralUpdate
from server.feed.models import Event
from server.interop.hsds import import_hsds

HSDS = Path(__file__).parent / "hsds" / "publication.json"
HARBOR = "6a0c1f3e-2b1d-4e6f-9a3b-000000000001"
EASTSIDE = "6a0c1f3e-2b1d-4e6f-9a3b-000000000002"
NIGHT_SHELTER = "8d2e5c10-1a2b-4c3d-8e9f-000000000001"
NOTE = "ENCOUNTER-NOTE-MARKER"
FHIR_JSON = "application/fhir+json"


def _partner(organization: str, name: str) -> APIClient:
    _, key = system_clients.create_system_client(
        actor=None, kind="partner", name=name, organization_id=organization
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    client.key = key
    return client


@pytest.fixture
def referral(reference, dispatched, people):
    import_hsds(None, str(HSDS), "harbor-and-eastside")
    call = dispatched()
    encounter = services.upsert_encounter(
        actor=people["care1"], encounter_id=uuid.uuid4(), assignment_id=call["care"],
        started_at=timezone.now(),
        changes={"people_contacted": 1, "client_initials": "JD", "notes": NOTE},
    )  # fmt: skip
    services.record_naloxone(
        actor=people["care1"], administration_id=uuid.uuid4(), encounter_id=encounter.pk,
        administered_at=timezone.now(), dose_mg="4", doses=1, route="intranasal",
    )  # fmt: skip
    return services.create_referral(
        actor=people["care1"], referral_id=uuid.uuid4(), encounter_id=encounter.pk,
        service=NIGHT_SHELTER, consent=True, made_at=timezone.now(),
        note="REFERRAL-NOTE-MARKER",
    )  # fmt: skip


@pytest.fixture
def harbor(db):
    return _partner(HARBOR, "Harbor Light")


@pytest.fixture
def eastside(db):
    return _partner(EASTSIDE, "Eastside")


def _current_etag(referral) -> str:
    return f'W/"{Referral.objects.get(pk=referral.pk).version}"'


def _patch(client, referral, body, etag=None, content_type="application/merge-patch+json"):
    """A partner's update, sending the Task's current ETag unless told which."""
    headers = {"HTTP_IF_MATCH": etag or _current_etag(referral)}
    return client.generic(
        "PATCH", f"/fhir/Task/{referral.pk}", json.dumps(body), content_type=content_type, **headers
    )


def test_the_partner_reads_its_task_as_an_r4_task_owned_by_it(referral, harbor):
    answer = harbor.get(f"/fhir/Task/{referral.pk}")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith(FHIR_JSON)
    assert answer["ETag"] == f'W/"{referral.version}"'
    task = Task.model_validate(answer.json())
    assert task.status == "requested"
    assert task.intent == "order"
    assert task.focus.reference == f"ServiceRequest/{referral.pk}"
    assert task.owner.reference == f"Organization/{HARBOR}"
    assert task.owner.display == "Harbor Light Outreach"


def test_service_request_consent_and_bundle_read_back_as_r4_resources(referral, harbor):
    request = ServiceRequest.model_validate(
        harbor.get(f"/fhir/ServiceRequest/{referral.pk}").json()
    )
    assert request.code.text == "Night shelter"
    assert request.subject.display == "JD"
    assert request.supportingInfo[0].reference == f"Consent/{referral.pk}"
    consent = Consent.model_validate(harbor.get(f"/fhir/Consent/{referral.pk}").json())
    assert consent.status == "active"
    assert consent.provision.type == "permit"
    bundle = Bundle.model_validate(harbor.get(f"/fhir/Bundle/{referral.pk}").json())
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds == ["ServiceRequest", "Task", "Consent", "Organization"]


def test_no_note_or_naloxone_reaches_the_organization(referral, harbor):
    for path in ("Task", "ServiceRequest", "Consent", "Bundle"):
        text = harbor.get(f"/fhir/{path}/{referral.pk}").content.decode()
        assert NOTE not in text and "REFERRAL-NOTE-MARKER" not in text
        assert "aloxone" not in text
        assert "3rd Ave" not in text  # the call's address


def test_another_organization_gets_404_for_every_door(referral, eastside):
    for path in ("Task", "ServiceRequest", "Consent", "Bundle"):
        assert eastside.get(f"/fhir/{path}/{referral.pk}").status_code == 404
    assert _patch(eastside, referral, {"status": "accepted"}).status_code == 404
    assert Referral.objects.get(pk=referral.pk).status == "made"
    search = eastside.get("/fhir/Task", {"owner": f"Organization/{HARBOR}"}).json()
    assert search["total"] == 0


def test_a_referral_made_without_consent_is_not_shared(referral, harbor, people):
    Referral.objects.filter(pk=referral.pk).update(consent=False)
    assert harbor.get(f"/fhir/Task/{referral.pk}").status_code == 404


def test_people_other_than_coordinators_and_admins_cannot_read_tasks(referral, client_for):
    assert client_for("officer1").get(f"/fhir/Task/{referral.pk}").status_code == 403
    assert client_for("care1").get(f"/fhir/Task/{referral.pk}").status_code == 403
    assert client_for("coordinator").get(f"/fhir/Task/{referral.pk}").status_code == 200


def test_the_task_search_finds_the_organizations_tasks_by_status(referral, harbor):
    found = harbor.get("/fhir/Task", {"owner": f"Organization/{HARBOR}", "status": "requested"})
    bundle = Bundle.model_validate(found.json())
    assert bundle.type == "searchset"
    assert [entry.resource.id for entry in bundle.entry] == [str(referral.pk)]
    none = harbor.get("/fhir/Task", {"owner": f"Organization/{HARBOR}", "status": "completed"})
    assert none.json()["total"] == 0


def test_accepting_moves_the_referral_to_contacted_through_the_care_command(
    referral, harbor, people
):
    events = Event.objects.filter(kind="referral.updated").count()
    answer = _patch(harbor, referral, {"status": "accepted"}, etag=f'W/"{referral.version}"')
    assert answer.status_code == 200, answer.content
    assert Task.model_validate(answer.json()).status == "accepted"
    stored = Referral.objects.get(pk=referral.pk)
    assert stored.status == "contacted"
    assert answer["ETag"] == f'W/"{stored.version}"'
    update = ReferralUpdate.objects.get(referral=referral)
    assert update.author.system_client.organization_id == HARBOR
    assert Event.objects.filter(kind="referral.updated").count() == events + 1


def test_completing_with_an_output_connects_the_referral_and_the_task_says_so(referral, harbor):
    _patch(harbor, referral, {"status": "accepted"})
    answer = _patch(
        harbor, referral,
        {"status": "completed", "output": [{"type": {"text": "outcome"}, "valueString": "Bed 12"}]},
    )  # fmt: skip
    assert answer.status_code == 200, answer.content
    task = Task.model_validate(answer.json())
    assert task.status == "completed"
    assert task.output[0].valueString == "Bed 12"
    # "Referrals connected" counts referrals whose status is connected.
    assert Referral.objects.get(pk=referral.pk).status == "connected"


def test_completing_without_saying_what_came_of_it_is_refused(referral, harbor):
    _patch(harbor, referral, {"status": "accepted"})
    answer = _patch(harbor, referral, {"status": "completed"})
    assert answer.status_code == 400
    assert "output" in answer.json()["fields"]
    assert Referral.objects.get(pk=referral.pk).status == "contacted"


def test_rejecting_needs_a_reason_and_closes_the_referral(referral, harbor):
    assert _patch(harbor, referral, {"status": "rejected"}).status_code == 400
    answer = _patch(
        harbor, referral, {"status": "rejected", "statusReason": {"text": "No beds for couples"}}
    )
    task = Task.model_validate(answer.json())
    assert task.status == "rejected"
    assert task.statusReason.text == "No beds for couples"
    assert Referral.objects.get(pk=referral.pk).status == "closed"


def test_a_stale_if_match_answers_412_and_changes_nothing(referral, harbor):
    old = f'W/"{referral.version}"'
    _patch(harbor, referral, {"status": "accepted"}, etag=old)
    answer = _patch(harbor, referral, {"status": "in-progress"}, etag=old)
    assert answer.status_code == 412
    assert answer.json()["code"] == "precondition_failed"
    assert Referral.objects.get(pk=referral.pk).status == "contacted"


def test_a_task_cannot_go_back_from_a_finished_state(referral, harbor):
    _patch(harbor, referral, {"status": "cancelled"})
    answer = _patch(harbor, referral, {"status": "accepted"})
    assert answer.status_code == 409


def test_a_json_patch_outside_the_status_fields_is_refused(referral, harbor):
    answer = _patch(
        harbor, referral, [{"op": "replace", "path": "/owner", "value": {"reference": "x"}}],
        content_type="application/json-patch+json",
    )  # fmt: skip
    assert answer.status_code == 400
    assert Referral.objects.get(pk=referral.pk).status == "made"


def test_a_coordinators_status_change_shows_in_the_task(referral, harbor, client_for):
    answer = client_for("coordinator").patch(
        f"/api/v1/referrals/{referral.pk}", {"status": "contacted"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    task = harbor.get(f"/fhir/Task/{referral.pk}")
    assert task.json()["status"] == "accepted"
    assert task["ETag"] == f'W/"{Referral.objects.get(pk=referral.pk).version}"'


@pytest.mark.django_db(transaction=True)
def test_a_receiving_organization_drives_the_exchange_from_its_own_process(referral, live_server):
    _, key = system_clients.create_system_client(
        actor=None, kind="partner", name="Harbor process", organization_id=HARBOR
    )
    _, other = system_clients.create_system_client(
        actor=None, kind="partner", name="Eastside process", organization_id=EASTSIDE
    )
    script = Path(__file__).parent / "partner_client.py"
    done = subprocess.run(
        [sys.executable, str(script), live_server.url, key, other, HARBOR],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["queue_status"] == 200 and seen["queue_size"] == 1
    assert seen["task_id"] == str(referral.pk)
    assert seen["accept"][:2] == [200, "accepted"]
    assert seen["accept"][2] != seen["first_etag"]
    assert seen["complete"] == [200, "completed"]
    assert seen["stale"] == [412, "precondition_failed"]
    assert seen["other_organization"] == 404
    assert Referral.objects.get(pk=referral.pk).status == "connected"


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Task", "status": "accepted"},
        "not an object",
        [1, 2],
        {"status": {"nested": True}},
        {"output": "text"},
    ],
)
def test_malformed_task_updates_are_refused_with_a_reason_and_change_nothing(
    referral, harbor, body
):
    if isinstance(body, dict) and body.get("resourceType") == "Task":
        answer = harbor.put(
            f"/fhir/Task/{referral.pk}", body, format="json", HTTP_IF_MATCH=_current_etag(referral)
        )
    else:
        answer = _patch(harbor, referral, body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["detail"]
    assert Referral.objects.get(pk=referral.pk).status == "made"


def test_a_put_that_moves_the_task_to_another_owner_is_refused(referral, harbor):
    task = harbor.get(f"/fhir/Task/{referral.pk}").json()
    task["status"] = "accepted"
    task["owner"] = "Organization/somebody-else"
    answer = harbor.put(
        f"/fhir/Task/{referral.pk}", task, format="json", HTTP_IF_MATCH=_current_etag(referral)
    )
    assert answer.status_code == 400
    assert Referral.objects.get(pk=referral.pk).status == "made"


def _trail(referral) -> tuple:
    stored = Referral.objects.get(pk=referral.pk)
    return (
        stored.version,
        stored.updated_at,
        ReferralUpdate.objects.filter(referral=referral).count(),
        Event.objects.filter(kind="referral.updated").count(),
    )


@pytest.mark.parametrize(
    "body",
    [{}, {"status": "requested"}, [{"op": "replace", "path": "/status", "value": "requested"}]],
)
def test_an_update_that_asks_for_the_task_as_it_is_changes_nothing(referral, harbor, body):
    before = _trail(referral)
    content_type = "application/json-patch+json" if isinstance(body, list) else None
    answer = _patch(
        harbor, referral, body, **({"content_type": content_type} if content_type else {})
    )
    assert answer.status_code == 200, answer.content
    assert answer["ETag"] == f'W/"{referral.version}"'
    assert _trail(referral) == before


def test_a_put_of_the_task_as_read_changes_nothing_and_a_real_change_still_does(referral, harbor):
    read = harbor.get(f"/fhir/Task/{referral.pk}")
    before = _trail(referral)
    same = harbor.put(
        f"/fhir/Task/{referral.pk}", read.json(), format="json", HTTP_IF_MATCH=read["ETag"]
    )
    assert same.status_code == 200, same.content
    assert _trail(referral) == before
    changed = _patch(harbor, referral, {"status": "accepted"})
    assert changed.status_code == 200
    assert _trail(referral)[0] == before[0] + 1


def test_a_partners_update_without_if_match_answers_428_and_changes_nothing(referral, harbor):
    before = _trail(referral)
    answer = harbor.generic(
        "PATCH", f"/fhir/Task/{referral.pk}", json.dumps({"status": "accepted"}),
        content_type="application/merge-patch+json",
    )  # fmt: skip
    assert answer.status_code == 428
    assert answer.json()["code"] == "precondition_required"
    assert answer.json()["current"] == f'W/"{referral.version}"'
    assert _trail(referral) == before


def test_a_coordinator_may_still_update_a_task_without_if_match(referral, client_for):
    answer = client_for("coordinator").generic(
        "PATCH", f"/fhir/Task/{referral.pk}", json.dumps({"status": "accepted"}),
        content_type="application/merge-patch+json",
    )  # fmt: skip
    assert answer.status_code == 200, answer.content
    assert Referral.objects.get(pk=referral.pk).status == "contacted"


def test_every_fhir_answer_is_kept_by_no_cache(referral, harbor, eastside):
    answers = [
        harbor.get(f"/fhir/Task/{referral.pk}"),
        harbor.get(f"/fhir/Bundle/{referral.pk}"),
        harbor.get("/fhir/Task", {"owner": f"Organization/{HARBOR}"}),
        eastside.get(f"/fhir/Task/{referral.pk}"),
        APIClient().get(f"/fhir/ServiceRequest/{referral.pk}"),
        harbor.generic("PATCH", f"/fhir/Task/{referral.pk}", "{}", content_type="application/json"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 404, 401, 428]
    assert all("no-store" in a.get("Cache-Control", "") for a in answers)


# ---- every update a partner can send round-trips through fhir.resources -------------------

OUTPUT = [{"type": {"text": "outcome"}, "valueString": "Bed 12"}]
REASON = {"text": "No beds for couples"}
# Each way a partner can take a Task to its end, as the fields it sends at each step.
PATHS = {
    "accept, work, complete": [
        {"status": "accepted"},
        {"status": "in-progress"},
        {"status": "completed", "output": OUTPUT},
    ],
    "accept, complete": [{"status": "accepted"}, {"status": "completed", "output": OUTPUT}],
    "reject": [{"status": "rejected", "statusReason": REASON}],
    "accept, reject": [{"status": "accepted"}, {"status": "rejected", "statusReason": REASON}],
    "accept, cancel": [{"status": "accepted"}, {"status": "cancelled"}],
    "cancel": [{"status": "cancelled"}],
}


def round_trips(model: type, resource: dict) -> None:
    """The resource reads into the R4B model and back out unchanged: nothing in it is lost,
    renamed or added by FHIR's own reading."""
    again = json.loads(model.model_validate(resource).model_dump_json(exclude_none=True))
    assert again == resource


def _send(door: str, client, referral, fields: dict):
    """One update by a door the partner may use; returns (the body sent, the answer)."""
    if door == "merge-patch":
        return fields, _patch(client, referral, fields)
    if door == "json-patch":
        body = [{"op": "replace", "path": f"/{k}", "value": v} for k, v in fields.items()]
        return body, _patch(client, referral, body, content_type="application/json-patch+json")
    task = client.get(f"/fhir/Task/{referral.pk}").json()
    task = {k: v for k, v in task.items() if k not in ("statusReason", "output")} | fields
    round_trips(Task, task)  # what the partner PUTs is itself a Task as FHIR reads it
    answer = client.generic(
        "PUT",
        f"/fhir/Task/{referral.pk}",
        json.dumps(task),
        content_type=FHIR_JSON,
        HTTP_IF_MATCH=_current_etag(referral),
    )
    return task, answer


@pytest.mark.parametrize("door", ["merge-patch", "json-patch", "put"])
@pytest.mark.parametrize("path", sorted(PATHS))
def test_every_task_update_a_partner_can_send_round_trips_with_the_resources_it_changes(
    referral, harbor, door, path
):
    for fields in PATHS[path]:
        _, answer = _send(door, harbor, referral, fields)
        assert answer.status_code == 200, (fields, answer.content)
        task = answer.json()
        assert task["status"] == fields["status"]
        round_trips(Task, task)
        round_trips(Task, harbor.get(f"/fhir/Task/{referral.pk}").json())
        round_trips(ServiceRequest, harbor.get(f"/fhir/ServiceRequest/{referral.pk}").json())
        round_trips(Bundle, harbor.get(f"/fhir/Bundle/{referral.pk}").json())


def test_an_update_fhir_resources_refuses_is_a_400_and_changes_nothing(referral, harbor):
    # A Task's output needs a type: FHIR's own reading refuses this one.
    answer = _patch(harbor, referral, {"status": "accepted", "output": [{"valueString": "x"}]})
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
    assert Referral.objects.get(pk=referral.pk).status == referral.status
