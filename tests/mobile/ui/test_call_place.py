"""The call on the tablet, under Xvfb against a real Daphne: a tablet started with a position
reports it to dispatch by itself, and the assignment screen draws the call and the unit on the
pilot area's outline with the distance and a Navigate button."""

from __future__ import annotations

import requests

from tests.mobile.ui.finger import Finger
from tests.mobile.ui.test_tablet_app import (  # noqa: F401 - the markers skip without a display
    Desk,
    TabletApp,
    pytestmark,
)

# Occidental Park: about 140 m from the demo call at 2nd Ave & Yesler Way.
OCCIDENTAL_PARK = "47.6005,-122.3325"


def test_the_assignment_shows_the_call_from_the_units_reported_position(served_system, tmp_path):
    url = served_system.start_daphne()
    desk = Desk(url)
    app = TabletApp(url, tmp_path / "care", "--position", OCCIDENTAL_PARK)
    try:
        app.sign_in("care1")
        app.press("sign_in")
        app.set_pin()

        def reported() -> dict | None:
            units = desk.call("GET", "/api/v1/units", "dispatcher")
            care = next(u for u in units if u["call_sign"] == "CARE-1")
            return care["position"]

        position = app.wait_for("the tablet's position on the server", reported)
        assert (position["latitude"], position["longitude"]) == (47.6005, -122.3325)
        # The officer's side of the API never sees it.
        officer = {"Authorization": desk.headers["care2"]["Authorization"]}
        units = requests.get(f"{url}/api/v1/units", headers=officer, timeout=10).json()
        assert all(u["position"] is None for u in units)

        care, _ = desk.dispatch()
        app.wait_for("the new assignment", lambda: app.shows(f"ack-{care}"))
        app.press(f"ack-{care}")
        app.wait_for("the call map", lambda: app.shows("call-map"))
        app.wait_for(
            "the call and unit drawn", lambda: app.read("call-map")["text"] == "area,call,unit"
        )
        distance = app.read("call-distance")["text"]
        assert distance.endswith(" m from you"), distance
        assert 100 <= int(distance.split()[0]) <= 200
        assert not app.read("navigate")["disabled"]
        app.assert_fits("the assignment with its map")
        app.screenshot("assignment-map")
    finally:
        app.stop()


def test_navigate_on_a_tablet_with_no_maps_app_says_where_the_call_is(served_system, tmp_path):
    url = served_system.start_daphne()
    desk = Desk(url)
    # A tablet with no maps app: nothing on its PATH takes the hand-off, and no browser named.
    app = TabletApp(
        url,
        tmp_path / "care",
        "--position",
        OCCIDENTAL_PARK,
        env={"BROWSER": "", "PATH": str(tmp_path)},
    )
    finger = Finger(app)
    try:
        app.sign_in("care1")
        app.press("sign_in")
        app.set_pin()
        care, _ = desk.dispatch()
        app.wait_for("the new assignment", lambda: app.shows(f"ack-{care}"))
        finger.tap(f"ack-{care}")
        app.wait_for("the call map", lambda: app.shows("navigate"))
        app.wait_for("Navigate offered", lambda: not app.read("navigate")["disabled"])
        address = app.read("assignment-address")["text"]
        finger.tap("navigate")
        app.wait_for("a word", lambda: app.read("app-message")["text"])
        said = app.read("app-message")["text"]
        assert said == f"No maps app on this tablet: the call is at {address}.", said
    finally:
        app.stop()
