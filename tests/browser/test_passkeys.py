"""Passkeys in Chromium with a virtual authenticator (the DevTools WebAuthn domain): a local
account adds one at its first sign-in, signs out, and signs in with password and passkey; an
authenticator holding a forged copy of the passkey is refused each time, and the refusals lock
the account like wrong passwords."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.browser.conftest import screenshot
from tests.e2e.conftest import _free_port

PASSWORD = "care-demo"
LOCKOUT_FAILURES = 5  # the server's CARE_LOCKOUT_FAILURES, its default
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@pytest.fixture
def passkey_site(served_system):
    """The demo with the second factor required, served at http://localhost:<port>: a passkey
    needs a domain (never an IP address) and the exact origin in CARE_PASSKEY_ORIGINS."""
    port = _free_port()
    served_system.env.update(
        {
            "CARE_MFA_REQUIRED": "true",
            "CARE_PASSKEY_RP_ID": "localhost",
            "CARE_PASSKEY_ORIGINS": f"http://localhost:{port}",
        }
    )
    served_system.start_daphne(port)
    return f"http://localhost:{port}"


@pytest.fixture
def devtools(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    session = context.new_cdp_session(page)
    session.send("WebAuthn.enable")
    yield page, session
    context.close()


def at(path: str) -> re.Pattern:
    """This path of the site exactly (`.*/dispatch/$` would match `/login/?next=/dispatch/`)."""
    return re.compile(rf"^http://[^/]+{re.escape(path)}(\?.*)?$")


def with_password(page, site: str, username: str = "dispatcher") -> None:
    page.goto(f"{site}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def forged_copy(credential: dict) -> dict:
    """The same credential id and user, with a private key of the forger's own."""
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "credentialId": credential["credentialId"],
        "isResidentCredential": True,
        "rpId": credential["rpId"],
        "userHandle": credential["userHandle"],
        "privateKey": base64.b64encode(pkcs8).decode(),
        "signCount": credential["signCount"] + 10,
    }


def test_a_dispatcher_adds_a_passkey_signs_out_and_signs_in_with_it(passkey_site, devtools):
    page, cdp = devtools
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    with_password(page, passkey_site)
    page.wait_for_url(at("/login/enrol/"))
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(at("/login/recovery-codes/"))
    assert page.locator("#recovery-codes li").count() == 10
    held = cdp.send("WebAuthn.getCredentials", authenticator)["credentials"]
    assert len(held) == 1 and held[0]["rpId"] == "localhost"
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(at("/dispatch/"))

    page.get_by_role("button", name="Sign out dispatcher").click()
    page.wait_for_url(at("/login/"))
    with_password(page, passkey_site)
    page.wait_for_url(at("/login/verify/"))
    screenshot(page, "passkey-verify")
    page.get_by_role("button", name="Use your passkey").click()
    page.wait_for_url(at("/dispatch/"))
    assert page.get_by_role("heading", name="Dispatch board").is_visible()

    page.goto(f"{passkey_site}/account/second-factor/")
    assert page.locator(".passkey-name").all_inner_texts() == ["Passkey 1"]


def test_a_forged_copy_of_the_passkey_is_refused_and_counted_until_the_lock(passkey_site, devtools):
    page, cdp = devtools
    real = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    with_password(page, passkey_site)
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(at("/login/recovery-codes/"))
    credential = cdp.send("WebAuthn.getCredentials", real)["credentials"][0]
    page.get_by_role("button", name="Sign out dispatcher").click()
    page.wait_for_url(at("/login/"))

    # The real authenticator is gone; another holds the same credential id under another key.
    cdp.send("WebAuthn.removeVirtualAuthenticator", real)
    forger = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    cdp.send("WebAuthn.addCredential", {**forger, "credential": forged_copy(credential)})

    with_password(page, passkey_site)
    page.wait_for_url(at("/login/verify/"))
    status = page.locator("#passkey-verification-status-message")
    for attempt in range(1, LOCKOUT_FAILURES):
        page.get_by_role("button", name="Use your passkey").click()
        page.wait_for_selector(
            "#passkey-verification-status-message[data-status-enum='server-error']"
        )
        assert "/login/verify/" in page.url, attempt
        page.evaluate(
            "document.getElementById('passkey-verification-status-message')"
            ".removeAttribute('data-status-enum')"
        )
    page.get_by_role("button", name="Use your passkey").click()
    page.wait_for_selector("#passkey-verification-status-message[data-status-enum='server-error']")
    assert "locked" in status.inner_text().lower()
    screenshot(page, "passkey-refused-locked")

    page.goto(f"{passkey_site}/dispatch/")
    assert "/login/" in page.url and "/verify/" not in page.url  # signed out
    with_password(page, passkey_site)
    assert "/login/" in page.url and "locked" in page.content().lower()  # the password too
