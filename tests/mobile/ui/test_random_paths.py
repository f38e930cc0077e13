"""Random paths through the whole tablet, by position: a seeded person taps whatever control is
on screen (inbox, assignment, encounter, naloxone, referral, survey, safety bar, dialogs), each
after a person's delay, and after every touch the test checks that what took the touch is what
was under the finger when it aimed, or nothing; that what was queued is what that control
records (the service under the finger, the disposition under it...); and that nothing was
recorded when nothing took it.

The person is drawn to the parts of the tablet they have touched least (a part seldom touched
weighs more, and its controls share that weight), and to a control that would ask first (a
second dose within the minute, Refer with a service picked and no consent), so every screen and
every kind of control is reached on every run, the survey and the dialogs included; the walk
checks that it was.

300 touches by default (CI); `CARE_FINGER_TOUCHES=3000` walks longer, and `CARE_FINGER_SEED`
another path. Most of a touch's time is the person's: the drawn 100–700 ms delay is the
finger's travel, during which the screen may still change (that is what is tested), so it is
waited on Kivy's clock, not skipped; then the app settles (0.3 s at least, and until the lift
is dispatched).
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter

import pytest

from mobile.client.recorder import REPEAT_DOSE_SECONDS
from tests.mobile.ui.finger import SEED, Finger
from tests.mobile.ui.test_field_checks import on_scene
from tests.mobile.ui.test_tablet_app import Desk, pytestmark  # noqa: F401
from tests.mobile.ui.test_taps_by_position import PORTRAIT, signed_in

TOUCHES = int(os.environ.get("CARE_FINGER_TOUCHES", "300"))
# Held, not tapped (its own tests hold it); Navigate hands over to a maps app (its own test);
# clearing the call and signing the unit off end the walk's call, and each has its own field
# check (they ask first: the walk reaches that dialog through the second dose and the referral
# without consent instead).
NOT_TAPPED = {"emergency", "navigate", "to-cleared", "sign-on"}
SAFETY_BAR = {
    "shift-and-status",
    "duty-available",
    "duty-on-break",
    "duty-out-of-service",
    "units",
    "shift-vehicle",
    "check-in-ok",
    "open-sync",
}
# Every part the walk must reach: the screens it stood on and the kinds of control it touched.
SCREENS = {"inbox", "assignment", "encounter", "survey"}
# The dialogs: a second dose within a minute and a referral without consent ask first.
PARTS = {"naloxone", "referral", "safety bar", "survey", "dialog"}
CARE = ("encounter.", "service.", "naloxone.", "referral.", "survey.")
# A referral's next step ("referral-contacted-<id>"), not the directory's pick ("referral-<id>").
REFERRAL_MOVES = tuple(
    f"referral-{status}-"
    for status in ("contacted", "connected", "unable_to_reach", "declined", "closed")
)
# A directory entry picked for a referral ("referral-<id>", not "referral-consent" or a move).
PICKED = re.compile(r"referral-([0-9a-f]{8}-[0-9a-f-]{27}|[0-9]+)$")
# What a touch on each control may queue; any other control queues no care record.
UNDOING = {
    "service.remove",
    "naloxone.remove",
    "service.create",
    "naloxone.update",
    "encounter.upsert",
    "referral.update",
    "referral.create",
}


def part(control: str, screen: str, touched: Counter) -> str:
    """The part of the tablet a control belongs to, as the walk counts coverage."""
    if control in ("confirm-yes", "confirm-no"):
        return "dialog"
    if control in SAFETY_BAR:
        return "safety bar"
    if control in ("naloxone", "dose-mg", "save-dose") or control.startswith(
        ("route-", "response-")
    ):
        return "naloxone"
    if control == "refer" or control.startswith("referral"):
        return "referral"
    if control == "open-survey" or screen == "survey":
        return "survey"
    if control in ("open-inbox", "back-to-inbox"):
        return "inbox"
    if control in ("back-to-assignment", "back-to-call") or (
        control.startswith("open-") and control != "open-encounter"
    ):
        return "assignment"
    if control == "open-encounter":
        return "encounter"
    return screen


def leads_to(control: str, screen: str, touched: Counter, asks: set[str]) -> str:
    """The part a touch on `control` leads to, which is what draws the person to it: a second
    dose within a minute and a referral without consent ask first (a dialog)."""
    if control in asks:
        return "dialog"
    return part(control, screen, touched)


def asking_controls(app, choices: list[dict], last_dose: float | None) -> set[str]:
    """The controls on screen whose touch now would ask first: "Naloxone given now" within the
    minute after a dose (`REPEAT_DOSE_SECONDS`, less a margin for the finger's travel), and Refer
    with a service picked and no consent given (read from the screen as drawn)."""
    ids = {t["id"] for t in choices}
    asks = set()
    recent = last_dose is not None and time.monotonic() - last_dose < REPEAT_DOSE_SECONDS - 10
    if "naloxone" in ids and recent:
        asks.add("naloxone")
    if "refer" in ids and app.read("referral-consent")["state"] != "down":
        picked = [i for i in app.ask(op="state")["ids"] if PICKED.match(i)]
        if any(app.read(i)["state"] == "down" for i in picked):
            asks.add("refer")
    return asks


def queued_as_aimed(control: str, queued: list[dict]) -> bool:
    """What the touch queued is what `control` records, and only that."""
    care = [m for m in queued if m["type"].startswith(CARE)]
    if not queued:
        return True
    types = {m["type"] for m in queued}
    if control.startswith("service-"):
        code = control.removeprefix("service-")
        return [(m["type"], m["data"].get("service")) for m in queued] == [("service.create", code)]
    if control.startswith("disposition-"):
        code = control.removeprefix("disposition-")
        return [(m["type"], m["data"].get("disposition")) for m in queued] == [
            ("encounter.upsert", code)
        ]
    if control.startswith(("route-", "response-")):
        field, choice = control.split("-", 1)
        return [(m["type"], m["data"]) for m in queued] == [("naloxone.update", {field: choice})]
    if control.startswith("to-") or control.startswith("ack-"):
        wanted = "acknowledged" if control.startswith("ack-") else control.removeprefix("to-")
        return [(m["type"], m["data"].get("to")) for m in queued] == [
            ("assignment.transition", wanted)
        ]
    if control.startswith(REFERRAL_MOVES):
        return types == {"referral.update"}
    allowed = {
        "naloxone": {"naloxone.create"},
        "confirm-yes": {"naloxone.create", "referral.create"},
        "refer": {"referral.create"},
        "save-dose": {"naloxone.update"},
        "save-notes": {"encounter.upsert"},
        "survey-submit": {"survey.create"},
        "open-encounter": {"encounter.upsert"},
        "undo": UNDOING,
    }
    if control.startswith("take-back-"):
        return types <= UNDOING
    if control in allowed:
        return types <= allowed[control]
    return not care  # a control that records no care (the safety bar's) queued none


# A person's pace is 0.4–1 s a touch (the drawn delay, then the app settles); on a loaded CI
# machine nearer 2 s. A guard against a hang that grows with the walk asked for.
@pytest.mark.timeout(max(600, 4 * TOUCHES))
def test_random_paths_record_only_what_was_under_the_finger_when_it_aimed(served_system, tmp_path):
    url = served_system.start_daphne()
    desk = Desk(url)
    app, finger = signed_in(url, tmp_path / "care", "--size", PORTRAIT)
    try:
        on_scene(app, finger, desk)
        finger.tap("open-encounter")
        walker = Finger(app, seed=SEED)
        seen_screens, touched, took_any, last_dose = set(), Counter(), 0, None
        last_seq = app.ask(op="mutations")["last_seq"]
        started = time.monotonic()
        for step in range(TOUCHES):
            shown = app.ask(op="targets")
            screen = shown["screen"]
            seen_screens.add(screen)
            choices = [t for t in shown["targets"] if t["id"] not in NOT_TAPPED]
            assert choices, f"step {step}: a screen with nothing to tap"
            # The parts touched least weigh most: every part is reached, none only once. A part's
            # controls share its weight, so a part with many (the safety bar's eight) is not
            # drawn eight times as often as a dialog reached through one.
            asks = asking_controls(app, choices, last_dose)
            parts = [leads_to(t["id"], screen, touched, asks) for t in choices]
            shown_of = Counter(parts)
            weights = [(1 + 12 / (1 + touched[p])) / shown_of[p] for p in parts]
            target = walker.random.choices(choices, weights)[0]
            if target["scrolled"]:  # below the fold: a swipe brings it into view
                app.ask(op="reveal", id=target["id"])
                target = app.ask(op="where", id=target["id"]) | {"id": target["id"]}
            done = walker.touch(target["x"], target["y"], settle=0.3)
            seen_screens.update((done["screen"], done["after"]))
            where = f"step {step}, aimed at {target['id']} on {done['screen']}: {done}"
            assert done["took"] in ([], [done["hit"]]), where
            outbox = app.ask(op="mutations", after_seq=last_seq)
            last_seq = outbox["last_seq"]
            queued = [
                m
                for m in outbox["after"]
                if m["type"] != "unit.position"  # the tablet's own place, on its own clock
            ]
            if done["took"]:
                touched[part(done["hit"], done["screen"], touched)] += 1
                if {"type": "naloxone.create"} in [{"type": m["type"]} for m in queued]:
                    last_dose = time.monotonic()
                assert queued_as_aimed(done["hit"], queued), f"{where}; queued {queued}"
            else:
                assert queued == [], f"{where}; queued {queued}"
            took_any += bool(done["took"])
        walked = time.monotonic() - started
        screens = ", ".join(sorted(seen_screens))
        parts = ", ".join(f"{name} {n}" for name, n in sorted(touched.items()))
        print(
            f"\n{TOUCHES} touches (seed {SEED}) in {walked:.0f} s: {took_any} taken; "
            f"screens: {screens}"
        )
        print(f"touches taken by part: {parts}")
        assert took_any > TOUCHES / 2  # the walk really worked the app, not a dead screen
        assert seen_screens >= SCREENS, seen_screens
        assert set(touched) >= PARTS, touched
    finally:
        app.stop()
