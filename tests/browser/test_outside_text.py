"""Text from outside stays text on the dispatch board: a CAD's address and call type, a unit's
call sign and a responder's emergency carrying markup are shown as the characters they are, in
the board's lists, the map's tooltips and labels and the alert, and never become elements (the
CSP stops scripts, not a painted banner)."""

from __future__ import annotations

import datetime
import subprocess
import sys
import uuid

import requests

from tests.browser.conftest import sign_in
from tests.browser.test_map import DOWNTOWN, report, tablet
from tests.e2e.conftest import ROOT

BANNER = '<div id="injected" class="injected" style="background:red">EMERGENCY</div>'
CALL_TYPE = '<b class="injected">PERSON DOWN</b>'
CALL_SIGN = "<i class=injected>C2"  # a call sign holds at most 20 characters
WAIT_MS = 20000


def name_things_with_markup(env: dict) -> None:
    """As an administrator (or a CAD's call type mapping) could name them."""
    code = (
        "from server.dispatch.models import CallType, Unit;"
        f"CallType.objects.create(code={CALL_TYPE!r}, eligible=True);"
        f"Unit.objects.filter(call_sign='CARE-2').update(call_sign={CALL_SIGN!r})"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def call_with_markup(site: str) -> dict:
    auth = tablet(site, "dispatcher")
    answer = requests.post(
        f"{site}/api/v1/incidents",
        json={
            "cad_number": f"X-{uuid.uuid4().hex[:8]}",
            "call_type": CALL_TYPE,
            "priority": 3,
            "address": BANNER,
            "latitude": DOWNTOWN[0],
            "longitude": DOWNTOWN[1],
            "narrative": BANNER,
            "received_at": datetime.datetime.now(datetime.UTC).isoformat(),
            "screening": {
                "weapons": False,
                "violence": False,
                "medical_emergency": False,
                "imminent_danger": False,
            },
        },
        headers=auth,
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def assert_nothing_injected(page) -> None:
    assert page.locator(".injected").count() == 0
    assert page.locator("#injected").count() == 0


def test_markup_in_every_field_the_board_shows_is_shown_as_text(served_system, page):
    name_things_with_markup(served_system.env)
    site = served_system.start_daphne()
    call = call_with_markup(site)
    care3 = tablet(site, "care3")  # on CARE-2, now named with markup
    report(site, care3, (DOWNTOWN[0] + 0.004, DOWNTOWN[1] + 0.004), ago_seconds=5)

    sign_in(page, site, "dispatcher")
    page.wait_for_selector("body[data-live='yes']", timeout=WAIT_MS)
    page.wait_for_selector("#map[data-layers='loaded'][data-state='loaded']", timeout=WAIT_MS)
    board = page.locator("#board").inner_text()
    assert BANNER in board and CALL_TYPE in board
    assert_nothing_injected(page)

    page.locator(f".call-marker.call-{call['id']}").hover()
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for(timeout=WAIT_MS)
    assert BANNER in tooltip.inner_text() and CALL_TYPE in tooltip.inner_text()
    assert_nothing_injected(page)

    unit = page.locator(".unit-marker .unit-label", has_text=CALL_SIGN)
    unit.wait_for(timeout=WAIT_MS)
    assert unit.inner_text() == CALL_SIGN
    unit.hover()
    page.wait_for_function(
        "s => [...document.querySelectorAll('.leaflet-tooltip')]"
        ".some(t => t.textContent.includes(s))",
        arg=CALL_SIGN,
        timeout=WAIT_MS,
    )
    assert_nothing_injected(page)

    started = requests.post(
        f"{site}/api/v1/emergencies",
        json={
            "id": str(uuid.uuid4()),
            "unit": requests.get(f"{site}/api/v1/me", headers=care3, timeout=30).json()["unit"][
                "id"
            ],
            "started_at": datetime.datetime.now(datetime.UTC).isoformat(),
        },
        headers=care3,
        timeout=30,
    )
    assert started.status_code == 201, started.text
    alert = page.locator("#alerts [data-emergency]")
    alert.wait_for(timeout=WAIT_MS)
    assert CALL_SIGN in alert.inner_text()
    assert_nothing_injected(page)

    page.goto(f"{site}/dispatch/calls/{call['id']}/")
    page.wait_for_load_state()
    assert BANNER in page.locator("body").inner_text()
    assert_nothing_injected(page)
