"""A request whose database connection dies under it (PostgreSQL restarted, the connection
terminated) is told to try again in the one error shape, with 503 and Retry-After, not a bare 500
that reads as a bug; and the next request works."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import requests
from django.db import connection

from server.dispatch.models import Assignment, Incident
from tests.conftest import PASSWORD, call_body

pytestmark = pytest.mark.postgres


def _token(url: str, username: str) -> str:
    answer = requests.post(
        f"{url}/api/v1/auth/token",
        json={"username": username, "password": PASSWORD, "device_name": "console"},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["token"]


def _dsn() -> str:
    params = connection.get_connection_params()
    return psycopg.conninfo.make_conninfo(
        **{k: v for k, v in params.items() if k in ("dbname", "host", "port", "user", "password")}
    )


def _terminate_the_backend_waiting_on_a_lock(admin: psycopg.Connection, dbname: str) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            [dbname],
        ).fetchall()
        if rows:
            return len(rows)
        time.sleep(0.02)
    raise AssertionError("no request came to wait on the held lock")


def test_a_request_whose_connection_is_terminated_answers_503_try_again_and_changes_nothing(
    live_server, people, units
):
    url = live_server.url
    headers = {"Authorization": f"Token {_token(url, 'dispatcher')}"}
    call = requests.post(f"{url}/api/v1/incidents", json=call_body(), headers=headers, timeout=10)
    assert call.status_code == 201, call.text
    incident_id = call.json()["id"]
    dispatch = f"{url}/api/v1/incidents/{incident_id}/dispatch"
    body = {"care_unit": str(units["CARE-1"].pk), "spd_unit": str(units["2M12"].pk)}
    answers: list[requests.Response] = []

    dsn = _dsn()
    dbname = connection.get_connection_params()["dbname"]
    with psycopg.connect(dsn) as holder, psycopg.connect(dsn, autocommit=True) as admin:
        # Hold the call's row: the dispatch request waits on it, mid-transaction, until its
        # connection is terminated under it.
        holder.execute("SELECT 1 FROM dispatch_incident WHERE id = %s FOR UPDATE", [incident_id])
        waiting = threading.Thread(
            target=lambda: answers.append(
                requests.post(dispatch, json=body, headers=headers, timeout=30)
            )
        )
        waiting.start()
        assert _terminate_the_backend_waiting_on_a_lock(admin, dbname) == 1
        waiting.join(30)
        holder.rollback()

    [answer] = answers
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "2"
    error = answer.json()
    assert error["code"] == "database_unavailable"
    assert "Try again" in error["detail"]
    assert Incident.objects.get(pk=incident_id).status == "screened"
    assert not Assignment.objects.filter(incident_id=incident_id).exists()

    again = requests.post(dispatch, json=body, headers=headers, timeout=10)
    assert again.status_code == 201, again.text
