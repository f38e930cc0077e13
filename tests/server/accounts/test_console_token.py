"""The web console's live-feed token lives no longer than the signed-in session that asked for
it: the same token while the session lives, dead at sign-out and when the session expires."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from server.accounts.models import DeviceToken
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def console(username: str = "dispatcher") -> Client:
    client = Client()
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def console_token(client: Client) -> str:
    answer = client.post("/dispatch/console-token")
    assert answer.status_code == 200
    return answer.json()["token"]


def api_me(token: str) -> int:
    return Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {token}").status_code


def test_the_page_gets_the_same_token_while_its_session_lives(people):
    page = console()
    first = console_token(page)
    assert console_token(page) == first
    assert DeviceToken.objects.filter(device__user=people["dispatcher"]).count() == 1


def test_another_session_gets_a_token_of_its_own(people):
    assert console_token(console()) != console_token(console())


def test_the_token_expires_with_the_session_not_in_two_weeks(people, settings):
    page = console()
    token = DeviceToken.objects.get(key_hash=DeviceToken.hash(console_token(page)))
    session_ends = page.session.get_expiry_date()
    assert token.expires_at <= session_ends + datetime.timedelta(seconds=1)
    assert token.expires_at - timezone.now() <= datetime.timedelta(
        seconds=settings.SESSION_COOKIE_AGE + 1
    )


def test_signing_out_of_the_console_kills_its_token(people):
    page = console()
    token = console_token(page)
    other = console_token(console())
    assert api_me(token) == 200
    assert page.post("/logout/").status_code in (200, 302)
    assert api_me(token) == 401
    assert api_me(other) == 200  # the person's other session keeps its own


def test_a_token_is_refused_once_its_session_has_expired(people, monkeypatch):
    page = console()
    token = console_token(page)
    after_expiry = page.session.get_expiry_date() + datetime.timedelta(seconds=5)
    monkeypatch.setattr(timezone, "now", lambda: after_expiry)
    assert api_me(token) == 401
