"""The roster on the tablet, tapped by position under Xvfb against a real Daphne: a responder
not on their team's roster today taps Shift, their unit, sees why they can't sign on and asks a
supervisor; the supervisor approves through the real API; the approval reaches the tablet on the
feed and the responder signs on. A rostered responder signs on directly, with nothing to ask."""

from __future__ import annotations

import subprocess
import sys

import requests

from tests.e2e.test_daphne_serves_the_demo import sign_in as token_for
from tests.mobile.ui.finger import Finger
from tests.mobile.ui.test_tablet_app import ROOT, TabletApp, pytestmark  # noqa: F401
from tests.mobile.ui.test_taps_by_position import PORTRAIT

# The demo rosters its crews for a year and signs them on; these start the day off duty, one of
# them taken off the roster too.
OFF_DUTY = (
    "from django.utils import timezone; "
    "from server.accounts.models import User; "
    "from server.dispatch.models import RosterEntry, Shift; "
    "Shift.objects.filter(user__username='{who}').update(ended_at=timezone.now()); "
    "User.objects.filter(username='{who}').update(unit=None); "
    "RosterEntry.objects.filter(user__username='{who}', cancelled_at__isnull=True)"
    ".update(cancelled_at=timezone.now() if {unrostered} else None)"
)


def start_the_day(served_system, who: str, *, rostered: bool) -> None:
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            OFF_DUTY.format(who=who, unrostered=not rostered),
        ],
        cwd=ROOT,
        env=served_system.env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def signed_in(url: str, home, who: str) -> tuple[TabletApp, Finger]:
    app = TabletApp(url, home, "--size", PORTRAIT)
    app.sign_in(who)
    app.press("sign_in")
    app.set_pin()
    app.wait_for("online", lambda: "Online" in app.read("sync-status")["text"])
    return app, Finger(app)


def as_admin(url: str):
    auth = {"Authorization": f"Token {token_for(url, 'admin')['token']}"}

    def call(method: str, path: str, body: dict | None = None):
        answer = requests.request(method, url + path, json=body, headers=auth, timeout=10)
        assert answer.status_code < 300, answer.text
        return answer.json()

    return call


def open_unit(app, finger, call_sign: str) -> None:
    """Shift, the unit list, the unit: as a responder picks it."""
    finger.tap("shift-and-status")
    app.wait_for("the units loaded", lambda: app.read("units")["text"] == "Unit…")
    finger.tap("units")
    app.wait_for("the unit list open", lambda: app.shows(f"unit-{call_sign}"))
    finger.tap(f"unit-{call_sign}")


def test_a_responder_not_rostered_asks_a_supervisor_and_signs_on_once_approved(
    served_system, tmp_path
):
    start_the_day(served_system, "care3", rostered=False)
    url = served_system.start_daphne()
    admin = as_admin(url)
    app, finger = signed_in(url, tmp_path / "care3", "care3")
    try:
        open_unit(app, finger, "CARE-2")
        assert app.read("roster-status")["text"] == (
            "You are not on CARE-2's roster today: ask a supervisor to approve."
        )
        assert not app.shows("sign-on")  # the button offers the ask instead
        app.screenshot("shift-not-rostered")
        finger.tap("ask-supervisor")
        app.wait_for(
            "the ask waiting",
            lambda: app.read("roster-status")["text"].startswith("Asked — waiting"),
        )
        assert app.read("ask-supervisor")["disabled"]  # asked once; nothing more to tap

        (request,) = admin("GET", "/api/v1/sign-on-requests?status=pending")
        assert (request["username"], request["call_sign"]) == ("care3", "CARE-2")
        admin("POST", f"/api/v1/sign-on-requests/{request['id']}/decide", {"approve": True})

        # The approval arrives on the feed: the same button now signs on.
        app.wait_for("the approval", lambda: app.shows("sign-on"))
        assert app.read("roster-status")["text"].startswith("A supervisor approved you on CARE-2")
        finger.tap("sign-on")
        app.wait_for("signed on", lambda: "Signed on to CARE-2" in app.read("app-message")["text"])
        units = {u["call_sign"]: u for u in admin("GET", "/api/v1/units")}
        assert "care3" in [p["username"] for p in units["CARE-2"]["signed_on"]]
    finally:
        app.stop()


def test_a_rostered_responder_signs_on_directly_with_nothing_to_ask(served_system, tmp_path):
    start_the_day(served_system, "care1", rostered=True)
    url = served_system.start_daphne()
    admin = as_admin(url)
    app, finger = signed_in(url, tmp_path / "care1", "care1")
    try:
        open_unit(app, finger, "CARE-1")
        assert app.read("roster-status")["text"] == "You are on CARE-1's roster today: sign on."
        assert not app.shows("ask-supervisor")
        finger.tap("sign-on")
        app.wait_for("signed on", lambda: "Signed on to CARE-1" in app.read("app-message")["text"])
        assert admin("GET", "/api/v1/sign-on-requests") == []
        units = {u["call_sign"]: u for u in admin("GET", "/api/v1/units")}
        assert "care1" in [p["username"] for p in units["CARE-1"]["signed_on"]]
    finally:
        app.stop()
