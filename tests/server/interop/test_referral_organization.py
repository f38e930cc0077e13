"""A referral stays with the organization the person consented to: an HSDS import that reuses a
service id with another organization changes nothing, and only an administrator's audited move
gives a service to another organization — for the referrals made after it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIClient

from server.accounts import system_clients
from server.audit.models import AuditEntry
from server.care import services
from server.care.models import DirectoryService, Referral
from server.interop.hsds import import_hsds, import_publication, read_json

HSDS = Path(__file__).parent / "hsds" / "publication.json"
SOURCE = "harbor-and-eastside"
HARBOR = "6a0c1f3e-2b1d-4e6f-9a3b-000000000001"
EASTSIDE = "6a0c1f3e-2b1d-4e6f-9a3b-000000000002"
NIGHT_SHELTER = "8d2e5c10-1a2b-4c3d-8e9f-000000000001"


def _partner(organization: str, name: str) -> APIClient:
    _, key = system_clients.create_system_client(
        actor=None, kind="partner", name=name, organization_id=organization
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _shelter_given_to_eastside() -> dict:
    """The publication again, with the night shelter listed under the other organization."""
    data = json.loads(HSDS.read_text())
    for service in data["service"]:
        if service["id"] == NIGHT_SHELTER:
            service["organization_id"] = EASTSIDE
    return data


@pytest.fixture
def make_referral(reference, dispatched, people):
    import_hsds(None, str(HSDS), SOURCE)
    call = dispatched()
    encounter = services.upsert_encounter(
        actor=people["care1"], encounter_id=uuid.uuid4(), assignment_id=call["care"],
        started_at=timezone.now(), changes={"people_contacted": 1, "client_initials": "JD"},
    )  # fmt: skip

    def make() -> Referral:
        return services.create_referral(
            actor=people["care1"], referral_id=uuid.uuid4(), encounter_id=encounter.pk,
            service=NIGHT_SHELTER, consent=True, made_at=timezone.now(),
        )  # fmt: skip

    return make


@pytest.fixture
def harbor(db):
    return _partner(HARBOR, "Harbor Light")


@pytest.fixture
def eastside(db):
    return _partner(EASTSIDE, "Eastside")


def _reads(partner: APIClient, referral: Referral) -> list[int]:
    paths = ("Task", "ServiceRequest", "Consent", "Bundle")
    return [partner.get(f"/fhir/{path}/{referral.pk}").status_code for path in paths]


def test_a_referral_records_the_organization_it_was_made_to(make_referral):
    referral = make_referral()
    assert referral.organization_hsds_id == HARBOR
    assert referral.organization_name == "Harbor Light Outreach"


@pytest.mark.parametrize("source", [SOURCE, "another-publisher"])
def test_an_import_giving_a_service_to_another_organization_is_refused_and_hands_over_nothing(
    make_referral, harbor, eastside, source
):
    referral = make_referral()
    report = import_publication(None, read_json(_shelter_given_to_eastside()), source)
    refused = {item["id"]: item["reason"] for item in report.refused}
    assert NIGHT_SHELTER in refused
    assert DirectoryService.objects.get(pk=NIGHT_SHELTER).organization_hsds_id == HARBOR
    assert _reads(harbor, referral) == [200, 200, 200, 200]
    assert _reads(eastside, referral) == [404, 404, 404, 404]
    search = eastside.get("/fhir/Task", {"owner": f"Organization/{EASTSIDE}"}).json()
    assert search["total"] == 0


def test_another_source_cannot_rewrite_a_service_even_for_the_same_organization(make_referral):
    data = json.loads(HSDS.read_text())
    for service in data["service"]:
        if service["id"] == NIGHT_SHELTER:
            service["name"] = '=HYPERLINK("http://example.invalid")'
    report = import_publication(None, read_json(data), "another-publisher")
    assert NIGHT_SHELTER in {item["id"] for item in report.refused}
    assert DirectoryService.objects.get(pk=NIGHT_SHELTER).name == "Night shelter"


def test_the_same_source_still_updates_its_service_for_the_same_organization(make_referral):
    data = json.loads(HSDS.read_text())
    for service in data["service"]:
        if service["id"] == NIGHT_SHELTER:
            service["description"] = "Beds from 7 pm."
    report = import_publication(None, read_json(data), SOURCE)
    assert [item["id"] for item in report.changed] == [NIGHT_SHELTER]
    assert DirectoryService.objects.get(pk=NIGHT_SHELTER).description == "Beds from 7 pm."


def _admin_client(client, people):
    admin = people["admin"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    return client


def _move(client, reason: str = "Eastside took over the shelter on 1 December."):
    return client.post(
        "/admin/care/directoryservice/",
        {
            "action": "move_to_organization",
            "_selected_action": [NIGHT_SHELTER],
            "confirm": "move",
            "organization": "Eastside Recovery Cooperative",
            "organization_hsds_id": EASTSIDE,
            "reason": reason,
        },
    )


def test_an_administrators_move_is_audited_and_only_later_referrals_go_to_the_new_organization(
    make_referral, harbor, eastside, client, people
):
    before = make_referral()
    answer = _move(_admin_client(client, people))
    assert answer.status_code == 302
    moved = DirectoryService.objects.get(pk=NIGHT_SHELTER)
    assert moved.organization_hsds_id == EASTSIDE
    entry = AuditEntry.objects.get(action="directory.service_moved")
    assert entry.actor == people["admin"]
    assert entry.before["organization_hsds_id"] == HARBOR
    assert entry.after["organization_hsds_id"] == EASTSIDE
    assert _reads(harbor, before) == [200, 200, 200, 200]
    assert _reads(eastside, before) == [404, 404, 404, 404]
    after = make_referral()
    assert _reads(eastside, after) == [200, 200, 200, 200]
    assert _reads(harbor, after) == [404, 404, 404, 404]
    assert harbor.get(f"/fhir/Task/{before.pk}").json()["owner"]["display"] == (
        "Harbor Light Outreach"
    )


def test_a_move_without_a_reason_is_refused_and_moves_nothing(make_referral, client, people):
    answer = _move(_admin_client(client, people), reason="")
    assert answer.status_code == 200
    assert "Say why" in answer.content.decode()
    assert DirectoryService.objects.get(pk=NIGHT_SHELTER).organization_hsds_id == HARBOR
    assert not AuditEntry.objects.filter(action="directory.service_moved").exists()


def test_the_change_form_does_not_move_a_service(make_referral, client, people):
    admin = _admin_client(client, people)
    page = admin.get(f"/admin/care/directoryservice/{NIGHT_SHELTER}/change/").content.decode()
    assert 'name="organization_hsds_id"' not in page
    assert 'name="organization"' not in page
    assert 'name="name"' in page


def test_the_migration_fills_existing_referrals_from_their_service(make_referral):
    referral = make_referral()
    Referral.objects.filter(pk=referral.pk).update(organization_hsds_id="", organization_name="")
    migration = __import__(
        "server.care.migrations.0004_referral_organization", fromlist=["fill_from_service"]
    )
    migration.fill_from_service(apps, None)
    stored = Referral.objects.get(pk=referral.pk)
    assert (stored.organization_hsds_id, stored.organization_name) == (
        HARBOR,
        "Harbor Light Outreach",
    )
