"""The real tablet app under Xvfb against a real Daphne server, driven by stable widget ids.

A CARE responder signs in, receives a dispatch live, acknowledges, goes en route and on scene;
the officer on the call marks the scene safe and the app's banner turns green; with the network
cut the responder logs naloxone, two services, a referral and a disposition; with it restored,
the server holds each record exactly once. Every screen is saved as a screenshot in the test's
temporary folder, or in the folder named by CARE_SCREENSHOTS (`make screenshots` refreshes
docs/screenshots/ that way; a test run never rewrites tracked files).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.test_daphne_serves_the_demo import CALL, sign_in
from tests.mobile.ui.network import Link

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [
    pytest.mark.kivy,
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("kivy") is None,
        reason="Kivy is not installed (pip install -e '.[tablet]')",
    ),
    pytest.mark.skipif(
        not os.environ.get("DISPLAY") and shutil.which("xvfb-run") is None,
        reason="No display: set DISPLAY or install xvfb (apt-get install xvfb)",
    ),
]


PIN = "482913"


class TabletApp:
    """`python -m mobile` in its own process, under Xvfb, answering its test hook."""

    def __init__(self, server_url: str, home: Path, *options: str, env: dict | None = None):
        home.mkdir(parents=True, exist_ok=True)
        wanted = os.environ.get("CARE_SCREENSHOTS")
        self.screenshots = Path(wanted) if wanted else home.parent / "screenshots"
        self.port: int | None = None
        self.port_file = home / "driver.port"
        self.port_file.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "tests.mobile.ui.with_finger",
            "--server",
            server_url,
            "--store",
            str(home / "tablet.sqlite3"),
            "--driver-port",
            "0",  # the app binds a free port itself and says which in the file
            "--driver-port-file",
            str(self.port_file),
            *options,
        ]
        if not os.environ.get("DISPLAY"):
            # Square, so one screen holds a landscape (1280×800) or a portrait (800×1280) tablet.
            command = ["xvfb-run", "-a", "-s", "-screen 0 1280x1280x24", *command]
        self.log = home / "tablet.log"
        env = {
            **os.environ,
            "KIVY_HOME": str(home / "kivy"),
            "KIVY_NO_CONSOLELOG": "1",
            **(env or {}),
        }
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.stream = self._connect()

    def _connect(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited:\n{self.log.read_text()}")
            try:
                self.port = int(self.port_file.read_text())
                return socket.create_connection(("127.0.0.1", self.port), timeout=30).makefile("rw")
            except (OSError, ValueError):
                time.sleep(0.2)
        raise RuntimeError("the app's test hook did not open within 60 s")

    def ask(self, **command) -> dict:
        self.stream.write(json.dumps(command) + "\n")
        self.stream.flush()
        answer = json.loads(self.stream.readline())
        assert "error" not in answer, answer["error"]
        return answer

    def press(self, stable_id: str) -> None:
        self.ask(op="press", id=stable_id)

    def type(self, stable_id: str, text: str) -> None:
        self.ask(op="type", id=stable_id, text=text)

    def read(self, stable_id: str) -> dict:
        return self.ask(op="read", id=stable_id)

    def wait_for(self, what: str, check, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.2)
        on_screen = self.ask(op="state")
        said = {
            i: self.read(i)["text"]
            for i in ("app-message", "signin-message", "sync-status")
            if i in on_screen["ids"]
        }
        raise AssertionError(
            f"{what}: not within {timeout:.0f} s; the app shows {on_screen}, {said}"
        )

    def assert_fits(self, where: str) -> None:
        """Touch targets ≥ 48 dp, inside the window and apart, no text cut, on the screen shown
        now. A screen redrawn by a change that just arrived is laid out on the next frames, so a
        problem counts only if it is still there after 2 s."""
        deadline = time.monotonic() + 2
        while True:
            time.sleep(0.2)
            problems = self.ask(op="layout")["problems"]
            if not problems or time.monotonic() > deadline:
                break
        assert not problems, f"{where}: {problems}"

    def texts(self) -> str:
        return "\n".join(self.ask(op="texts")["texts"])

    def shows(self, stable_id: str) -> bool:
        return stable_id in self.ask(op="state")["ids"]

    def offers(self, stable_id: str) -> bool:
        """On screen and taking taps (status buttons are always there, enabled or not)."""
        return self.shows(stable_id) and not self.read(stable_id)["disabled"]

    def sign_in(self, username: str) -> None:
        """The server URL is filled in from --server; the password is the demo's."""
        self.wait_for("the sign-in screen", lambda: self.shows("sign_in"))
        self.type("username", username)
        self.type("password", "care-demo")
        self.type("device_name", f"{username}-tablet-under-test")

    def set_pin(self, pin: str = PIN, *, check_layout: bool = False) -> None:
        """First sign-in on this tablet: choose the PIN, then the inbox opens."""
        self.wait_for("the PIN screen", lambda: self.shows("pin-again"))
        if check_layout:
            self.assert_fits("the PIN screen")
        self.type("pin", pin)
        self.type("pin-again", pin)
        self.press("pin-submit")
        self.wait_for("the inbox", lambda: self.ask(op="state")["screen"] == "inbox")

    def screenshot(self, name: str) -> None:
        # Each command runs on the UI thread between frames: two round trips mean the frame
        # after the last change (and one after any trigger it fired) has been drawn.
        self.ask(op="state")
        self.ask(op="state")
        self.screenshots.mkdir(parents=True, exist_ok=True)
        self.ask(op="screenshot", path=str(self.screenshots / f"tablet-{name}.png"))

    def stop(self) -> None:
        try:
            self.ask(op="quit")
            self.process.wait(timeout=15)
        except Exception:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=15)


class Desk:
    """The dispatcher and the officer on the call, through the HTTP API."""

    def __init__(self, url: str):
        self.url = url
        self.headers = {
            who: {"Authorization": f"Token {sign_in(url, who)['token']}"}
            for who in ("dispatcher", "care2")
        }

    def call(self, method: str, path: str, who: str, body: dict | None = None):
        answer = requests.request(
            method, self.url + path, json=body, headers=self.headers[who], timeout=10
        )
        assert answer.status_code < 300, answer.text
        return answer.json()

    def dispatch(self, spd: str = "2M12", **call) -> tuple[str, str]:
        """A call (the demo's, or with `call`'s changes, e.g. another CAD number) dispatched to
        CARE-1 and `spd`: their assignments' ids."""
        units = {u["call_sign"]: u["id"] for u in self.call("GET", "/api/v1/units", "dispatcher")}
        incident = self.call("POST", "/api/v1/incidents", "dispatcher", {**CALL, **call})
        made = self.call(
            "POST",
            f"/api/v1/incidents/{incident['id']}/dispatch",
            "dispatcher",
            {"care_unit": units["CARE-1"], "spd_unit": units[spd]},
        )
        by_unit = {a["unit"]: a["id"] for a in made["assignments"]}
        return by_unit[units["CARE-1"]], by_unit[units[spd]]


PORTRAIT, FONT_SCALE = "800x1280", "1.3"


@pytest.fixture
def system(served_system, tmp_path):
    url = served_system.start_daphne()
    # The CARE tablet reaches the server through a link the test can cut; the officer's directly.
    # The CARE tablet stands in portrait with larger text; the officer's is landscape.
    link = Link(int(url.rsplit(":", 1)[1]))
    # Its speaker is a file (SDL's disk audio driver), so the test hears the new-call sound.
    speaker = {"SDL_AUDIODRIVER": "disk", "SDL_DISKAUDIOFILE": str(tmp_path / "speaker.raw")}
    care = TabletApp(
        link.url, tmp_path / "care", "--size", PORTRAIT, "--font-scale", FONT_SCALE, env=speaker
    )
    officer = TabletApp(url, tmp_path / "officer")
    yield care, officer, link, Desk(url), tmp_path
    for app in (care, officer):
        app.stop()
    link.close()


def heard(speaker: Path) -> bool:
    """Anything but silence written to the disk audio driver's file."""
    return speaker.exists() and speaker.read_bytes().strip(b"\x00") != b""


def officer_store(home: Path) -> tuple[int, list[str], list[str]]:
    """What the officer's tablet keeps: record rows, its assignments' copies, outbox types."""
    uri = f"file:{home / 'officer' / 'tablet.sqlite3'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        records = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        copies = [
            text
            for row in db.execute("SELECT data, server FROM assignments")
            for text in row
            if text
        ]
        types = [row[0] for row in db.execute("SELECT type FROM outbox")]
    return records, copies, types


def test_a_care_responder_works_a_call_on_the_tablet_through_a_network_cut(system):
    app, officer, link, desk, home = system
    layout = app.ask(op="layout")
    assert (layout["window"], layout["fontscale"]) == ([800, 1280], float(FONT_SCALE))

    app.sign_in("care1")
    app.assert_fits("sign-in, portrait")
    app.screenshot("signin")
    app.press("sign_in")
    officer.sign_in("officer1")
    officer.assert_fits("sign-in, landscape")
    officer.press("sign_in")
    for tablet in (app, officer):
        tablet.set_pin(check_layout=True)
        tablet.wait_for("online", lambda t=tablet: "Online" in t.read("sync-status")["text"])

    # A dispatch made through the API arrives live, with the officer's unit and its state;
    # it rings (sound and vibration hook) once.
    assert not heard(home / "speaker.raw")
    care, spd = desk.dispatch()
    app.wait_for("the new assignment", lambda: app.shows(f"ack-{care}"))
    alerts = app.ask(op="alerts")
    assert alerts["rung"] == [care] and alerts["last"]["sound"] == "played"
    app.wait_for("the sound on the speaker", lambda: heard(home / "speaker.raw"), timeout=5)
    app.assert_fits("the inbox")
    app.screenshot("inbox")
    app.press(f"ack-{care}")
    assert app.ask(op="state")["screen"] == "assignment"
    # One button per status a CARE responder may set, fixed: no cancel, no scene safe; the
    # current status highlighted and not tappable, the next one offered.
    app.wait_for("en route offered", lambda: app.offers("to-en_route"))
    state = app.ask(op="state")
    moves = [i for i in state["ids"] if i.startswith("to-")]
    assert sorted(moves) == ["to-acknowledged", "to-cleared", "to-en_route", "to-on_scene"]
    assert app.read("to-acknowledged")["disabled"] and app.read("to-cleared")["disabled"]
    app.press("to-en_route")
    app.wait_for("on scene offered", lambda: app.offers("to-on_scene"))
    app.press("to-on_scene")
    app.wait_for("clear offered", lambda: app.offers("to-cleared"))
    assert "Wait for scene safe" in app.read("scene-banner")["text"]
    # The encounter opens before scene safe, with the warning (the server flags that care).
    assert not app.read("open-encounter")["disabled"]
    assert "not marked safe" in app.read("encounter-warning")["text"]
    app.assert_fits("the assignment")
    app.screenshot("assignment-wait")
    # Clearing ends the unit's part: a confirmation naming the call, nothing recorded on "no".
    app.press("to-cleared")
    assert CALL["address"] in app.read("confirm-question")["text"]
    app.assert_fits("the confirmation to clear")
    app.screenshot("assignment-confirm-clear")
    app.press("confirm-no")
    app.wait_for("the confirmation closed", lambda: not app.shows("confirm-yes"))
    assert app.offers("to-cleared")

    # On the officer's tablet: the officer's moves; first the scene is unsafe, with a note.
    officer.wait_for("the officer's assignment", lambda: officer.shows(f"ack-{spd}"))
    alerts = officer.ask(op="alerts")
    # No audio device on the officer's (a test machine has none): the alert says so, carries on.
    assert alerts["rung"] == [spd] and alerts["last"]["sound"] in ("played", "no audio")
    officer.assert_fits("the officer's inbox")
    officer.press(f"ack-{spd}")
    for to in ("en_route", "on_scene"):
        officer.wait_for(f"{to} offered", lambda to=to: officer.offers(f"to-{to}"))
        officer.press(f"to-{to}")
    officer.wait_for("scene safe offered", lambda: officer.offers("to-scene_safe"))
    moves = {i for i in officer.ask(op="state")["ids"] if i.startswith("to-")}
    offered = {i for i in moves if not officer.read(i)["disabled"]}
    assert offered == {"to-scene_safe", "to-scene_unsafe", "to-cleared"}
    assert moves == offered | {"to-acknowledged", "to-en_route", "to-on_scene"}
    assert officer.read("open-encounter")["disabled"]  # no encounter for an officer
    officer.assert_fits("the officer's assignment")
    officer.screenshot("officer-assignment")
    officer.press("to-scene_unsafe")  # no note: refused on the tablet, nothing recorded
    assert "note" in officer.read("app-message")["text"]
    unsafe_note = "Man with a knife in the doorway; stay back until backup arrives."
    officer.type("transition-note", unsafe_note)
    officer.press("to-scene_unsafe")
    app.wait_for("the red banner", lambda: "Scene unsafe" in app.read("scene-banner")["text"])
    assert unsafe_note in app.read("scene-banner")["text"]  # CARE reads the officer's why
    assert app.read("partner")["text"] == "2M12 marked the scene unsafe."
    assert "marked the scene unsafe" in app.read("encounter-warning")["text"]
    app.screenshot("assignment-unsafe")
    history = desk.call("GET", f"/api/v1/assignments/{spd}", "dispatcher")["transitions"]
    assert [(t["to"], t["note"]) for t in history if t["to"] == "scene_unsafe"] == [
        ("scene_unsafe", unsafe_note)
    ]

    # Then safe: the CARE banner turns green.
    officer.wait_for("scene safe offered again", lambda: officer.offers("to-scene_safe"))
    officer.press("to-scene_safe")
    app.wait_for(
        "the green banner",
        lambda: (
            app.read("scene-banner")["text"].startswith("Scene safe")
            and "Wait" not in app.read("scene-banner")["text"]
        ),
    )
    assert not app.read("open-encounter")["disabled"]
    assert app.read("encounter-warning")["text"] == ""
    assert app.read("partner")["text"].startswith("2M12 marked the scene safe at ")
    app.screenshot("assignment-safe")
    app.wait_for(
        "every status change on the server",
        lambda: app.read("sync-status")["text"].startswith("Online · 0 queued"),
    )

    protocol = desk.call("GET", "/api/v1/protocol", "care2")
    (first, first_label), (second, second_label) = (
        (s["code"], s["label"]) for s in protocol["services"][:2]
    )
    disposition = protocol["dispositions"][0]
    entry = desk.call("GET", "/api/v1/directory/services", "care2")[0]

    # The scripted encounter, with the network cut. Taps are counted by the app's test hook.
    link.cut()
    taps_before = app.ask(op="taps")["taps"]
    app.press("open-encounter")
    app.wait_for("the encounter", lambda: app.shows("naloxone"))
    app.press("naloxone")
    app.press(f"service-{first}")
    app.press(f"service-{second}")
    app.type("referral-search", entry["name"][:6])
    app.wait_for("the directory match", lambda: app.shows(f"referral-{entry['id']}"))
    app.press(f"referral-{entry['id']}")
    app.press("referral-consent")
    app.press("refer")
    app.press(f"disposition-{disposition['code']}")
    taps = app.ask(op="taps")["taps"] - taps_before
    assert app.read("naloxone-log")["text"].startswith("Naloxone: 1 dose,")
    # The same dose tapped again a moment later: the tablet asks first, and "no" counts nothing.
    app.press("naloxone")
    app.wait_for("the second-dose question", lambda: app.shows("confirm-yes"))
    assert "Record another dose?" in app.read("confirm-question")["text"]
    app.press("confirm-no")
    app.wait_for("the question closed", lambda: not app.shows("confirm-yes"))
    assert app.read("naloxone-log")["text"].startswith("Naloxone: 1 dose,")
    # Corrections after the fact, not part of the scripted taps: the response, the dose in mg
    # (a dose over the protocol's maximum is refused on the tablet), the referral's next step.
    app.press("response-improved")
    assert app.read("app-message")["text"] == "Dose 1 of 1, response: improved"
    assert not app.read("undo")["disabled"]
    app.screenshot("encounter-undo")
    app.type("dose-mg", "20")
    app.press("save-dose")
    assert "at most 16 mg" in app.read("app-message")["text"]
    app.type("dose-mg", "2")
    app.press("save-dose")
    app.wait_for("the corrected dose", lambda: app.read("dose-mg")["text"] == "2")
    contacted = next(i for i in app.ask(op="state")["ids"] if i.startswith("referral-contacted-"))
    app.press(contacted)
    app.wait_for("the referral contacted", lambda: "contacted" in app.read("referral-log")["text"])
    notes = "Talked through shelter options; she wants a call back tomorrow."
    app.type("notes", notes)
    app.press("save-notes")
    # The person takes the survey on the tablet (their taps, not the responder's).
    app.press("open-survey")
    app.wait_for("the survey", lambda: app.shows("survey-consent"))
    for n, question in enumerate(protocol["survey_questions"]):
        app.press(f"survey-{question['key']}-{5 - n % 2}")
    app.assert_fits("the survey")
    app.screenshot("survey")
    app.press("survey-consent")
    app.press("survey-submit")
    assert app.ask(op="state")["screen"] == "encounter"
    assert entry["name"] in app.read("referral-log")["text"]
    app.assert_fits("the encounter")
    app.screenshot("encounter")
    app.wait_for("offline shown", lambda: "Offline" in app.read("sync-status")["text"])
    app.press("open-sync")
    app.wait_for("the sync screen", lambda: app.shows("sync-now"))
    app.assert_fits("the sync screen, offline")
    app.screenshot("sync-offline")
    print(f"\nscripted encounter: {taps} taps (plus typing a search word)")
    assert taps <= 12

    # Network back: everything reaches the server, each record exactly once.
    link.restore()
    app.press("sync-now")
    app.wait_for(
        "the queue drained",
        lambda: app.read("sync-status")["text"].startswith("Online · 0 queued"),
        timeout=60,
    )
    app.screenshot("sync")
    snapshot = desk.call("GET", "/api/v1/sync/snapshot", "care2")
    encounters = [e for e in snapshot["encounters"] if e["assignment"] == care]
    assert len(encounters) == 1
    encounter = encounters[0]
    assert (encounter["disposition"], encounter["notes"]) == (disposition["code"], notes)

    def mine(kind: str) -> list[dict]:
        return [r for r in snapshot[kind] if str(r["encounter"]) == str(encounter["id"])]

    (dose,) = mine("naloxones")
    # The route was never chosen: it stays not yet recorded, never assumed.
    assert (dose["response"], dose["route"], dose["dose_mg"]) == ("improved", None, "2.00")
    assert sorted(s["service"] for s in mine("services")) == sorted([first, second])
    assert len(mine("surveys")) == 1
    referrals = mine("referrals")
    assert len(referrals) == 1
    assert str(referrals[0]["service"]) == str(entry["id"]) and referrals[0]["consent"] is True
    assert referrals[0]["status"] == "contacted"
    # The feed came back after the cut and replayed what the tablet missed: no second ring.
    assert app.ask(op="alerts")["rung"] == [care]

    # The officer on the same call sees none of it: not on any screen, not in the tablet's store.
    clinical = [
        notes,
        entry["name"],
        first_label,
        second_label,
        disposition["label"],
        "naloxone",
        "referr",
        "dose",
    ]
    officer.press("open-sync")
    officer.press("sync-now")
    officer.wait_for(
        "the officer's tablet synced",
        lambda: officer.read("sync-status")["text"].startswith("Online · 0 queued"),
    )
    officer.assert_fits("the officer's sync screen")
    seen = officer.texts()
    officer.press("open-inbox")
    seen += officer.texts()
    officer.press(f"open-{spd}")
    officer.wait_for("the officer's assignment", lambda: officer.shows("to-cleared"))
    seen += officer.texts()
    assert "CARE-1" in seen  # the partner unit and its state are shown...
    for word in clinical:  # ...and nothing of the encounter
        assert word.lower() not in seen.lower(), word
    records, copies, outbox = officer_store(home)
    assert records == 0
    assert all(t == "assignment.transition" for t in outbox)
    kept = json.dumps([json.loads(c) for c in copies]).lower()
    for word in [*clinical, "encounter", "disposition", "services", "consent"]:
        assert word.lower() not in kept, word


def test_a_signed_in_tablet_reopens_to_its_pin_quickly_and_small(served_system, tmp_path):
    """Cold start of a remembered device until it takes input, and resident memory, under Xvfb."""
    url = served_system.start_daphne()
    first = TabletApp(url, tmp_path / "care")
    try:
        first.sign_in("care1")
        first.press("sign_in")
        first.set_pin()
    finally:
        first.stop()

    again = TabletApp(url, tmp_path / "care")
    try:
        # No password: the device is remembered; its PIN opens the inbox.
        again.wait_for("the PIN prompt", lambda: again.ask(op="startup")["ready_seconds"])
        assert again.ask(op="state")["screen"] == "lock"
        figures = again.ask(op="startup")
        again.type("pin", PIN)
        again.press("pin-submit")
        again.wait_for("the inbox", lambda: again.ask(op="state")["screen"] == "inbox")
        figures["resident_mb"] = again.ask(op="startup")["resident_mb"]
    finally:
        again.stop()
    print(
        f"\ncold start to the PIN prompt {figures['ready_seconds']:.2f} s, "
        f"resident {figures['resident_mb']:.0f} MB with the inbox open"
    )
    # Measured, not judged: the goals (3 s, 200 MB) and the figures are in docs/benchmarks.md.
    assert figures["ready_seconds"] > 0 and figures["resident_mb"] > 0


REVOKE = """
from server.accounts.models import Device
from server.accounts.services import revoke_device
device = Device.objects.get(name="care1-tablet-under-test", revoked_at__isnull=True)
revoke_device(actor=device.user, device=device, reason="Tablet reported lost.")
"""


def test_a_revoked_tablet_says_so_wipes_itself_and_returns_to_sign_in(served_system, tmp_path):
    url = served_system.start_daphne()
    app = TabletApp(url, tmp_path / "care")
    try:
        app.sign_in("care1")
        app.press("sign_in")
        app.set_pin()
        app.wait_for("online", lambda: "Online" in app.read("sync-status")["text"])
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", REVOKE],
            cwd=ROOT,
            env=served_system.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        # The socket closes with 4403 at once over Redis; on the in-memory layer the next sync's
        # 401 (within the engine's 15 s interval) asks the feed, which hears 4403.
        app.wait_for("the sign-in screen", lambda: app.shows("sign_in"), timeout=45)
        assert "revoked" in app.read("app-message")["text"]
        app.assert_fits("sign-in after a wipe, landscape")
    finally:
        app.stop()
    with sqlite3.connect(tmp_path / "care" / "tablet.sqlite3") as db:
        for table in ("settings", "assignments", "records", "outbox", "cursors"):
            assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table


def test_the_tablet_locks_when_idle_and_only_its_pin_opens_it(served_system, tmp_path):
    url = served_system.start_daphne()
    app = TabletApp(url, tmp_path / "care", "--lock-minutes", "0.05")  # 3 s idle, for the test
    try:
        app.sign_in("care1")
        app.press("sign_in")
        app.wait_for("the PIN screen", lambda: app.shows("pin-again"))
        app.type("pin", "1234")
        app.type("pin-again", "1234")
        app.press("pin-submit")
        assert "at least 6 digits" in app.read("pin-message")["text"]
        app.set_pin()
        app.press("open-sync")

        app.wait_for("the lock", lambda: app.ask(op="state")["screen"] == "lock", timeout=15)
        assert app.read("pin-again")["disabled"]  # unlocking, not choosing a PIN
        app.press("open-inbox")  # the bar can't get past the lock
        assert app.ask(op="state")["screen"] == "lock"
        app.assert_fits("the lock, landscape")
        app.screenshot("lock")
        app.type("pin", "000000")
        app.press("pin-submit")
        assert app.read("pin-message")["text"] == "That PIN is not right."
        app.type("pin", PIN)
        app.press("pin-submit")
        assert app.ask(op="state")["screen"] == "sync"  # back where the responder was
    finally:
        app.stop()
