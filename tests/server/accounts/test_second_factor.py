"""A second factor for local accounts on the web sign-in and the admin: an authenticator set up
at the first sign-in, recovery codes, wrong codes counted like wrong passwords, and a reset by
another administrator only."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from server.accounts import mfa
from server.accounts.models import User
from server.audit.models import AuditEntry
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def second_factor_on(settings):
    settings.CARE_MFA_REQUIRED = True


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """What the person's authenticator app shows (a step ahead: the next one, still accepted)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def signed_in(username: str = "dispatcher") -> Client:
    browser = Client()
    assert browser.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return browser


def enrolled(username: str = "dispatcher") -> tuple[Client, list[str]]:
    browser = signed_in(username)
    browser.get("/login/enrol/")
    device = TOTPDevice.objects.get(user__username=username)
    page = browser.post("/login/enrol/", {"code": code_for(device), "next": "/dispatch/"})
    return browser, list(page.context["codes"])


def test_a_local_account_sets_up_an_authenticator_at_first_sign_in_and_gets_ten_recovery_codes(
    people,
):
    browser = signed_in()
    assert browser.get("/dispatch/")["Location"] == "/login/enrol/?next=/dispatch/"
    page = browser.get("/login/enrol/?next=/dispatch/")
    assert page.status_code == 200 and page.context["secret"]
    device = TOTPDevice.objects.get(user=people["dispatcher"], confirmed=False)
    assert browser.post("/login/enrol/", {"code": "000000"}).status_code == 400
    assert browser.get("/dispatch/").status_code == 302  # not yet
    done = browser.post("/login/enrol/", {"code": code_for(device), "next": "/dispatch/"})
    assert done.status_code == 200
    assert len(set(done.context["codes"])) == 10
    assert browser.get("/dispatch/").status_code == 200
    assert AuditEntry.objects.filter(
        action="auth.mfa_enrolled", actor=people["dispatcher"]
    ).exists()


def test_the_next_sign_in_asks_for_the_code_and_opens_with_the_app_code(people):
    enrolled()
    browser = signed_in()
    assert browser.get("/dispatch/")["Location"] == "/login/verify/?next=/dispatch/"
    device = TOTPDevice.objects.get(user=people["dispatcher"])
    answer = browser.post("/login/verify/", {"code": code_for(device, 1), "next": "/dispatch/"})
    assert answer.status_code == 302 and answer["Location"] == "/dispatch/"
    assert browser.get("/dispatch/").status_code == 200


def test_a_recovery_code_opens_once_and_never_again(people):
    _, codes = enrolled()
    first = signed_in()
    assert first.post("/login/verify/", {"code": codes[0]}).status_code == 302
    assert first.get("/dispatch/").status_code == 200
    second = signed_in()
    assert second.post("/login/verify/", {"code": codes[0]}).status_code == 400
    assert second.get("/dispatch/").status_code == 302
    assert StaticDevice.objects.get(user=people["dispatcher"]).token_set.count() == 9


def test_the_admin_asks_for_the_second_factor_too(people):
    User.objects.create_superuser("root", password=PASSWORD)
    browser = Client()
    answer = browser.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    assert answer.status_code == 302
    assert browser.get("/admin/")["Location"].startswith("/login/enrol/")


def test_a_session_api_call_owing_its_second_factor_gets_a_json_refusal(people):
    browser = signed_in()
    answer = browser.post("/dispatch/console-token", HTTP_SEC_FETCH_MODE="cors")
    assert answer.status_code == 401
    assert answer.json()["code"] == "second_factor_required"


def test_wrong_second_factors_count_toward_the_lockout_like_wrong_passwords(people, settings):
    enrolled()
    browser = signed_in()
    for _ in range(settings.CARE_LOCKOUT_FAILURES - 1):
        assert browser.post("/login/verify/", {"code": "123456"}).status_code == 400
    locked = browser.post("/login/verify/", {"code": "123456"})
    assert locked.status_code == 429
    assert b"locked" in locked.content
    assert browser.get("/dispatch/").status_code == 302  # signed out
    again = Client().post("/login/", {"username": "dispatcher", "password": PASSWORD})
    assert again.status_code == 200  # the right password is refused while locked
    failures = AuditEntry.objects.filter(action="auth.login_failed", object_id="dispatcher")
    assert failures.count() >= settings.CARE_LOCKOUT_FAILURES


def test_one_wrong_code_then_the_right_one_opens(people):
    enrolled()
    browser = signed_in()
    device = TOTPDevice.objects.get(user=people["dispatcher"])
    assert browser.post("/login/verify/", {"code": "123456"}).status_code == 400
    assert browser.post("/login/verify/", {"code": code_for(device, 1)}).status_code == 302


def test_only_another_administrator_resets_a_second_factor_and_it_is_audited(people):
    enrolled("admin")
    admin = people["admin"]
    with pytest.raises(mfa.ResetRefused):
        mfa.reset_second_factor(actor=admin, user=admin)
    assert mfa.has_second_factor(admin)
    other = User.objects.create_superuser("admin2", password=PASSWORD)
    mfa.reset_second_factor(actor=other, user=admin)
    assert not mfa.has_second_factor(admin)
    assert not StaticDevice.objects.filter(user=admin).exists()
    assert AuditEntry.objects.filter(action="auth.mfa_reset", actor=other).count() == 1


def test_the_sign_in_page_says_plainly_when_the_second_factor_is_off(settings):
    assert b"mfa-off" not in Client().get("/login/").content
    settings.CARE_MFA_REQUIRED = False
    assert b"mfa-off" in Client().get("/login/").content
