"""The FHIR and EIDO operations fuzzed against the published schema as the systems that call them:
a partner organization's key (the one the fuzzed referral was made to, so real ids reach real
records) and a CAD's key. Same checks as the person-token fuzz (tests/server/test_api_schema_fuzz):
no 5xx, documented statuses, content types and shapes; and the key still works after each
operation."""

from __future__ import annotations

import pytest
from django.test import Client

from server.accounts.system_clients import create_system_client
from server.care.models import Referral
from tests.server.test_api_schema_fuzz import api_schema, fuzz  # noqa: F401
from tests.server.test_authorization_matrix import care_records  # noqa: F401

FAMILIES = {
    "partner": ("/fhir/",),
    "cad": ("/api/v1/eido", "/api/v1/incidents/{incident_id}/eido"),
}


def _key(kind: str, records: dict[str, str]) -> str:
    organization = ""
    if kind == "partner":
        organization = Referral.objects.get(pk=records["referral"]).organization_hsds_id
    _, key = create_system_client(
        actor=None, kind=kind, name=f"fuzzing {kind}", organization_id=organization
    )
    return key


def _key_still_works(key: str, kind: str, records: dict[str, str]) -> bool:
    path = (
        f"/fhir/Task/{records['referral']}"
        if kind == "partner"
        else f"/api/v1/incidents/{records['incident']}/eido"
    )
    return Client().get(path, HTTP_AUTHORIZATION=f"Api-Key {key}").status_code == 200


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_the_partner_and_cad_doors_answer_fuzzed_requests_as_the_schema_says(
    kind,
    api_schema,  # noqa: F811
    care_records,  # noqa: F811
):
    key = _key(kind, care_records)
    assert _key_still_works(key, kind, care_records)
    ids = {"incident_id": care_records["incident"], "referral_id": care_records["referral"]}
    operations = [
        op
        for op in (result.ok() for result in api_schema.get_all_operations())
        if op.path.startswith(FAMILIES[kind])
    ]
    assert len(operations) >= (6 if kind == "partner" else 2), "the schema lost the doors"
    problems = []
    for operation in operations:
        try:
            fuzz(operation, "system", ids, None, authorization=f"Api-Key {key}")
        except (Exception, BaseExceptionGroup) as failure:
            problems.append(f"--- {operation.label} as a {kind} key\n{str(failure)[:1500]}")
        if not _key_still_works(key, kind, care_records):
            problems.append(f"--- {operation.label} left the {kind} key unable to read")
    assert not problems, "\n".join(problems)
