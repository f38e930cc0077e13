"""A responder's emergency in a real browser on a real Daphne: the board raises a red alert with
the unit and its call, the dispatcher acknowledges it, and the acknowledgement reaches the
tablet's own stream. The tablet sends over HTTP, as it does when its socket is down."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import requests

from tests.browser.conftest import screenshot, sign_in


def tablet(site: str, username: str) -> dict:
    answer = requests.post(
        f"{site}/api/v1/auth/token",
        json={"username": username, "password": "care-demo", "device_name": f"{username}-tab"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return {"Authorization": f"Token {body['token']}", "unit": body["user"]["unit"]}


def pulled(site: str, auth: dict, stream: str, kind: str, deadline: float) -> list[dict]:
    """Pull the stream until an event of this kind appears or the deadline passes."""
    headers = {"Authorization": auth["Authorization"]}
    while True:
        answer = requests.get(
            f"{site}/api/v1/sync/pull",
            params={"cursors": f"{stream}:0"},
            headers=headers,
            timeout=10,
        )
        found = [e for e in answer.json()["events"] if e["kind"] == kind]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)  # polling interval, not a synchronisation: the loop waits on the event


def test_the_board_alerts_on_an_emergency_and_the_tablet_hears_the_acknowledgement(
    served_system, page
):
    site = served_system.start_daphne()
    sign_in(page, site, "dispatcher")
    page.wait_for_selector("body[data-live='yes']", timeout=15000)

    care = tablet(site, "care1")
    unit_id = care["unit"]["id"] if isinstance(care["unit"], dict) else care["unit"]
    emergency_id = str(uuid.uuid4())
    answer = requests.post(
        f"{site}/api/v1/emergencies",
        json={
            "id": emergency_id,
            "unit": unit_id,
            "started_at": datetime.now(UTC).isoformat(),
            "latitude": 47.6107,
            "longitude": -122.3396,
        },
        headers={"Authorization": care["Authorization"]},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text

    alert = page.locator("#alerts .emergency-alert").first
    alert.wait_for(timeout=15000)
    assert "EMERGENCY" in alert.inner_text()
    item = page.locator(f"li.emergency[data-emergency='{emergency_id}']")
    item.wait_for(timeout=15000)
    assert "47.61070" in item.inner_text()
    screenshot(page, "dispatch-emergency")

    item.get_by_role("button", name="Acknowledge").click()
    page.wait_for_selector(
        f"li.emergency[data-emergency='{emergency_id}'][data-acknowledged='yes']", timeout=15000
    )
    heard = pulled(site, care, f"unit:{unit_id}", "emergency.acknowledged", time.monotonic() + 15)
    assert [e["data"]["id"] for e in heard] == [emergency_id]
