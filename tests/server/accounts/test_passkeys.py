"""Passkeys as a local account's second factor, spoken to without a browser (a software passkey
answers the server's WebAuthn options): adding one, signing in with it after the password,
every way a passkey is refused (each audited and counted like a wrong password), removing one,
and another administrator's reset."""

from __future__ import annotations

import json
import re

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django_otp_webauthn.models import WebAuthnCredential

from server.accounts import mfa, session_locks
from server.accounts.models import User
from server.audit.models import AuditEntry
from tests.conftest import PASSWORD
from tests.server.accounts.software_passkey import SoftwarePasskey

pytestmark = pytest.mark.django_db

CEREMONY = "/login/passkey/"


@pytest.fixture(autouse=True)
def second_factor_on(settings):
    settings.CARE_MFA_REQUIRED = True


def signed_in(username: str = "dispatcher") -> Client:
    browser = Client()
    assert browser.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return browser


def post_json(browser: Client, url: str, body=None):
    data = "" if body is None else json.dumps(body)
    return browser.post(url, data=data, content_type="application/json")


def add_passkey(browser: Client, passkey: SoftwarePasskey):
    options = post_json(browser, CEREMONY + "registration/begin/")
    assert options.status_code == 200, options.content
    return post_json(browser, CEREMONY + "registration/complete/", passkey.register(options.json()))


def use_passkey(browser: Client, passkey: SoftwarePasskey, **forged):
    options = post_json(browser, CEREMONY + "authentication/begin/")
    assert options.status_code == 200, options.content
    answer = passkey.sign_in(options.json(), **forged)
    return post_json(browser, CEREMONY + "authentication/complete/?next=/dispatch/", answer)


def enrolled_with_passkey(username: str = "dispatcher") -> SoftwarePasskey:
    passkey = SoftwarePasskey()
    assert add_passkey(signed_in(username), passkey).status_code == 200
    return passkey


def refusals(username: str = "dispatcher") -> list[str]:
    entries = AuditEntry.objects.filter(action="auth.passkey_refused", object_id__in=_ids(username))
    return [entry.after["reason"] for entry in entries.order_by("pk")]


def _ids(username: str) -> list[str]:
    return [str(pk) for pk in User.objects.filter(username=username).values_list("pk", flat=True)]


def failed_sign_ins(username: str = "dispatcher") -> int:
    return AuditEntry.objects.filter(action="auth.login_failed", object_id=username).count()


def test_a_local_account_adds_a_passkey_at_first_sign_in_and_gets_recovery_codes_once(people):
    browser = signed_in()
    assert browser.get("/dispatch/")["Location"] == "/login/enrol/?next=/dispatch/"
    enrol_page = browser.get("/login/enrol/?next=/dispatch/").content.decode()
    assert 'id="passkey-register-button"' in enrol_page
    assert 'data-after="/login/recovery-codes/?next=/dispatch/"' in enrol_page

    assert add_passkey(browser, SoftwarePasskey()).status_code == 200
    dispatcher = people["dispatcher"]
    assert mfa.has_second_factor(dispatcher)
    assert browser.get("/dispatch/").status_code == 200  # this session gave its second factor
    codes = browser.get("/login/recovery-codes/?next=/dispatch/")
    assert codes.status_code == 200 and len(set(codes.context["codes"])) == 10
    assert browser.get("/login/recovery-codes/?next=/dispatch/")["Location"] == "/dispatch/"
    added = AuditEntry.objects.get(action="auth.passkey_added", actor=dispatcher)
    assert added.after["name"] == "Passkey 1"
    enrolled = AuditEntry.objects.get(action="auth.mfa_enrolled", actor=dispatcher)
    assert enrolled.after == {"kind": "passkey"}


def test_the_next_sign_in_opens_with_the_passkey_after_the_password(people):
    passkey = enrolled_with_passkey()
    browser = signed_in()
    assert browser.get("/dispatch/")["Location"] == "/login/verify/?next=/dispatch/"
    verify_page = browser.get("/login/verify/?next=/dispatch/").content.decode()
    assert 'id="passkey-verification-button"' in verify_page
    answer = use_passkey(browser, passkey)
    assert answer.status_code == 200, answer.content
    assert answer.json()["redirect_url"] == "/dispatch/"
    assert browser.get("/dispatch/").status_code == 200
    passed = AuditEntry.objects.filter(action="auth.second_factor", actor=people["dispatcher"])
    assert [entry.after["kind"] for entry in passed] == ["passkey"]


def test_a_passkey_never_signs_anyone_in_without_the_password(people):
    enrolled_with_passkey()
    stranger = Client()
    assert post_json(stranger, CEREMONY + "authentication/begin/").status_code == 403
    refused = post_json(stranger, CEREMONY + "authentication/complete/", {"id": "x"})
    assert refused.status_code == 403
    assert stranger.get("/dispatch/").status_code == 302


@pytest.mark.parametrize(
    "attempt",
    [
        "a passkey the server never saw",
        "another person's passkey",
        "a signature from another key",
        "an answer sent a second time",
        "an answer that is not a passkey's",
    ],
)
def test_each_wrong_passkey_is_refused_audited_and_counted_like_a_wrong_password(people, attempt):
    passkey = enrolled_with_passkey()
    browser = signed_in()
    if attempt == "a passkey the server never saw":
        answer = use_passkey(browser, SoftwarePasskey())
    elif attempt == "another person's passkey":
        answer = use_passkey(browser, enrolled_with_passkey("admin"))
    elif attempt == "a signature from another key":
        answer = use_passkey(browser, passkey, signing_key=ec.generate_private_key(ec.SECP256R1()))
    elif attempt == "an answer sent a second time":
        options = post_json(browser, CEREMONY + "authentication/begin/").json()
        once = passkey.sign_in(options)
        assert post_json(browser, CEREMONY + "authentication/complete/", once).status_code == 200
        browser = signed_in()  # a fresh sign-in, and the captured answer replayed in it
        answer = post_json(browser, CEREMONY + "authentication/complete/", once)
    else:
        post_json(browser, CEREMONY + "authentication/begin/")
        answer = post_json(browser, CEREMONY + "authentication/complete/", ["not", "a", "passkey"])
    assert 400 <= answer.status_code < 500, answer.content
    assert answer.json()["code"] and answer.json()["detail"]
    assert browser.get("/dispatch/")["Location"].startswith("/login/verify/")
    assert len(refusals()) == 1
    assert failed_sign_ins() == 1


def test_the_right_passkey_after_a_wrong_one_opens(people):
    passkey = enrolled_with_passkey()
    browser = signed_in()
    assert use_passkey(browser, SoftwarePasskey()).status_code == 404
    assert use_passkey(browser, passkey).status_code == 200
    assert browser.get("/dispatch/").status_code == 200


def test_refused_passkeys_lock_the_account_like_wrong_passwords(people, settings):
    enrolled_with_passkey()
    browser = signed_in()
    stranger_key = SoftwarePasskey()
    for _ in range(settings.CARE_LOCKOUT_FAILURES - 1):
        assert use_passkey(browser, stranger_key).status_code == 404
    locked = use_passkey(browser, stranger_key)
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    assert browser.get("/dispatch/").status_code == 302  # signed out
    again = Client().post("/login/", {"username": "dispatcher", "password": PASSWORD})
    assert again.status_code == 200  # the right password is refused while locked
    assert failed_sign_ins() == settings.CARE_LOCKOUT_FAILURES


def test_a_person_removes_a_passkey_but_never_their_last_second_factor(people):
    first, second = SoftwarePasskey(), SoftwarePasskey()
    browser = signed_in()
    assert add_passkey(browser, first).status_code == 200
    assert add_passkey(browser, second).status_code == 200
    listed = browser.get("/account/second-factor/")
    assert listed.status_code == 200
    kept = list(WebAuthnCredential.objects.filter(user=people["dispatcher"]).order_by("pk"))
    assert [p.name for p in listed.context["passkeys"]] == ["Passkey 1", "Passkey 2"]

    gone = browser.post(f"/account/second-factor/passkeys/{kept[0].pk}/remove")
    assert gone.status_code == 302
    assert list(WebAuthnCredential.objects.filter(user=people["dispatcher"])) == [kept[1]]
    removed = AuditEntry.objects.get(action="auth.passkey_removed", actor=people["dispatcher"])
    assert removed.after == {"passkey": kept[0].pk, "name": "Passkey 1"}

    last = browser.post(f"/account/second-factor/passkeys/{kept[1].pk}/remove")
    assert last.status_code == 409
    assert WebAuthnCredential.objects.filter(pk=kept[1].pk).exists()


def test_no_one_removes_another_persons_passkey(people):
    enrolled_with_passkey("admin")
    theirs = WebAuthnCredential.objects.get(user=people["admin"])
    browser = signed_in()
    assert add_passkey(browser, SoftwarePasskey()).status_code == 200
    answer = browser.post(f"/account/second-factor/passkeys/{theirs.pk}/remove")
    assert answer.status_code == 404
    assert WebAuthnCredential.objects.filter(pk=theirs.pk).exists()


def test_another_administrators_reset_takes_the_passkeys_too_and_is_audited(people):
    enrolled_with_passkey("admin")
    admin = people["admin"]
    other = User.objects.create_superuser("admin2", password=PASSWORD)
    mfa.reset_second_factor(actor=other, user=admin)
    assert not WebAuthnCredential.objects.filter(user=admin).exists()
    assert not mfa.has_second_factor(admin)
    reset = AuditEntry.objects.get(action="auth.mfa_reset", actor=other)
    assert reset.after == {"passkeys": 1}
    assert signed_in("admin").get("/admin/")["Location"].startswith("/login/enrol/")


def test_adding_a_passkey_needs_an_open_session_of_a_local_account(people):
    passkey = enrolled_with_passkey()
    owing = signed_in()  # has a second factor, has not given it in this session
    assert post_json(owing, CEREMONY + "registration/begin/").status_code == 403

    browser = signed_in()
    assert use_passkey(browser, passkey).status_code == 200
    session = browser.session
    session[session_locks.LOCKED] = True
    session.save()
    refused = post_json(browser, CEREMONY + "registration/begin/")
    assert refused.status_code == 403 and refused.json()["code"] == "passkey_add_refused"

    session[session_locks.LOCKED] = False
    session.save()
    assert post_json(browser, CEREMONY + "registration/begin/").status_code == 200


def test_a_locked_console_opens_with_the_passkey(people, settings):
    passkey = enrolled_with_passkey()
    browser = signed_in()
    assert use_passkey(browser, passkey).status_code == 200
    session = browser.session
    session[session_locks.LOCKED] = True
    session.save()
    assert browser.get("/dispatch/")["Location"] == "/login/unlock/?next=/dispatch/"
    assert 'id="passkey-verification-button"' in browser.get("/login/unlock/").content.decode()
    assert use_passkey(browser, passkey).status_code == 200
    assert browser.get("/dispatch/").status_code == 200
    unlocked = AuditEntry.objects.get(action="auth.session_unlocked")
    assert unlocked.after == {"by": "passkey"}


def test_no_input_to_the_ceremonies_answers_a_server_error(people):
    browser = signed_in()
    for path in ("registration/complete/", "authentication/complete/"):
        for body in ("not json", "[]", '{"id": 1}', '{"response": []}', "null"):
            answer = browser.post(CEREMONY + path, data=body, content_type="application/json")
            assert 400 <= answer.status_code < 500, (path, body, answer.status_code)


def test_the_passkey_pages_run_only_this_sites_script_files_under_the_policy(people):
    """The library's scripts are served from our static files; its settings travel in a JSON
    data block, which no browser runs; no inline script or handler (the CSP would stop it)."""
    passkey = enrolled_with_passkey()
    browser = signed_in()
    pages = {"/login/verify/": browser.get("/login/verify/")}
    assert use_passkey(browser, passkey).status_code == 200
    pages["/account/second-factor/"] = browser.get("/account/second-factor/")
    pages["/login/enrol/"] = signed_in("coordinator").get("/login/enrol/")
    for path, answer in pages.items():
        assert answer.status_code == 200, path
        assert "script-src 'self'" in answer["Content-Security-Policy"]
        page = answer.content.decode()
        scripts = re.findall(r"<script\b[^>]*>", page)
        assert any("/static/django_otp_webauthn/otp_webauthn_" in tag for tag in scripts), path
        code = [tag for tag in scripts if 'type="application/json"' not in tag]
        assert all(re.search(r'src="/(static|login/passkey)/', tag) for tag in code), scripts
        assert not re.search(r"\son[a-z]+\s*=", page), f"{path} has an inline event handler"
    assert Client().get("/static/django_otp_webauthn/otp_webauthn_auth.js").status_code == 200
