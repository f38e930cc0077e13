"""The consoles' pages and data (board, board fragment, call pages, the map's state, the referral
queue) and the console-token answer say `Cache-Control: no-store`; the public dashboard and the
static files don't."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def signed_in(people, username: str) -> Client:
    client = Client()
    client.force_login(people[username])
    return client


@pytest.mark.parametrize(
    "path",
    ["/dispatch/", "/dispatch/board/", "/dispatch/map/state.json", "/dispatch/calls/{call}/"],
)
def test_the_dispatch_console_answers_are_never_stored(people, new_call, path):
    call = new_call()
    answer = signed_in(people, "dispatcher").get(path.format(call=call["id"]))
    assert answer.status_code == 200
    assert "no-store" in answer.headers.get("Cache-Control", "")


@pytest.mark.parametrize(
    ("username", "path"),
    [("dispatcher", "/dispatch/console-token"), ("coordinator", "/coordinator/console-token")],
)
def test_the_console_token_answer_is_never_stored(people, username, path):
    answer = signed_in(people, username).post(path)
    assert answer.status_code == 200
    assert answer.json()["token"]
    assert "no-store" in answer.headers.get("Cache-Control", "")


def test_the_referral_queue_is_never_stored(people):
    answer = signed_in(people, "coordinator").get("/coordinator/")
    assert answer.status_code == 200
    assert "no-store" in answer.headers.get("Cache-Control", "")


def test_the_public_dashboard_may_be_cached(people):
    answer = Client().get("/dashboard/")
    assert answer.status_code == 200
    assert "no-store" not in answer.headers.get("Cache-Control", "")
