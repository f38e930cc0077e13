"""The dispatch board in a real browser on a real Daphne: a dispatcher screens a call, dual
dispatches it in one click, and watches the board change when the CARE tablet acknowledges."""

from __future__ import annotations

import re

import requests

from tests.browser.conftest import screenshot, sign_in


def test_the_board_changes_by_itself_when_the_care_tablet_acknowledges(served_system, page):
    site = served_system.start_daphne()
    sign_in(page, site, "dispatcher")
    assert page.url.endswith("/dispatch/")
    page.wait_for_selector("body[data-live='yes']", timeout=15000)

    page.get_by_label("CAD number").fill("BROWSER-1")
    page.get_by_label("Call type").select_option("DOWN - CHECK FOR DOWN PERSON")
    page.get_by_label("Address").fill("3rd Ave & Pine St")
    page.get_by_label("Latitude").fill("47.6107")
    page.get_by_label("Longitude").fill("-122.3396")
    page.get_by_label("Time received (blank: now)").fill("2026-11-18T14:00")
    page.get_by_role("button", name="Screen the call").click()
    page.wait_for_url(re.compile(r".*/dispatch/calls/.*"))
    assert "Dual dispatch" in page.locator("#recommendation").inner_text()
    screenshot(page, "dispatch-call")

    page.get_by_role("button", name="Dual dispatch CARE-1 + 2M12").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Dispatch board").first.click()
    page.wait_for_selector("body[data-live='yes']", timeout=15000)
    care = page.locator("#open-calls span.assignment", has_text="CARE-1")
    assert care.get_attribute("data-status") == "dispatched"

    # The CARE tablet acknowledges through the REST API, as the tablet app does.
    token = requests.post(
        f"{site}/api/v1/auth/token",
        json={"username": "care1", "password": "care-demo", "device_name": "care1-tablet"},
        timeout=10,
    ).json()["token"]
    auth = {"Authorization": f"Token {token}"}
    mine = requests.get(f"{site}/api/v1/assignments", headers=auth, timeout=10).json()
    assignment = next(a for a in mine if a["status"] == "dispatched")
    answer = requests.post(
        f"{site}/api/v1/assignments/{assignment['id']}/transitions",
        json={"to": "acknowledged"},
        headers=auth,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text

    # No reload: the feed tells the page, and the board part is fetched again.
    page.wait_for_selector("#open-calls span.assignment[data-status='acknowledged']", timeout=15000)
    assert "CARE-1: Acknowledged" in page.locator("#open-calls").inner_text()
    screenshot(page, "dispatch-board")


def test_the_board_alerts_the_dispatcher_when_a_unit_does_not_acknowledge(served_system, page):
    served_system.env["CARE_ACK_TIMEOUT_SECONDS"] = "2"
    site = served_system.start_daphne()
    sign_in(page, site, "dispatcher")
    page.wait_for_selector("body[data-live='yes']", timeout=15000)
    page.get_by_label("CAD number").fill("BROWSER-2")
    page.get_by_label("Address").fill("3rd Ave & Pine St")
    page.get_by_label("Latitude").fill("47.6107")
    page.get_by_label("Longitude").fill("-122.3396")
    page.get_by_label("Time received (blank: now)").fill("2026-11-18T14:00")
    page.get_by_role("button", name="Screen the call").click()
    page.wait_for_url(re.compile(r".*/dispatch/calls/.*"))
    page.get_by_role("button", name=re.compile(r"^Dual dispatch")).click()
    page.wait_for_load_state()

    page.get_by_role("link", name="Dispatch board").first.click()

    alert = page.locator("#alerts .alert").first
    alert.wait_for(timeout=30000)
    assert "BROWSER-2" in alert.inner_text()
    screenshot(page, "dispatch-ack-overdue")
