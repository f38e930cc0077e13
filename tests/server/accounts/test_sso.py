"""Sign-in through the city's OpenID Connect provider: a real provider (django-oauth-toolkit, RS256)
runs as its own process; CARE Field is the relying party under test."""

from __future__ import annotations

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from server.accounts import session_locks
from server.accounts.models import DeviceToken, Role, SsoIdentity, User
from server.audit.models import AuditEntry
from tests.idp.fixture import CLIENT_ID, GROUP_ROLES, ProviderBrowser, start_provider

pytestmark = pytest.mark.django_db
CALLBACK = "http://testserver/login/sso/callback/"
CITY_PASSWORD = "city-pass-1"


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    provider = start_provider(tmp_path_factory)
    provider.register(
        redirect_uris=[CALLBACK], post_logout_redirect_uris=["http://testserver/login/"]
    )
    yield provider
    provider.stop()


@pytest.fixture(autouse=True)
def relying_party(idp, settings):
    idp.faults()  # each test starts with an honest provider
    for name, value in idp.settings().items():
        setattr(settings, name, value)


def through_provider(client: Client, username: str, next_page: str = "") -> object:
    """Start at CARE Field's sign-in, sign in at the provider, come back: the callback's answer."""
    start = client.get("/login/sso/" + (f"?next={next_page}" if next_page else ""))
    assert start.status_code == 302
    back = ProviderBrowser().sign_in(start["Location"], username, CITY_PASSWORD)
    assert back.startswith(CALLBACK), back
    return client.get(urlsplit(back).path + "?" + urlsplit(back).query)


def refusals(reason: str) -> int:
    return sum(
        1
        for entry in AuditEntry.objects.filter(action="auth.sso_refused")
        if (entry.after or {}).get("reason") == reason
    )


def test_a_dispatcher_goes_from_the_providers_sign_in_to_the_board_without_a_local_password(idp):
    idp.person("jdoe", CITY_PASSWORD, ["911-dispatchers", "all-city-staff"], given_name="Jo")
    browser = Client()
    answer = through_provider(browser, "jdoe")
    assert answer.status_code == 302 and answer["Location"] == "/dispatch/"
    person = User.objects.get(username="jdoe")
    assert person.role == Role.DISPATCHER and person.first_name == "Jo"
    assert not person.has_usable_password()
    assert SsoIdentity.objects.get(user=person).issuer == idp.issuer
    assert browser.get("/dispatch/").status_code == 200
    assert AuditEntry.objects.filter(action="auth.login", actor=person).exists()


def test_the_request_to_the_provider_carries_state_nonce_and_a_pkce_challenge(idp):
    start = Client().get("/login/sso/")
    query = parse_qs(urlsplit(start["Location"]).query)
    assert start["Location"].startswith(f"{idp.issuer}/authorize/")
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32


def test_an_id_token_made_for_another_audience_is_refused(idp):
    idp.person("aud1", CITY_PASSWORD, ["911-dispatchers"])
    idp.faults(audience="another-application")
    answer = through_provider(Client(), "aud1")
    assert answer.status_code == 401
    assert b"could not be checked" in answer.content
    assert not User.objects.filter(username="aud1").exists()
    assert refusals("id_token") == 1


def test_an_expired_id_token_is_refused(idp):
    idp.person("exp1", CITY_PASSWORD, ["911-dispatchers"])
    idp.faults(expired=True)
    answer = through_provider(Client(), "exp1")
    assert answer.status_code == 401
    assert not User.objects.filter(username="exp1").exists()
    assert refusals("id_token") == 1


def test_a_replayed_callback_signs_no_one_in_in_the_same_browser_or_another(idp):
    idp.person("rep1", CITY_PASSWORD, ["911-dispatchers"])
    browser = Client()
    start = browser.get("/login/sso/")
    back = ProviderBrowser().sign_in(start["Location"], "rep1", CITY_PASSWORD)
    callback = urlsplit(back).path + "?" + urlsplit(back).query
    assert browser.get(callback).status_code == 302
    assert browser.get(callback).status_code == 400  # its state was used
    attacker = Client()
    assert attacker.get(callback).status_code == 400  # never had that state
    assert attacker.get("/dispatch/").status_code == 302  # still signed out
    assert refusals("state") == 2


def test_a_person_whose_groups_map_to_no_role_reads_why_and_gets_no_account(idp):
    idp.person("visitor", CITY_PASSWORD, ["parks-staff"])
    answer = through_provider(Client(), "visitor")
    assert answer.status_code == 403
    assert b"no CARE Field role" in answer.content
    assert not User.objects.filter(username="visitor").exists()
    assert refusals("no_role") == 1


def test_a_group_changed_at_the_provider_changes_the_role_at_the_next_sign_in_and_ends_tokens(
    idp,
):
    idp.person("moves", CITY_PASSWORD, ["911-dispatchers"])
    first = Client()
    through_provider(first, "moves")
    token = first.post("/dispatch/console-token").json()["token"]
    idp.person("moves", CITY_PASSWORD, ["care-coordinators"])
    answer = through_provider(Client(), "moves")
    assert answer["Location"] == "/coordinator/"
    assert User.objects.get(username="moves").role == Role.COORDINATOR
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {token}").status_code == 401


def test_a_group_removed_at_the_provider_deactivates_and_a_group_given_back_restores(idp):
    idp.person("leaves", CITY_PASSWORD, ["care-responders"])
    through_provider(Client(), "leaves")
    person = User.objects.get(username="leaves")
    device_token = DeviceToken.objects.create(
        device=person.devices.create(name="tablet"),
        key_hash="x" * 64,
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )
    idp.person("leaves", CITY_PASSWORD, [])
    assert through_provider(Client(), "leaves").status_code == 403
    person.refresh_from_db()
    assert not person.is_active
    device_token.device.refresh_from_db()
    assert device_token.device.revoked_at is not None
    idp.person("leaves", CITY_PASSWORD, ["care-responders"])
    assert through_provider(Client(), "leaves").status_code == 302
    person.refresh_from_db()
    assert person.is_active and person.role == Role.CARE_RESPONDER


def test_a_person_an_administrator_deactivated_stays_out_whatever_their_groups(idp):
    idp.person("fired", CITY_PASSWORD, ["911-dispatchers"])
    through_provider(Client(), "fired")
    User.objects.filter(username="fired").update(is_active=False)
    answer = through_provider(Client(), "fired")
    assert answer.status_code == 403 and b"deactivated" in answer.content
    assert not User.objects.get(username="fired").is_active


def test_the_providers_admin_never_becomes_the_local_admin(idp, people):
    idp.person("admin", CITY_PASSWORD, ["911-dispatchers"])
    through_provider(Client(), "admin")
    assert User.objects.get(username="admin").role == Role.ADMIN  # the local one, untouched
    assert User.objects.get(username="admin@sso").role == Role.DISPATCHER


def test_a_person_from_the_provider_has_no_password_for_the_token_endpoint(idp):
    idp.person("nopass", CITY_PASSWORD, ["care-responders"])
    through_provider(Client(), "nopass")
    for password in ("", CITY_PASSWORD, "!"):
        answer = Client().post(
            "/api/v1/auth/token",
            {"username": "nopass", "password": password, "device_name": "t"},
            content_type="application/json",
        )
        assert answer.status_code in (400, 401)


def test_signing_out_ends_the_session_at_the_provider_too(idp):
    idp.person("bye", CITY_PASSWORD, ["911-dispatchers"])
    browser = Client()
    through_provider(browser, "bye")
    answer = browser.post("/logout/")
    assert answer.status_code == 302
    assert answer["Location"].startswith(f"{idp.issuer}/logout/?")
    assert "id_token_hint" in parse_qs(urlsplit(answer["Location"]).query)
    assert browser.get("/dispatch/").status_code == 302


# The authorization matrix's rows for people signed in by the provider: what each page answers a
# role that came from a group (403: not for this role; 302 from /admin/: not staff, to its sign-in).
GROUP_OF_ROLE = {
    role: group for group, _, role in (g.partition("=") for g in GROUP_ROLES.split(","))
}
PAGES_BY_ROLE = {
    Role.DISPATCHER: {"/dispatch/": 200, "/coordinator/": 403, "/admin/": 302},
    Role.COORDINATOR: {"/dispatch/": 403, "/coordinator/": 200, "/admin/": 302},
    Role.CARE_RESPONDER: {"/dispatch/": 403, "/coordinator/": 403, "/admin/": 302},
    Role.SPD_OFFICER: {"/dispatch/": 403, "/coordinator/": 403, "/admin/": 302},
    Role.ADMIN: {"/dispatch/": 200, "/coordinator/": 200, "/admin/": 200},
}


@pytest.mark.parametrize("role", list(PAGES_BY_ROLE))
def test_signed_in_by_the_provider_with_a_role_each_console_answers_as_the_role_allows(
    idp, units, role
):
    idp.person(f"sso-{role}", CITY_PASSWORD, [GROUP_OF_ROLE[role]])
    browser = Client()
    through_provider(browser, f"sso-{role}")
    answers = {page: browser.get(page).status_code for page in PAGES_BY_ROLE[role]}
    assert answers == PAGES_BY_ROLE[role]


def test_a_person_signed_in_by_the_provider_is_not_asked_for_a_local_second_factor(idp, settings):
    settings.CARE_MFA_REQUIRED = True  # the provider ran its own multi-factor check
    idp.person("mfa-at-city", CITY_PASSWORD, ["911-dispatchers"])
    browser = Client()
    through_provider(browser, "mfa-at-city")
    assert browser.get("/dispatch/").status_code == 200


def test_a_locked_provider_session_opens_only_through_the_provider_asked_to_check_again(idp):
    idp.person("idle", CITY_PASSWORD, ["911-dispatchers"])
    browser = Client()
    through_provider(browser, "idle")
    session = browser.session
    session[session_locks.ACTIVE_AT] -= 31 * 60
    session.save()
    assert browser.get("/dispatch/")["Location"].startswith("/login/unlock/")
    assert browser.post("/login/unlock/", {"password": CITY_PASSWORD}).status_code == 200
    assert browser.get("/dispatch/").status_code == 302  # a password opens nothing here
    start = browser.get("/login/sso/?again=1&next=/dispatch/")
    assert parse_qs(urlsplit(start["Location"]).query)["prompt"] == ["login"]
    back = ProviderBrowser().sign_in(start["Location"], "idle", CITY_PASSWORD)
    assert browser.get(urlsplit(back).path + "?" + urlsplit(back).query).status_code == 302
    assert browser.get("/dispatch/").status_code == 200
    assert AuditEntry.objects.filter(action="auth.session_unlocked").count() == 1


def test_a_provider_that_does_not_answer_gets_a_clear_page_not_an_error(settings, refused_url):
    settings.OIDC_ISSUER = refused_url
    answer = Client().get("/login/sso/")
    assert answer.status_code == 502
    assert b"did not answer" in answer.content


def test_without_a_provider_configured_its_pages_are_not_served(settings):
    settings.OIDC_ISSUER = ""
    assert Client().get("/login/sso/").status_code == 404
    assert b"sign-in-sso" not in Client().get("/login/").content
