"""Issue 24's field checks, as a new CARE responder met them: the tablet in portrait under Xvfb,
tapped by position with a person's delay (tests/mobile/ui/finger.py), against a real Daphne.

Each test is one thing that went wrong under a real finger: what it now does is asserted from
what the server holds and what the screen says, never from the code's own bookkeeping.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.mobile.ui.finger import Finger
from tests.mobile.ui.network import Link
from tests.mobile.ui.test_emergency_hold import AT_REST, OPEN, held_on_the_tablet, on_the_server
from tests.mobile.ui.test_tablet_app import PIN, ROOT, Desk, TabletApp, pytestmark  # noqa: F401
from tests.mobile.ui.test_taps_by_position import PORTRAIT, audit_trail, drained, signed_in

ENDED = """
import json
from server.dispatch.models import Emergency
print(json.dumps([str(e.id) for e in Emergency.objects.filter(ended_at__isnull=False)]))
"""


def ended_on_the_server(served_system) -> list[str]:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", ENDED],
        cwd=ROOT,
        env=served_system.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def on_scene(app: TabletApp, finger: Finger, desk: Desk, **call) -> str:
    """A call dispatched to CARE-1, acknowledged, en route and on scene, tapped by position."""
    care, _ = desk.dispatch(**call)
    app.wait_for("the new assignment", lambda: app.shows(f"ack-{care}"))
    finger.tap(f"ack-{care}")
    for to in ("en_route", "on_scene"):
        app.wait_for(f"{to} offered", lambda to=to: app.offers(f"to-{to}"))
        finger.tap(f"to-{to}")
    return care


def held_encounter(desk: Desk, care: str) -> tuple[dict, dict]:
    snapshot = desk.call("GET", "/api/v1/sync/snapshot", "care2")
    (encounter,) = [e for e in snapshot["encounters"] if e["assignment"] == care]
    return encounter, snapshot


def test_a_second_tap_on_refer_half_a_second_later_never_records_a_disposition(
    served_system, tmp_path
):
    url = served_system.start_daphne()
    desk = Desk(url)
    app, finger = signed_in(url, tmp_path / "care", "--size", PORTRAIT)
    try:
        care = on_scene(app, finger, desk)
        finger.tap("open-encounter")
        entry = desk.call("GET", "/api/v1/directory/services", "care2")[0]
        app.type("referral-search", entry["name"][:6])
        app.wait_for("the directory match", lambda: app.shows(f"referral-{entry['id']}"))
        finger.tap(f"referral-{entry['id']}")
        finger.tap("referral-consent")
        x, y = finger.aim("refer")
        done = finger.touch(x, y, gap=0.5)
        # The first tap made the referral; the second, wherever it landed, recorded nothing else.
        assert done["took"] in (["refer"], ["refer", "refer"]), done
        drained(app)
        encounter, snapshot = held_encounter(desk, care)
        assert encounter["disposition"] in (None, "")
        mine = [r for r in snapshot["referrals"] if str(r["encounter"]) == str(encounter["id"])]
        assert [str(r["service"]) for r in mine] == [str(entry["id"])]
    finally:
        app.stop()


SIGN_CARE1_OFF = (
    "from django.utils import timezone; "
    "from server.accounts.models import User; "
    "from server.dispatch.models import Shift; "
    "Shift.objects.filter(user__username='care1').update(ended_at=timezone.now()); "
    "User.objects.filter(username='care1').update(unit=None)"
)


def test_the_shift_button_reads_sign_off_once_signed_on_and_signing_off_asks_first(
    served_system, tmp_path
):
    # The demo signs its crews on; this responder starts the day off duty (still rostered).
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SIGN_CARE1_OFF],
        cwd=ROOT, env=served_system.env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    url = served_system.start_daphne()
    app, finger = signed_in(url, tmp_path / "care", "--size", PORTRAIT)
    try:
        before = [app.ask(op="box", id=i) for i in ("undo", "open-sync")]
        finger.tap("shift-and-status")
        # The shift rows open over the screen: nothing under them moved.
        assert [app.ask(op="box", id=i) for i in ("undo", "open-sync")] == before
        app.wait_for("the units loaded", lambda: app.offers("units"))
        finger.tap("units")
        app.wait_for("the unit list open", lambda: app.shows("unit-CARE-1"))
        option = app.ask(op="box", id="unit-CARE-1")
        assert min(option["width"], option["height"]) >= 48, option  # a fingertip's size
        finger.tap("unit-CARE-1")
        assert app.read("sign-on")["text"] == "Sign on"
        app.screenshot("shift-rows")
        finger.tap("sign-on")
        app.wait_for("signed on", lambda: app.read("sign-on")["text"] == "Sign off")
        assert "Signed on to CARE-1" in app.read("app-message")["text"]
        finger.tap("shift-and-status")
        finger.tap("sign-on")  # signing off asks first: "no" leaves the unit on duty
        app.wait_for("the question", lambda: app.shows("confirm-no"))
        assert "CARE-1" in app.read("confirm-question")["text"]
        finger.tap("confirm-no")
        app.wait_for("the question closed", lambda: not app.shows("confirm-no"))
        assert app.read("sign-on")["text"] == "Sign off"
        assert "off duty" not in app.read("app-message")["text"]
    finally:
        app.stop()


def test_a_response_tapped_200_ms_after_the_dose_is_recorded_with_the_dose_it_edits(
    served_system, tmp_path
):
    url = served_system.start_daphne()
    desk = Desk(url)
    app, finger = signed_in(url, tmp_path / "care", "--size", PORTRAIT)
    try:
        care = on_scene(app, finger, desk)
        finger.tap("open-encounter")
        x, y = finger.aim("naloxone")
        finger.touch(x, y)
        x, y = finger.aim("response-worse")
        done = app.ask(op="tap", x=x, y=y, delay=0.2)  # straight after: the row was already there
        assert done["took"] == ["response-worse"], done
        assert "dose 1" in app.read("naloxone-detail")["text"].lower()
        drained(app)
        encounter, snapshot = held_encounter(desk, care)
        (dose,) = [n for n in snapshot["naloxones"] if str(n["encounter"]) == encounter["id"]]
        assert dose["response"] == "worse"
        # The summary reads the time the server keeps, never "last at never".
        app.wait_for("the synced summary", lambda: "never" not in app.read("naloxone-log")["text"])
        assert app.read("naloxone-log")["text"].startswith("Naloxone: 1 dose, last at ")
    finally:
        app.stop()


def test_naloxone_given_now_has_its_own_undo_naming_the_dose_which_takes_it_off_the_server(
    served_system, tmp_path
):
    url = served_system.start_daphne()
    desk = Desk(url)
    app, finger = signed_in(url, tmp_path / "care", "--size", PORTRAIT)
    try:
        care = on_scene(app, finger, desk)
        finger.tap("open-encounter")
        finger.tap("naloxone")
        app.wait_for("the dose's Undo", lambda: app.offers("undo"))
        assert app.read("undo")["text"] == "Undo: Naloxone given, Dose 1 of 1"
        drained(app)
        encounter, snapshot = held_encounter(desk, care)
        (dose,) = [n for n in snapshot["naloxones"] if str(n["encounter"]) == encounter["id"]]
        finger.tap("undo")
        assert app.read("app-message")["text"].startswith("Undone: Naloxone given, Dose 1 of 1")
        assert app.read("naloxone-log")["text"] == "Naloxone: none given yet."
        drained(app)
        _, snapshot = held_encounter(desk, care)
        assert [n["id"] for n in snapshot["naloxones"] if n["id"] == dose["id"]] == []
        # Taken off, not forgotten: the audit keeps the dose as it was.
        trail = audit_trail(served_system, dose["id"])
        assert [action for action, _, _ in trail][-1] == "naloxone.removed", trail
        assert trail[-1][1], trail
    finally:
        app.stop()


def test_the_emergency_button_sends_over_an_open_dialog_and_a_wrong_pin_is_said_and_cleared(
    served_system, tmp_path
):
    url = served_system.start_daphne()
    desk = Desk(url)
    app, finger = signed_in(url, tmp_path / "care", "--size", PORTRAIT)
    try:
        on_scene(app, finger, desk)
        app.wait_for("clear offered", lambda: app.offers("to-cleared"))
        finger.tap("to-cleared")
        app.wait_for("the question", lambda: app.shows("confirm-yes"))
        assert on_the_server(served_system)["emergencies"] == []
        still = ("open-sync", "to-cleared", "back-to-inbox")
        before = [app.ask(op="box", id=i) for i in still]
        held = finger.hold("emergency")
        assert held["fired"], held
        app.wait_for(
            "the emergency on the server", lambda: on_the_server(served_system)["emergencies"]
        )
        assert app.shows("confirm-yes")  # the question is still there, unanswered
        app.screenshot("emergency-over-a-question")

        finger.tap("confirm-no")
        app.wait_for("the end row", lambda: app.offers("end-emergency"))
        # The End row opens over the screen: nothing under it moved.
        assert [app.ask(op="box", id=i) for i in still] == before
        app.type("emergency-pin", "000000")
        finger.tap("end-emergency")
        said = app.read("app-message")["text"]
        assert "PIN is not right" in said
        assert app.read("emergency-pin")["text"] == ""
        # Errors stay until acted on: a refresh of the screen does not take it away.
        app.ask(op="refresh")
        assert app.read("app-message")["text"] == said

        # A second hold while it is open alerts everyone again to the same one.
        assert app.read("emergency")["text"] == OPEN
        assert finger.hold("emergency")["fired"]
        app.wait_for(
            "the re-alert",
            lambda: "alerted again" in app.read("emergency-status")["text"],
        )
        (only,) = on_the_server(served_system)["emergencies"]
        assert held_on_the_tablet(tmp_path / "care") == only[0]
        # The PIN ends exactly the open one; "ended" is said once, not kept for a restart.
        app.type("emergency-pin", PIN)
        finger.tap("end-emergency")
        app.wait_for("the end said", lambda: app.read("app-message")["text"] == "Emergency ended.")
        assert held_on_the_tablet(tmp_path / "care") is None
        assert app.read("emergency")["text"] == AT_REST
        drained(app)
        assert ended_on_the_server(served_system) == [only[0]]
    finally:
        app.stop()


def test_a_new_encounter_opens_at_its_top_wherever_the_last_one_was_scrolled(
    served_system, tmp_path
):
    url = served_system.start_daphne()
    desk = Desk(url)
    app, finger = signed_in(url, tmp_path / "care", "--size", PORTRAIT)
    try:
        first = on_scene(app, finger, desk)
        finger.tap("open-encounter")
        finger.aim("back-to-assignment")  # scrolled down to reach it
        assert app.ask(op="where", id="naloxone")["hit"] != "naloxone"
        finger.tap("back-to-assignment")
        app.wait_for("clear offered", lambda: app.offers("to-cleared"))
        finger.tap("to-cleared")
        app.wait_for("the question", lambda: app.shows("confirm-yes"))
        finger.tap("confirm-yes")
        app.wait_for("the call cleared", lambda: not app.offers("to-cleared"))
        finger.tap("open-inbox")
        second = on_scene(app, finger, desk, spd="2K21", cad_number="2026-E2E-0002")
        assert second != first
        finger.tap("open-encounter")
        assert app.ask(op="where", id="naloxone")["hit"] == "naloxone"
    finally:
        app.stop()


def test_a_referral_without_consent_is_asked_first_and_then_offered_for_undo(
    served_system, tmp_path
):
    url = served_system.start_daphne()
    desk = Desk(url)
    app, finger = signed_in(url, tmp_path / "care", "--size", PORTRAIT)
    try:
        care = on_scene(app, finger, desk)
        finger.tap("open-encounter")
        entry = desk.call("GET", "/api/v1/directory/services", "care2")[0]
        app.type("referral-search", entry["name"][:6])
        app.wait_for("the directory match", lambda: app.shows(f"referral-{entry['id']}"))
        finger.tap(f"referral-{entry['id']}")
        finger.tap("refer")
        app.wait_for("the question", lambda: app.shows("confirm-no"))
        assert "not consented" in app.read("confirm-question")["text"]
        app.screenshot("referral-without-consent-asks")
        finger.tap("confirm-no")
        app.wait_for("the question closed", lambda: not app.shows("confirm-no"))
        assert app.read("referral-log")["text"] == "No referral yet."
        finger.tap("refer")
        app.wait_for("the question", lambda: app.shows("confirm-yes"))
        finger.tap("confirm-yes")
        app.wait_for("the Undo", lambda: app.offers("undo"))
        said = app.read("undo")["text"]
        assert said == f"Undo: Referral to {entry['name']}, no consent", said
        drained(app)
        encounter, snapshot = held_encounter(desk, care)
        (referral,) = [r for r in snapshot["referrals"] if str(r["encounter"]) == encounter["id"]]
        assert referral["consent"] is False
    finally:
        app.stop()


def test_undo_names_what_it_takes_back_goes_when_something_else_is_recorded_and_not_on_the_survey(
    served_system, tmp_path
):
    url = served_system.start_daphne()
    desk = Desk(url)
    app, finger = signed_in(url, tmp_path / "care", "--size", PORTRAIT)
    try:
        on_scene(app, finger, desk)
        finger.tap("open-encounter")
        finger.tap("naloxone")
        # One tap records the time of the dose; nothing else is assumed, and the record says so.
        detail = app.read("naloxone-detail")["text"]
        assert detail.startswith("Dose 1 of 1 (given ")
        assert "dose: not yet recorded, route: not yet recorded" in detail
        finger.tap("response-improved")
        assert app.read("undo")["text"] == "Undo: Dose 1 of 1, response: improved"
        protocol = desk.call("GET", "/api/v1/protocol", "care2")
        first, second = protocol["services"][:2]
        finger.tap(f"service-{first['code']}")
        finger.tap(f"service-{second['code']}")
        # Each service has its own Undo, naming it: the last one is taken off, nothing older.
        assert app.read("undo")["text"] == f"Undo: service {second['label']}"
        finger.tap("undo")
        app.wait_for(
            "the service taken off",
            lambda: not app.read(f"service-{second['code']}")["disabled"],
        )
        assert app.read(f"service-{first['code']}")["disabled"]  # still logged
        assert app.read("response-improved")["state"] == "down"
        assert not app.offers("undo")
        finger.tap(f"disposition-{protocol['dispositions'][0]['code']}")
        assert app.offers("undo")
        finger.tap("open-survey")
        app.wait_for("the survey", lambda: app.shows("survey-consent"))
        assert not app.offers("undo")  # the person being helped holds the tablet
    finally:
        app.stop()


def test_a_newcomer_meets_no_dead_end_every_refusal_says_why_and_a_second_dose_is_named(
    served_system, tmp_path
):
    url = served_system.start_daphne()
    desk = Desk(url)
    link = Link(int(url.rsplit(":", 1)[1]))
    app = TabletApp(link.url, tmp_path / "care", "--size", PORTRAIT)
    finger = Finger(app)
    try:
        app.wait_for("the sign-in screen", lambda: app.shows("sign_in"))
        # Inbox and Sync before signing in: the tablet stays put and says why.
        for control, name in (("open-inbox", "inbox"), ("open-sync", "sync")):
            finger.tap(control)
            assert app.ask(op="state")["screen"] == "signin"
            said = app.read("app-message")["text"]
            assert said == f"Sign in first: the {name} opens once you are signed in.", said
        app.sign_in("care1")
        finger.tap("sign_in")
        app.set_pin()
        care, _ = desk.dispatch()
        app.wait_for("the new assignment", lambda: app.shows(f"ack-{care}"))
        finger.tap(f"ack-{care}")
        # Before on scene the encounter takes no tap, and the screen says why where it shows.
        assert app.read("open-encounter")["disabled"]
        assert app.read("encounter-warning")["text"].strip()
        # The sync screen has a way back to the call it was opened from.
        finger.tap("open-sync")
        app.wait_for("the sync screen", lambda: app.ask(op="state")["screen"] == "sync")
        assert app.read("back-to-call")["text"] == "Back to the call"
        # "Sync now" with the network cut says why nothing can go yet.
        link.cut()
        app.wait_for("offline", lambda: "Offline" in app.read("sync-status")["text"], timeout=60)
        finger.tap("sync-now")
        assert app.read("app-message")["text"].startswith("Trying now, but the tablet is offline")
        # Offline, the call's scene banner is what the tablet last knew, and when.
        finger.tap("back-to-call")
        app.wait_for("the call again", lambda: app.ask(op="state")["screen"] == "assignment")
        waiting = "Wait for scene safe: the officer has not marked the scene yet."
        banner = app.read("scene-banner")["text"]
        assert banner.startswith("Offline. Last known at ") and banner.endswith(waiting), banner
        link.restore()
        app.wait_for(
            "the banner a present fact again",
            lambda: app.read("scene-banner")["text"] == waiting,
            timeout=60,
        )
        for to in ("en_route", "on_scene"):
            app.wait_for(f"{to} offered", lambda to=to: app.offers(f"to-{to}"))
            finger.tap(f"to-{to}")
        finger.tap("open-encounter")
        finger.tap("naloxone")
        finger.tap("naloxone")  # within the minute: asked, never counted at once
        app.wait_for("the question", lambda: app.shows("confirm-yes"))
        assert app.read("naloxone-log")["text"].startswith("Naloxone: 1 dose,")
        finger.tap("confirm-yes")
        app.wait_for("the question closed", lambda: not app.shows("confirm-yes"))
        # The details say which dose they edit, and so does every Undo.
        assert app.read("naloxone-detail")["text"].startswith("Dose 2 of 2 (given ")
        assert app.read("undo")["text"] == "Undo: Naloxone given, Dose 2 of 2"
        finger.tap("route-intranasal")
        assert app.read("undo")["text"] == "Undo: Dose 2 of 2, route: intranasal"
    finally:
        app.stop()
        link.close()
