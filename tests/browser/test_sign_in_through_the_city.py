"""Sign-in through the city's identity provider in Chromium: a real OpenID Connect provider
(tests/idp/, its own process) in front of a real Daphne. The person never has a password here."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import screenshot
from tests.idp.fixture import start_provider

CITY_PASSWORD = "city-pass-1"


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    provider = start_provider(tmp_path_factory)
    yield provider
    provider.stop()


@pytest.fixture
def city_site(served_system, idp):
    """The demo served with the provider configured, and the provider knowing where it is."""
    idp.faults()
    served_system.env.update(idp.environment())
    site = served_system.start_daphne()
    idp.register(
        redirect_uris=[f"{site}/login/sso/callback/"],
        post_logout_redirect_uris=[f"{site}/login/"],
    )
    return site


def through_the_city(page, site: str, username: str) -> None:
    page.goto(f"{site}/login/")
    page.get_by_role("link", name="Sign in with the city's account").click()
    page.get_by_label("City username").fill(username)
    page.get_by_label("City password").fill(CITY_PASSWORD)
    page.get_by_role("button", name="Sign in to the city").click()
    page.wait_for_load_state()


def test_a_dispatcher_signs_in_through_the_city_reaches_the_live_board_and_a_replay_fails(
    city_site, idp, page
):
    idp.person("jdoe", CITY_PASSWORD, ["911-dispatchers"])
    callbacks: list[str] = []
    page.on("request", lambda r: callbacks.append(r.url) if "/sso/callback/" in r.url else None)
    through_the_city(page, city_site, "jdoe")
    page.wait_for_url(re.compile(r".*/dispatch/$"))
    page.wait_for_selector("body[data-live='yes']", timeout=15000)
    screenshot(page, "dispatch-board-sso")

    page.goto(callbacks[0])  # the same answer from the provider, a second time
    assert page.get_by_role("heading", name="That sign-in link was already used").is_visible()


def test_a_group_removed_at_the_city_between_sign_ins_takes_the_console_away(city_site, idp, page):
    idp.person("mover", CITY_PASSWORD, ["911-dispatchers"])
    through_the_city(page, city_site, "mover")
    page.wait_for_url(re.compile(r".*/dispatch/$"))
    page.get_by_role("button", name="Sign out mover").click()
    page.wait_for_url(re.compile(r".*/login/$"))  # back from the provider's own sign-out

    idp.person("mover", CITY_PASSWORD, ["parks-staff"])
    through_the_city(page, city_site, "mover")
    assert page.get_by_role("heading", name="Your city account has no CARE Field role").is_visible()
    screenshot(page, "sso-no-role")
    page.goto(f"{city_site}/dispatch/")
    assert "/login/" in page.url


@pytest.mark.parametrize("fault", [{"audience": "another-application"}, {"expired": True}])
def test_an_id_token_for_another_audience_or_expired_signs_no_one_in(city_site, idp, page, fault):
    idp.person("victim", CITY_PASSWORD, ["911-dispatchers"])
    idp.faults(**fault)
    through_the_city(page, city_site, "victim")
    assert page.get_by_role("heading", name="The city's sign-in could not be checked").is_visible()
    page.goto(f"{city_site}/dispatch/")
    assert "/login/" in page.url
