"""One bounded JSON parser on every door: a body nested 5,000 deep answers 400 (never a 500)
on the CAD's EIDO door, which reads its body itself, and on the FHIR Task updates in each of
their media types, as it already did on the rest of the API."""

from __future__ import annotations

import logging

import pytest

from server.care.models import Referral
from tests.server.interop import conftest as interop_fixtures
from tests.server.interop import test_fhir as fhir_fixtures

pytestmark = pytest.mark.django_db

# A CAD's key and a partner's key with a consented referral, as the interop tests make them.
cad, send = interop_fixtures.cad, interop_fixtures.send
harbor, referral = fhir_fixtures.harbor, fhir_fixtures.referral

DEEP_ARRAYS = "[" * 5000 + "]" * 5000
DEEP_OBJECTS = '{"a":' * 5000 + "1" + "}" * 5000
SHALLOW_BUT_BROKEN = '{"resourceType": "Task", '


def no_server_error(caplog) -> bool:
    return not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["arrays", "objects"])
def test_an_eido_document_nested_5000_deep_is_refused_400(cad, caplog, body):
    with caplog.at_level(logging.WARNING):
        answer = cad[1].generic("POST", "/api/v1/eido", body, content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert "deep" in answer.json()["detail"]
    assert no_server_error(caplog)


def test_an_eido_document_nested_a_few_levels_is_still_read(send):
    assert send(interop_fixtures.valley_document()).status_code == 201


@pytest.mark.parametrize(
    ("method", "media_type"),
    [
        ("PUT", "application/fhir+json"),
        ("PUT", "application/json"),
        ("PATCH", "application/merge-patch+json"),
        ("PATCH", "application/json-patch+json"),
    ],
)
@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["arrays", "objects"])
def test_a_task_update_nested_5000_deep_is_refused_400(
    referral, harbor, caplog, method, media_type, body
):
    version = referral.version
    with caplog.at_level(logging.WARNING):
        answer = harbor.generic(
            method,
            f"/fhir/Task/{referral.pk}",
            body,
            content_type=media_type,
            HTTP_IF_MATCH=f'W/"{version}"',
        )
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == "malformed"
    assert no_server_error(caplog)
    assert Referral.objects.get(pk=referral.pk).version == version


def test_a_task_update_that_is_not_json_is_refused_as_malformed(referral, harbor):
    answer = harbor.generic(
        "PUT",
        f"/fhir/Task/{referral.pk}",
        SHALLOW_BUT_BROKEN,
        content_type="application/fhir+json",
        HTTP_IF_MATCH=f'W/"{referral.version}"',
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "malformed"
