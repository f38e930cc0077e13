"""Every document NENA's EIDO schema accepts, posted by a CAD, is taken in or refused for a reason
of the program's own — never a 5xx, never "not an EIDO document" — and a call taken in shows on
the dispatch board.

The documents are drawn from the vendored schema (tests/server/interop/nena_documents.py) with a
fixed seed, so CI runs the same small set every time. A larger run, e.g. before a release:

    CARE_EIDO_PROPERTY_EXAMPLES=2000 pytest tests/server/interop/test_eido_property.py
"""

from __future__ import annotations

import os

from django.db import transaction
from hypothesis import HealthCheck, given, seed, settings

from server.dispatch.models import OPEN_INCIDENT_STATUSES, Incident
from server.interop.conformance import eido_errors
from tests.server.interop.nena_documents import nena_documents

EXAMPLES = int(os.environ.get("CARE_EIDO_PROPERTY_EXAMPLES", "30"))
DOMAIN_REFUSALS = {"eido_without_call", "eido_time_out_of_range"}


@seed(25)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(document=nena_documents())
def test_a_document_nena_accepts_is_taken_in_and_shown_or_refused_for_a_domain_reason(
    send, client, people, document
):
    assert eido_errors(document) == []  # the generator's promise, checked
    client.force_login(people["dispatcher"])
    # Each document is judged alone: what it wrote is rolled back before the next.
    with transaction.atomic():
        answer = send(document)
        assert answer.status_code < 500, answer.content
        body = answer.json()
        if answer.status_code >= 400:
            assert (answer.status_code, body["code"]) in {(422, c) for c in DOMAIN_REFUSALS}, body
        else:
            incident = Incident.objects.get(pk=body["incident"])
            if incident.status in OPEN_INCIDENT_STATUSES:
                board = client.get("/dispatch/board/").content.decode()
                assert f"/dispatch/calls/{incident.pk}/" in board
        transaction.set_rollback(True)
