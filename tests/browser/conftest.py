"""Debian's Chromium driven by Playwright against a real Daphne process on a database of its own.

Playwright's own browser download can't run here, so the tests launch /usr/bin/chromium; they
skip with a reason when it is missing. The page code runs in the browser; these tests only speak
HTTP, so they never touch the test database themselves.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, served_system  # noqa: F401 - the fixture, reused

CHROMIUM = "/usr/bin/chromium"
# A test run never rewrites tracked files: screenshots go to a temporary folder unless
# `make screenshots` names docs/screenshots in CARE_SCREENSHOTS_DIR to refresh them.
SCREENSHOTS = Path(
    os.environ.get("CARE_SCREENSHOTS_DIR")
    or Path(tempfile.gettempdir()) / f"care-screenshots-{os.environ.get('CARE_TEST_RUN_ID', 'run')}"
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


# One browser per test module: Playwright's sync API keeps an event loop running in the thread
# while it lives, so a browser kept for the whole session would stand under the next module's
# asyncio.run() or async_to_sync() on the same test worker.
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(served_system):  # noqa: F811 - pytest fixture injection
    """A Daphne process on the demo data plus a month of sample history; returns its URL."""
    subprocess.run(
        [sys.executable, "manage.py", "load_sample_history", "--days", "30"],
        cwd=ROOT,
        env=served_system.env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return served_system.start_daphne()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, url: str, username: str) -> None:
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("care-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
