"""The tablet tapped by position, as a finger does, under Xvfb against a real Daphne server.

The test hook only says where a control is drawn; the taps are touches at those window
coordinates after a person's delay, delivered through Kivy's input provider (a ScrollView holds
a tap back 0.2 s, as on a device). Two things are proved:

- the scripted encounter (naloxone with its response, two services, a referral with consent, a
  disposition) takes at most 12 taps plus a search word, in portrait and in landscape, and reaches
  the server as aimed; an Undo takes a choice back as one more synced, audited correction;
- a second tap at the same spot 150 ms after the first (on Kivy's clock) does what the first
  screen offered there or nothing, never a different record, on every screen, at font scales
  1.0 and 1.3.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.mobile.ui.finger import Finger
from tests.mobile.ui.network import Link
from tests.mobile.ui.test_tablet_app import PIN, ROOT, Desk, TabletApp, pytestmark  # noqa: F401

SCRIPTED_TAPS_AT_MOST = 12
PORTRAIT, LANDSCAPE = "800x1280", "1280x800"


def signed_in(url: str, home, *options: str) -> tuple[TabletApp, Finger]:
    app = TabletApp(url, home, *options)
    app.sign_in("care1")
    app.press("sign_in")
    app.set_pin()
    app.wait_for("online", lambda: "Online" in app.read("sync-status")["text"])
    return app, Finger(app)


def drained(app: TabletApp) -> None:
    app.wait_for(
        "the queue drained",
        lambda: app.read("sync-status")["text"].startswith("Online · 0 queued"),
        timeout=60,
    )


AUDIT = """
import json
from server.audit.models import AuditEntry
print(json.dumps([[e.action, e.before, e.after] for e in
      AuditEntry.objects.filter(object_id={object_id!r}).order_by("at", "id")], default=str))
"""


def audit_trail(served_system, object_id: str) -> list:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", AUDIT.format(object_id=object_id)],
        cwd=ROOT,
        env=served_system.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE])
def test_the_scripted_encounter_tapped_by_position_takes_at_most_12_taps(
    served_system, tmp_path, size
):
    url = served_system.start_daphne()
    desk = Desk(url)
    app, finger = signed_in(url, tmp_path / "care", "--size", size)
    try:
        care, _ = desk.dispatch()
        app.wait_for("the new assignment", lambda: app.shows(f"ack-{care}"))
        finger.tap(f"ack-{care}")
        finger.tap("to-en_route")
        finger.tap("to-on_scene")
        protocol = desk.call("GET", "/api/v1/protocol", "care2")
        first, second = (s["code"] for s in protocol["services"][:2])
        disposition = protocol["dispositions"][0]
        entry = desk.call("GET", "/api/v1/directory/services", "care2")[0]

        finger.taps = finger.scrolls = 0
        finger.tap("open-encounter")
        finger.tap("naloxone")
        finger.tap("response-improved")
        finger.tap(f"service-{first}")
        finger.tap(f"service-{second}")
        app.type("referral-search", entry["name"][:6])
        app.wait_for("the directory match", lambda: app.shows(f"referral-{entry['id']}"))
        finger.tap(f"referral-{entry['id']}")
        finger.tap("referral-consent")
        finger.tap("refer")
        finger.tap(f"disposition-{disposition['code']}")
        taps, scrolls = finger.taps, finger.scrolls
        print(f"\nscripted encounter, {size}: {taps} taps and {scrolls} scrolls, plus a word")
        assert taps <= SCRIPTED_TAPS_AT_MOST
        assert app.read("undo")["text"] == f"Undo: Disposition: {disposition['label']}"
        assert disposition["label"] in app.read("app-message")["text"]

        drained(app)
        snapshot = desk.call("GET", "/api/v1/sync/snapshot", "care2")
        (encounter,) = [e for e in snapshot["encounters"] if e["assignment"] == care]
        mine = {
            kind: [r for r in snapshot[kind] if str(r["encounter"]) == str(encounter["id"])]
            for kind in ("naloxones", "services", "referrals")
        }
        (dose,) = mine["naloxones"]
        # Nobody chose a dose or a route: the record says not yet recorded, never 4 mg.
        assert (dose["response"], dose["dose_mg"], dose["route"]) == ("improved", None, None)
        assert sorted(s["service"] for s in mine["services"]) == sorted([first, second])
        (referral,) = mine["referrals"]
        assert (str(referral["service"]), referral["consent"]) == (str(entry["id"]), True)
        assert encounter["disposition"] == disposition["code"]
    finally:
        app.stop()


def test_an_undo_and_a_taken_back_queued_change_reach_the_server_as_audited_corrections(
    served_system, tmp_path
):
    url = served_system.start_daphne()
    desk = Desk(url)
    link = Link(int(url.rsplit(":", 1)[1]))
    app, finger = signed_in(link.url, tmp_path / "care", "--size", PORTRAIT)
    try:
        care, _ = desk.dispatch()
        app.wait_for("the new assignment", lambda: app.shows(f"ack-{care}"))
        for control in (f"ack-{care}", "to-en_route", "to-on_scene", "open-encounter"):
            finger.tap(control)
        finger.tap("naloxone")
        finger.tap("response-improved")
        finger.tap("response-worse")  # aimed at "unchanged" and missed: take it back
        assert app.read("app-message")["text"] == "Dose 1 of 1, response: worse"
        finger.tap("undo")
        assert app.read("response-improved")["state"] == "down"
        assert "Undone" in app.read("app-message")["text"]
        drained(app)

        # Offline, a disposition chosen by mistake is taken back from the sync screen's queue.
        protocol = desk.call("GET", "/api/v1/protocol", "care2")
        link.cut()
        finger.tap(f"disposition-{protocol['dispositions'][0]['code']}")
        finger.tap("open-sync")
        (back,) = [i for i in app.ask(op="state")["ids"] if i.startswith("take-back-")]
        finger.tap(back)
        said = app.read("app-message")["text"]
        assert said.startswith(f"Taken back: Disposition {protocol['dispositions'][0]['label']}")
        link.restore()
        finger.tap("sync-now")
        drained(app)

        snapshot = desk.call("GET", "/api/v1/sync/snapshot", "care2")
        (encounter,) = [e for e in snapshot["encounters"] if e["assignment"] == care]
        assert encounter["disposition"] in (None, "")
        (dose,) = [n for n in snapshot["naloxones"] if str(n["encounter"]) == encounter["id"]]
        assert dose["response"] == "improved"
        trail = audit_trail(served_system, str(dose["id"]))
        responses = [after["response"] for action, _, after in trail if action.endswith("updated")]
        assert responses == ["improved", "worse", "improved"]  # never a silent delete
        edits = [a for a, _, _ in audit_trail(served_system, str(encounter["id"]))]
        assert edits.count("encounter.updated") >= 2  # the disposition, then taking it back
    finally:
        app.stop()
        link.close()


@pytest.mark.parametrize("font_scale", ["1.0", "1.3"])
def test_a_second_tap_at_the_same_spot_never_lands_on_a_different_record(
    served_system, tmp_path, font_scale
):
    url = served_system.start_daphne()
    desk = Desk(url)
    app = TabletApp(url, tmp_path / "care", "--size", PORTRAIT, "--font-scale", font_scale)
    finger = Finger(app)
    try:
        # Sign-in and PIN screens.
        app.sign_in("care1")
        finger.double_tap("sign_in")
        app.wait_for("the PIN screen", lambda: app.shows("pin-again"))
        app.type("pin", PIN)
        app.type("pin-again", PIN)
        finger.double_tap("pin-submit")
        app.wait_for("the inbox", lambda: app.ask(op="state")["screen"] == "inbox")
        app.wait_for("online", lambda: "Online" in app.read("sync-status")["text"])

        # Inbox, then the assignment: each status button, and Cleared's confirmation.
        care, _ = desk.dispatch()
        app.wait_for("the new assignment", lambda: app.shows(f"ack-{care}"))
        finger.double_tap(f"ack-{care}")
        assert app.ask(op="state")["screen"] == "assignment"
        for to in ("en_route", "on_scene"):
            app.wait_for(f"{to} offered", lambda to=to: app.offers(f"to-{to}"))
            finger.double_tap(f"to-{to}")
        assert desk.call("GET", f"/api/v1/assignments/{care}", "care2")  # still reachable
        finger.double_tap("to-cleared")  # opens the confirmation; the second tap is ignored
        assert app.shows("confirm-yes")
        finger.tap("confirm-no")
        app.wait_for("the confirmation closed", lambda: not app.shows("confirm-yes"))

        # The encounter: naloxone and its details, services, disposition, referral consent.
        finger.double_tap("open-encounter")
        app.wait_for("the encounter", lambda: app.ask(op="state")["screen"] == "encounter")
        protocol = desk.call("GET", "/api/v1/protocol", "care2")
        first, second = (s["code"] for s in protocol["services"][:2])
        for control in (
            "naloxone",
            "response-unchanged",
            "route-intramuscular",
            f"service-{first}",
            f"service-{second}",
            f"disposition-{protocol['dispositions'][1]['code']}",
            "referral-consent",
            "save-notes",
        ):
            finger.double_tap(control)
            if control == "naloxone":  # the second tap asks before counting a second dose
                app.wait_for("the second-dose question", lambda: app.shows("confirm-yes"))
                finger.tap("confirm-no")
                app.wait_for("the question closed", lambda: not app.shows("confirm-yes"))
        assert app.read("naloxone-log")["text"].startswith("Naloxone: 1 dose,")

        # The survey, handed over and answered, then the sync screen.
        finger.double_tap("open-survey")
        app.wait_for("the survey", lambda: app.shows("survey-consent"))
        key = protocol["survey_questions"][0]["key"]
        finger.double_tap(f"survey-{key}-4")
        finger.double_tap("survey-consent")  # a toggle tapped twice is off again: as aimed
        if app.read("survey-consent")["state"] != "down":
            finger.tap("survey-consent")
        finger.double_tap("survey-submit")
        app.wait_for("back on the encounter", lambda: app.shows("naloxone"))
        finger.double_tap("open-sync")
        finger.double_tap("sync-now")
        finger.double_tap("open-inbox")

        # What the server holds is what was aimed at, once per record tapped.
        drained(app)
        snapshot = desk.call("GET", "/api/v1/sync/snapshot", "care2")
        (encounter,) = [e for e in snapshot["encounters"] if e["assignment"] == care]
        services = [s["service"] for s in snapshot["services"] if s["encounter"] == encounter["id"]]
        assert sorted(services) == sorted([first, second])
        assert encounter["disposition"] == protocol["dispositions"][1]["code"]
        status = desk.call("GET", f"/api/v1/assignments/{care}", "care2")["status"]
        assert status == "on_scene"  # never cleared by a stray tap
    finally:
        app.stop()
