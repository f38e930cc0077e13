"""Console sessions lock after 30 idle minutes and open again only with the person's own proof;
they end a shift after their sign-in however busy; locks, unlocks and ends are audited."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from server.accounts import session_locks
from server.accounts.models import User
from server.audit.models import AuditEntry
from tests.conftest import PASSWORD
from tests.server.accounts.test_second_factor import code_for, enrolled

pytestmark = pytest.mark.django_db
MINUTE = 60


def console(username: str = "dispatcher") -> Client:
    browser = Client()
    assert browser.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return browser


def age(browser: Client, key: str, seconds: float) -> None:
    """Move a session time back, as if that long had passed."""
    session = browser.session
    session[key] = time.time() - seconds
    session.save()


def test_a_console_left_idle_for_30_minutes_locks_and_only_the_password_opens_it(people):
    browser = console()
    age(browser, session_locks.ACTIVE_AT, 31 * MINUTE)
    assert browser.get("/dispatch/")["Location"] == "/login/unlock/?next=/dispatch/"
    assert browser.get("/dispatch/")["Location"].startswith("/login/unlock/")  # stays locked
    assert AuditEntry.objects.filter(action="auth.session_locked").count() == 1
    wrong = browser.post("/login/unlock/", {"password": "not-it", "next": "/dispatch/"})
    assert wrong.status_code == 400
    right = browser.post("/login/unlock/", {"password": PASSWORD, "next": "/dispatch/"})
    assert right.status_code == 302 and right["Location"] == "/dispatch/"
    assert browser.get("/dispatch/").status_code == 200
    assert AuditEntry.objects.filter(action="auth.session_unlocked").count() == 1


def test_a_console_used_within_30_minutes_stays_open(people):
    browser = console()
    age(browser, session_locks.ACTIVE_AT, 29 * MINUTE)
    assert browser.get("/dispatch/").status_code == 200
    assert not AuditEntry.objects.filter(action="auth.session_locked").exists()


def test_the_idle_limit_is_a_setting(people, settings):
    settings.CARE_CONSOLE_IDLE_LOCK_MINUTES = 5
    browser = console()
    age(browser, session_locks.ACTIVE_AT, 6 * MINUTE)
    assert browser.get("/dispatch/").status_code == 302


def test_a_pages_background_fetches_do_not_count_as_the_person_being_there(people):
    browser = console()
    age(browser, session_locks.ACTIVE_AT, 20 * MINUTE)
    before = browser.session[session_locks.ACTIVE_AT]
    assert browser.get("/dispatch/board/", HTTP_SEC_FETCH_MODE="cors").status_code == 200
    assert browser.session[session_locks.ACTIVE_AT] == before
    assert browser.get("/dispatch/", HTTP_SEC_FETCH_MODE="navigate").status_code == 200
    assert browser.session[session_locks.ACTIVE_AT] > before + 19 * MINUTE


def test_a_locked_console_loses_its_live_feed_token_and_its_fetches_get_a_json_401(people):
    browser = console()
    token = browser.post("/dispatch/console-token").json()["token"]
    age(browser, session_locks.ACTIVE_AT, 31 * MINUTE)
    fetch = browser.post("/dispatch/console-token", HTTP_SEC_FETCH_MODE="cors")
    assert fetch.status_code == 401 and fetch.json()["code"] == "session_locked"
    me = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 401


def test_with_a_second_factor_the_lock_asks_for_the_code_not_the_password(people, settings):
    settings.CARE_MFA_REQUIRED = True
    browser, _ = enrolled()
    age(browser, session_locks.ACTIVE_AT, 31 * MINUTE)
    assert browser.get("/dispatch/").status_code == 302
    assert browser.post("/login/unlock/", {"password": PASSWORD}).status_code == 400
    device = TOTPDevice.objects.get(user=people["dispatcher"])
    assert browser.post("/login/unlock/", {"code": code_for(device, 1)}).status_code == 302
    assert browser.get("/dispatch/").status_code == 200


def test_a_session_ends_a_shift_after_its_sign_in_however_busy_it_was(people, settings):
    browser = console()
    age(browser, session_locks.SIGNED_IN_AT, settings.SESSION_COOKIE_AGE + 1)
    answer = browser.get("/dispatch/")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")
    assert browser.get("/dispatch/")["Location"].startswith("/login/?next=")  # signed out
    assert AuditEntry.objects.filter(action="auth.session_expired").count() == 1


def test_a_session_within_its_shift_is_not_ended(people, settings):
    browser = console()
    age(browser, session_locks.SIGNED_IN_AT, settings.SESSION_COOKIE_AGE - MINUTE)
    assert browser.get("/dispatch/").status_code == 200


IDLE_LOCK_SCRIPT = 'src="/static/care/idle_lock.js" data-idle-ms="{ms}"'


def test_every_console_page_carries_the_idle_lock_timed_by_the_servers_setting(people, settings):
    User.objects.create_superuser("root", password=PASSWORD, role="admin")
    browser = console("root")
    pages = (
        "/dispatch/",
        "/coordinator/",
        "/planner/",
        "/admin/",
        "/admin/accounts/user/",
        "/dashboard/",
    )
    for minutes, ms in ((30, "1800000"), (0.5, "30000")):
        settings.CARE_CONSOLE_IDLE_LOCK_MINUTES = minutes
        for path in pages:
            page = browser.get(path)
            assert page.status_code == 200, path
            assert IDLE_LOCK_SCRIPT.format(ms=ms) in page.content.decode(), (path, minutes)


def test_the_sign_in_and_lock_pages_and_signed_out_visitors_get_no_idle_lock(people, settings):
    assert "idle_lock.js" not in Client().get("/").content.decode()
    assert "idle_lock.js" not in Client().get("/login/").content.decode()
    browser = console()
    age(browser, session_locks.ACTIVE_AT, 31 * MINUTE)
    assert browser.get("/dispatch/").status_code == 302
    assert "idle_lock.js" not in browser.get("/login/unlock/").content.decode()
    settings.CARE_CONSOLE_IDLE_LOCK_MINUTES = 0  # no lock at all
    assert "idle_lock.js" not in console().get("/dispatch/").content.decode()
