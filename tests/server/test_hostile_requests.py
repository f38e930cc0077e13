"""Requests an attacker would send: bodies nested too deep or too large answer 400/413 in the
error shape with no server error logged; answers with personal or clinical data are never stored
by a cache; an unset DEBUG means production."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings
from django.test import Client

from tests.server.test_web_hardening import production_env, run_python

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


def post_raw(client: Client, path: str, body: str | bytes, **headers):
    return client.generic("POST", path, body, content_type="application/json", **headers)


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/sync/push"])
def test_json_nested_a_thousand_deep_is_refused_400_without_a_server_error(
    client_for, caplog, path, body
):
    token = client_for("care1")._credentials["HTTP_AUTHORIZATION"]
    with caplog.at_level(logging.WARNING):
        answer = post_raw(Client(), path, body, HTTP_AUTHORIZATION=token)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == "malformed"
    assert "deep" in answer.json()["detail"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/sync/push"])
def test_a_five_megabyte_body_is_refused_413_without_a_server_error(client_for, caplog, path):
    token = client_for("care1")._credentials["HTTP_AUTHORIZATION"]
    body = '{"username": "' + "x" * (5 * 1024 * 1024) + '"}'
    with caplog.at_level(logging.WARNING):
        answer = post_raw(Client(), path, body, HTTP_AUTHORIZATION=token)
    assert answer.status_code == 413, answer.content
    assert answer.json()["code"] == "too_large"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_body_just_under_the_limit_is_read_as_usual(people):
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE - 200)
    body = json.dumps(
        {"username": "care1", "password": "wrong", "device_name": "t", "pad": padding}
    )
    answer = post_raw(Client(), "/api/v1/auth/token", body)
    assert answer.status_code == 401


# ---- caches --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/me", "/api/v1/assignments", "/api/v1/referrals", "/api/v1/sync/pull"]
)
def test_api_answers_with_personal_data_are_never_stored_by_a_cache(client_for, path):
    answer = client_for("coordinator" if "referrals" in path else "care1").get(path)
    assert answer.status_code == 200
    assert "no-store" in answer.headers["Cache-Control"]


def test_refusals_and_sign_in_answers_are_not_stored_either(people):
    answer = Client().post(
        "/api/v1/auth/token",
        {"username": "care1", "password": "care-demo", "device_name": "t"},
        content_type="application/json",
    )
    assert answer.status_code == 201
    assert "no-store" in answer.headers["Cache-Control"]
    assert "no-store" in Client().get("/api/v1/me").headers["Cache-Control"]


def test_the_public_figures_and_schema_may_be_cached(people):
    for path in ("/api/v1/metrics", "/api/v1/schema/"):
        answer = Client().get(path)
        assert answer.status_code == 200
        assert "no-store" not in answer.headers.get("Cache-Control", "")


# ---- DEBUG ---------------------------------------------------------------------------------


def test_an_unset_debug_means_production(tmp_path):
    env = production_env(tmp_path)
    env.pop("DEBUG")
    show = "import django; django.setup(); from django.conf import settings as s; print(s.DEBUG)"
    done = run_python(show, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    env.pop("SECRET_KEY")
    refused = run_python(show, env)
    assert "ImproperlyConfigured: Set SECRET_KEY" in refused.stderr


def test_the_schema_documents_the_body_limit_on_every_write(people):
    schema = Client().get("/api/v1/schema/?format=json").json()
    writes = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if method in ("post", "put", "patch")
    ]
    assert writes
    assert all("413" in operation["responses"] for _, _, operation in writes)
