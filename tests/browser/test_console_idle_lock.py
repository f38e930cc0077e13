"""A console left alone locks itself in the browser (CJIS 5.5.5) without waiting for the next
request: its content leaves the screen at once and the lock page opens; the server holds the
lock too. Served with an idle lock of a few seconds so the test waits for the lock page, not
for half an hour."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import screenshot, sign_in

IDLE_MINUTES = "0.05"  # three seconds


def at(path: str) -> re.Pattern:
    return re.compile(rf"^http://[^/]+{re.escape(path)}(\?.*)?$")


@pytest.fixture
def quickly_locking_site(served_system):
    served_system.env["CARE_CONSOLE_IDLE_LOCK_MINUTES"] = IDLE_MINUTES
    return served_system.start_daphne()


# What each page showed as the browser left it, kept in the tab's sessionStorage by a script
# Playwright adds to every page (no page of the site carries it).
REMEMBER_WHAT_WAS_SHOWN = """
addEventListener("pagehide", () => sessionStorage.setItem(
  "shown-when-left:" + location.pathname, document.body ? document.body.innerText : ""));
"""


def test_an_idle_board_hides_itself_opens_the_lock_page_and_the_server_holds_the_lock(
    quickly_locking_site, page
):
    site = quickly_locking_site
    page.add_init_script(REMEMBER_WHAT_WAS_SHOWN)
    sign_in(page, site, "dispatcher")
    page.wait_for_url(at("/dispatch/"))
    assert page.get_by_role("heading", name="Dispatch board").is_visible()

    page.wait_for_url(at("/login/unlock/"), timeout=60_000)  # nothing touched: it locks itself
    assert page.get_by_role("heading", name="This console is locked").is_visible()
    left = page.evaluate("sessionStorage.getItem('shown-when-left:/dispatch/')")
    assert left == "This console is locked. Opening the lock page…"  # not the board
    screenshot(page, "console-idle-locked")
    page.goto(f"{site}/dispatch/")  # the server holds the lock too
    page.wait_for_url(at("/login/unlock/"))

    page.get_by_label("Password").fill("care-demo")
    page.get_by_role("button", name="Unlock").click()
    page.wait_for_url(at("/dispatch/"))
    assert page.get_by_role("heading", name="Dispatch board").is_visible()


def test_a_person_at_work_on_the_board_is_not_locked_out_from_under_their_hands(
    quickly_locking_site, page
):
    """Keys pressed keep the page's timer from firing: the lock page appears only after the
    typing stops (what opens the lock page is the quiet, not the clock since the page loaded)."""
    site = quickly_locking_site
    sign_in(page, site, "dispatcher")
    page.wait_for_url(at("/dispatch/"))
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    field = page.get_by_label("CAD number")
    # Typing, a key at a time, for longer than the idle period while watching for the lock.
    for _ in range(3):
        field.press_sequentially("1234567890", delay=150)
        assert not any("/login/unlock/" in url for url in navigations)
    page.wait_for_url(at("/login/unlock/"), timeout=60_000)
