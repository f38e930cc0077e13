"""The dispatch map in Chromium on a real Daphne: a click places a call and screens it, a tablet's
position moves its unit's marker without a reload, and a unit not heard from for 2 minutes dims."""

from __future__ import annotations

import datetime
import re

import requests

from tests.browser.conftest import screenshot, sign_in

DOWNTOWN = (47.6107, -122.3396)
# About 600 m north-east of 3rd & Pine, still downtown.
NORTH_EAST = (47.6150, -122.3350)


def tablet(site: str, username: str) -> dict:
    token = requests.post(
        f"{site}/api/v1/auth/token",
        json={"username": username, "password": "care-demo", "device_name": f"{username}-tab"},
        timeout=10,
    ).json()["token"]
    return {"Authorization": f"Token {token}"}


def report(site: str, auth: dict, where: tuple[float, float], ago_seconds: float) -> None:
    me = requests.get(f"{site}/api/v1/me", headers=auth, timeout=10).json()
    at = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=ago_seconds)
    answer = requests.post(
        f"{site}/api/v1/units/{me['unit']['id']}/position",
        json={
            "latitude": where[0],
            "longitude": where[1],
            "accuracy_m": 10,
            "recorded_at": at.isoformat(),
        },
        headers=auth,
        timeout=10,
    )
    assert answer.status_code == 202, answer.text


def open_board(page, site: str) -> None:
    sign_in(page, site, "dispatcher")
    page.wait_for_selector("body[data-live='yes']", timeout=15000)
    page.wait_for_selector("#map[data-layers='loaded'][data-state='loaded']", timeout=15000)


def test_clicking_the_map_sets_the_new_calls_coordinates_and_screens_them(served_system, page):
    site = served_system.start_daphne()
    open_board(page, site)
    assert page.get_by_label("Latitude").input_value() == ""
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#pin-screening[data-in-pilot]", timeout=15000)
    latitude = float(page.get_by_label("Latitude").input_value())
    longitude = float(page.get_by_label("Longitude").input_value())
    # The map opens on the pilot area, all of it in Seattle.
    assert 47.4 < latitude < 47.8 and -122.5 < longitude < -122.2
    shown = page.locator("#pin-screening").inner_text()
    beat = page.locator("#pin-screening").get_attribute("data-beat")
    assert "pilot area" in shown

    page.get_by_label("CAD number").fill("MAP-1")
    page.get_by_label("Address", exact=True).fill("Placed on the map")
    page.get_by_role("button", name="Screen the call").click()
    page.wait_for_url(re.compile(r".*/dispatch/calls/.*"))
    assert f"beat {beat or '?'}" in page.locator("dl").inner_text()


def test_moving_the_pin_on_a_call_relocates_it_and_screens_it_again(served_system, page):
    site = served_system.start_daphne()
    open_board(page, site)
    page.get_by_label("CAD number").fill("MAP-2")
    page.get_by_label("Address", exact=True).fill("23rd Ave & E Union St")
    page.get_by_label("Latitude").fill("47.6131")
    page.get_by_label("Longitude").fill("-122.3020")
    page.get_by_role("button", name="Screen the call").click()
    page.wait_for_url(re.compile(r".*/dispatch/calls/.*"))
    assert "outside the CARE pilot area" in page.locator("#reasons").inner_text()

    page.wait_for_selector("#map[data-layers='loaded']", timeout=15000)
    page.get_by_label("Latitude").fill(str(DOWNTOWN[0]))
    page.get_by_label("Longitude").fill(str(DOWNTOWN[1]))
    page.get_by_label("Longitude").dispatch_event("change")
    page.wait_for_selector("#pin-screening[data-in-pilot='yes']", timeout=15000)
    # Now a click a little east of the pin moves it, and the screening follows.
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "parseFloat(document.getElementById('l-lon').value) > -122.3396", timeout=15000
    )
    page.wait_for_selector("#pin-screening[data-beat]", timeout=15000)
    page.get_by_role("button", name="Set the location and screen again").click()
    page.wait_for_load_state()
    assert "outside the CARE pilot area" not in page.locator("#reasons").inner_text()
    assert "DOWNTOWN" in page.locator("dl").inner_text().upper()
    screenshot(page, "dispatch-call-map")


def test_a_tablets_position_moves_its_unit_marker_live(served_system, page):
    site = served_system.start_daphne()
    care1 = tablet(site, "care1")
    report(site, care1, DOWNTOWN, ago_seconds=60)
    open_board(page, site)
    marker = page.locator(".unit-icon[data-unit='CARE-1']")
    marker.wait_for(timeout=15000)
    before = marker.bounding_box()
    assert marker.get_attribute("data-stale") == "no"

    report(site, care1, NORTH_EAST, ago_seconds=0)
    page.wait_for_function(
        """([x, y]) => {
            const r = document.querySelector(".unit-icon[data-unit='CARE-1']")
                .getBoundingClientRect();
            return Math.abs(r.x - x) > 2 || Math.abs(r.y - y) > 2;
        }""",
        arg=[before["x"], before["y"]],
        timeout=15000,
    )
    after = marker.bounding_box()
    assert after["y"] < before["y"]  # north is up
    assert after["x"] > before["x"]  # east is right
    assert page.evaluate("document.getElementById('map').dataset.positions") == "1"
    screenshot(page, "dispatch-map")


def test_a_unit_not_heard_from_for_two_minutes_is_dimmed_with_its_age_on_hover(served_system, page):
    site = served_system.start_daphne()
    report(site, tablet(site, "care1"), DOWNTOWN, ago_seconds=150)
    report(site, tablet(site, "officer1"), NORTH_EAST, ago_seconds=5)
    open_board(page, site)
    stale = page.locator(".unit-icon[data-unit='CARE-1']")
    fresh = page.locator(".unit-icon[data-unit='2M12']")
    stale.wait_for(timeout=15000)
    assert stale.get_attribute("data-stale") == "yes"
    assert fresh.get_attribute("data-stale") == "no"
    assert page.locator(".unit-marker.unit-stale .unit-icon[data-unit='CARE-1']").count() == 1
    assert page.locator(".unit-marker.unit-stale .unit-icon[data-unit='2M12']").count() == 0
    stale.hover()
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for(timeout=5000)
    assert re.search(r"CARE-1 .* position (1[45]\d s|[23] min) old", tooltip.inner_text())
