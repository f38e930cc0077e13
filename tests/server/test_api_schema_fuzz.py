"""The API against its own OpenAPI schema, fuzzed: every role and an anonymous caller.

Schemathesis reads the schema the server publishes at `/api/v1/schema/` and, for every operation,
generates requests from it: valid ones (positive) and ones that break it (negative). They go
in-process to the real Django app (WSGI, the same views Daphne serves) with each role's real device
token. Every answer must be no 5xx, a status code the schema documents for that operation, the
content type it documents, and a body of the documented shape (the one error shape included).

Path parameters are half the time random and half the time the ids of real records (a dispatched
call with an encounter, a naloxone administration and a referral), so the bodies are also tried
against records that exist, not only against 404s.

The number of examples per operation is small so the module stays quick in `make test`;
CARE_SCHEMATHESIS_EXAMPLES raises it for a longer hunt. Runs are derandomized: the same inputs
every run, so CI can't go red by luck.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from server.accounts.services import issue_device_token
from tests.conftest import PASSWORD

# The roles' real records and the people who play them come from the authorization matrix:
# a dispatched CARE-1/2M12 call with every kind of clinical record on it.
from tests.server.test_authorization_matrix import PLAYS, care_records  # noqa: F401

WSGI = WSGIHandler()
EXAMPLES = int(os.environ.get("CARE_SCHEMATHESIS_EXAMPLES", "4"))
ROLES = ("anonymous", "dispatcher", "care_responder", "spd_officer", "coordinator", "admin")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Signing out and rotating end the token that asked. They are fuzzed apart, each example with a
# token of its own, so the run over every other operation keeps one working token throughout
# (checked after each operation) and every operation is really exercised for each role.
SPENDS_ITS_TOKEN = {"POST /api/v1/auth/logout", "POST /api/v1/auth/token/rotate"}


def in_test_transaction(environ, start_response):
    """Django's WSGI app, run inside the test's transaction.

    Django closes "old" connections when a request starts and when its answer is closed; inside a
    test transaction that drops it (on PostgreSQL), so, as Django's own test client does, the hook
    is off for the request, and the answer is read and closed before it goes back on.
    """
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        answer = WSGI(environ, start_response)
        try:
            return [b"".join(answer)]
        finally:
            answer.close()
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.fixture(scope="module")
def api_schema():
    """The schema as the server publishes it, bound to the in-process app."""
    return schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", in_test_transaction)


def real_ids(records: dict[str, str], role: str) -> dict[str, str]:
    return {
        "incident_id": records["incident"],
        "assignment_id": records["spd"] if role == "spd_officer" else records["care"],
        "encounter_id": records["encounter"],
        "administration_id": records["naloxone"],
        "referral_id": records["referral"],
    }


def device_token(role: str) -> str | None:
    if role == "anonymous":
        return None
    key, _ = issue_device_token(username=PLAYS[role], password=PASSWORD, device_name="fuzz")
    return key


def fuzz(
    operation, role: str, ids: dict[str, str], token: str | None, authorization: str = ""
) -> None:
    """Sends EXAMPLES generated requests to one operation; raises on the first bad answer.
    `authorization` is a whole header to send instead of the role's token (a system's key)."""
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, pin_ids=st.booleans())
    def run(case, pin_ids: bool) -> None:
        if pin_ids and case.path_parameters:
            case.path_parameters = {
                name: ids.get(name, value) for name, value in case.path_parameters.items()
            }
        key = device_token(role) if operation.label in SPENDS_ITS_TOKEN else token
        headers = {"Authorization": f"Token {key}"} if key else {}
        if authorization:
            headers = {"Authorization": authorization}
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def token_still_works(token: str | None) -> bool:
    return token is None or (
        Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    )


def operations_of(api_schema, *, spending_the_token: bool) -> list:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    return [op for op in operations if (op.label in SPENDS_ITS_TOKEN) == spending_the_token]


@pytest.mark.parametrize("role", ROLES)
def test_every_answer_to_fuzzed_requests_matches_the_published_schema(
    role,
    api_schema,
    care_records,  # noqa: F811
):
    ids = real_ids(care_records, role)
    token = device_token(role)
    operations = operations_of(api_schema, spending_the_token=False)
    assert len(operations) > 25, "the schema lost its operations"
    problems = []
    for operation in operations:
        try:
            fuzz(operation, role, ids, token)
        # Every operation is tried and all findings reported together (schemathesis raises a
        # BaseExceptionGroup of failures).
        except (Exception, BaseExceptionGroup) as failure:
            problems.append(f"--- {operation.label} as {role}\n{str(failure)[:1500]}")
        if not token_still_works(token):
            # Every later operation would answer only 401: not a fuzz of it at all.
            problems.append(f"--- {operation.label} as {role} ended the token of the run")
            token = device_token(role)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
def test_rotating_and_signing_out_fuzzed_with_a_token_of_their_own(
    role,
    api_schema,
    care_records,  # noqa: F811
):
    ids = real_ids(care_records, role)
    operations = operations_of(api_schema, spending_the_token=True)
    assert {op.label for op in operations} == SPENDS_ITS_TOKEN
    problems = []
    for operation in operations:
        try:
            fuzz(operation, role, ids, None)
        except (Exception, BaseExceptionGroup) as failure:
            problems.append(f"--- {operation.label} as {role}\n{str(failure)[:1500]}")
    assert not problems, "\n".join(problems)


def test_rotating_or_signing_out_ends_the_token_that_asked_and_no_other(people):
    for path, status in (("/api/v1/auth/token/rotate", 201), ("/api/v1/auth/logout", 204)):
        spent, bystander = device_token("dispatcher"), device_token("dispatcher")
        answer = Client().post(path, HTTP_AUTHORIZATION=f"Token {spent}")
        assert answer.status_code == status
        assert not token_still_works(spent)
        assert token_still_works(bystander)


def test_the_metrics_endpoint_refuses_a_range_of_centuries_even_to_staff(client, people):
    # Found by the fuzz: the figures are worked out per day, so 0001-9999 kept a worker busy.
    client.force_login(people["admin"])
    answer = client.get("/api/v1/metrics?from=0001-01-01&to=9999-12-31")
    assert answer.status_code == 400
    assert set(answer.json()["fields"]) & {"from", "to"}
    assert client.get("/api/v1/metrics?from=2022-01-01&to=2026-11-30").status_code == 200


def test_a_nul_character_in_a_query_is_refused_and_never_reaches_the_database(client_for, client):
    # Found by fuzzing on PostgreSQL, which can't compare a NUL: these filters answered 500.
    for who, path in (
        ("dispatcher", "/api/v1/incidents?status=a%00b"),
        ("care1", "/api/v1/directory/services?q=a%00b"),
    ):
        answer = client_for(who).get(path)
        assert answer.status_code == 400, path
        assert answer.json()["code"] == "invalid"
    assert client.get("/coordinator/?status=%00").status_code == 400
    # The session table is looked up by the cookie's value: a NUL there answered 500 as well.
    assert Client(HTTP_COOKIE="sessionid=abcdefgh\x00ij").get("/api/v1/me").status_code == 400
    assert client_for("dispatcher").get("/api/v1/incidents?status=new").status_code == 200
