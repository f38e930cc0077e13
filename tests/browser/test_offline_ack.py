"""A call acknowledged on a tablet that was offline: the board first says, as it must, that no
acknowledgement arrived; once the tablet is back and pushes its queue, the row and the alert say
when the tablet recorded the acknowledgement ("acknowledged 14:03 on the tablet"), in the
program's time zone whatever the browser's — never "not acknowledged" for a call that was."""

from __future__ import annotations

import datetime
import uuid
from zoneinfo import ZoneInfo

import requests

from tests.browser.conftest import screenshot, sign_in
from tests.e2e.test_daphne_serves_the_demo import CALL
from tests.e2e.test_daphne_serves_the_demo import sign_in as token_for

BOARD_ZONE = ZoneInfo("America/Los_Angeles")  # the settings' TIME_ZONE in the test servers


def _api(site: str, who: str):
    auth = {"Authorization": f"Token {token_for(site, who)['token']}"}

    def call(method: str, path: str, body: dict | None = None):
        answer = requests.request(method, site + path, json=body, headers=auth, timeout=10)
        assert answer.status_code < 300, answer.text
        return answer.json()

    return call


def test_an_acknowledgement_pushed_after_the_overdue_alert_shows_the_tablet_s_time(
    served_system, page
):
    served_system.env["CARE_ACK_TIMEOUT_SECONDS"] = "2"
    site = served_system.start_daphne()
    sign_in(page, site, "dispatcher")
    page.wait_for_selector("body[data-live='yes']", timeout=15000)

    dispatcher, tablet = _api(site, "dispatcher"), _api(site, "care1")
    units = {u["call_sign"]: u["id"] for u in dispatcher("GET", "/api/v1/units")}
    incident = dispatcher("POST", "/api/v1/incidents", {**CALL, "cad_number": "OFFLINE-ACK-1"})
    made = dispatcher(
        "POST",
        f"/api/v1/incidents/{incident['id']}/dispatch",
        {"care_unit": units["CARE-1"], "spd_unit": units["2M12"]},
    )
    (care,) = [a for a in made["assignments"] if a["unit"] == units["CARE-1"]]
    # The tablet, offline, records the acknowledgement as the dispatch arrives.
    tapped = datetime.datetime.now(datetime.UTC)

    alert = page.locator(f"#alerts [data-overdue='{care['id']}']")
    alert.wait_for(timeout=30000)  # nothing reached the board: it says so
    assert "OFFLINE-ACK-1" in alert.inner_text() and "Call the unit" in alert.inner_text()
    in_row = f"#open-calls span.assignment[data-assignment='{care['id']}']"
    page.wait_for_selector(f"{in_row} .tag-overdue", timeout=15000)
    row = page.locator(in_row)
    assert "not acknowledged" in row.inner_text()

    # Back online, the tablet pushes its queue with the time it recorded.
    pushed = tablet(
        "POST",
        "/api/v1/sync/push",
        {
            "device_time": datetime.datetime.now(datetime.UTC).isoformat(),
            "mutations": [
                {
                    "id": str(uuid.uuid4()),
                    "type": "assignment.transition",
                    "entity_id": care["id"],
                    "occurred_at": tapped.isoformat(),
                    "data": {"to": "acknowledged"},
                }
            ],
        },
    )
    assert [r["status"] for r in pushed["results"]] == ["applied"]

    at = tapped.astimezone(BOARD_ZONE).strftime("%H:%M")
    page.wait_for_selector(f"#alerts [data-overdue='{care['id']}'].settled", timeout=15000)
    assert alert.inner_text() == (
        f"CARE-1 acknowledged OFFLINE-ACK-1 at {at} on the tablet (it reached the board later)."
    )
    page.wait_for_selector(f"span.assignment[data-assignment='{care['id']}'] .ack-on-tablet")
    assert "not acknowledged" not in row.inner_text()
    assert row.locator(".ack-on-tablet").inner_text() == f"acknowledged {at} on the tablet"
    screenshot(page, "dispatch-ack-from-the-tablet")


def test_a_call_acknowledged_in_time_shows_no_tablet_time_and_no_alert(served_system, page):
    site = served_system.start_daphne()
    sign_in(page, site, "dispatcher")
    page.wait_for_selector("body[data-live='yes']", timeout=15000)
    dispatcher, tablet = _api(site, "dispatcher"), _api(site, "care1")
    units = {u["call_sign"]: u["id"] for u in dispatcher("GET", "/api/v1/units")}
    incident = dispatcher("POST", "/api/v1/incidents", {**CALL, "cad_number": "ON-TIME-1"})
    made = dispatcher(
        "POST",
        f"/api/v1/incidents/{incident['id']}/dispatch",
        {"care_unit": units["CARE-1"], "spd_unit": units["2M12"]},
    )
    (care,) = [a for a in made["assignments"] if a["unit"] == units["CARE-1"]]
    tablet("POST", f"/api/v1/assignments/{care['id']}/transitions", {"to": "acknowledged"})
    row = f"#open-calls span.assignment[data-assignment='{care['id']}']"
    page.wait_for_selector(f"{row}[data-status='acknowledged']", timeout=15000)
    assert page.locator(f"{row} .ack-on-tablet").count() == 0
    assert page.locator("#alerts [data-overdue]").count() == 0
