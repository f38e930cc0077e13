"""Random paths through the whole tablet, by position: a seeded person taps whatever control is
on screen (inbox, assignment, encounter, naloxone, referral, survey, safety bar, dialogs), each
after a person's delay, and after every touch the test checks that what took the touch is what
was under the finger when it aimed, or nothing, and that nothing was recorded when nothing took
it.

A few hundred touches by default (CI); `CARE_FINGER_TOUCHES=3000` walks longer, and
`CARE_FINGER_SEED` another path.
"""

from __future__ import annotations

import os

from tests.mobile.ui.finger import SEED, Finger
from tests.mobile.ui.test_field_checks import on_scene
from tests.mobile.ui.test_tablet_app import Desk, pytestmark  # noqa: F401
from tests.mobile.ui.test_taps_by_position import PORTRAIT, signed_in

TOUCHES = int(os.environ.get("CARE_FINGER_TOUCHES", "200"))
# Held, not tapped (its own tests hold it); and the lock's PIN pad has its own tests.
NOT_TAPPED = {"emergency"}


def test_random_paths_record_only_what_was_under_the_finger_when_it_aimed(served_system, tmp_path):
    url = served_system.start_daphne()
    desk = Desk(url)
    app, finger = signed_in(url, tmp_path / "care", "--size", PORTRAIT)
    try:
        on_scene(app, finger, desk)
        finger.tap("open-encounter")
        walker = Finger(app, seed=SEED)
        seen_screens, took_any = set(), 0
        for step in range(TOUCHES):
            choices = [t for t in app.ask(op="targets")["targets"] if t["id"] not in NOT_TAPPED]
            assert choices, f"step {step}: a screen with nothing to tap"
            target = walker.random.choice(choices)
            if target["scrolled"]:  # below the fold: a swipe brings it into view
                app.ask(op="reveal", id=target["id"])
                target = app.ask(op="where", id=target["id"]) | {"id": target["id"]}
            before = app.ask(op="mutations")["count"]
            done = walker.touch(target["x"], target["y"], settle=0.3)
            seen_screens.add(done["screen"])
            where = f"step {step}, aimed at {target['id']} on {done['screen']}: {done}"
            assert done["took"] in ([], [done["hit"]]), where
            if not done["took"]:
                assert app.ask(op="mutations")["count"] == before, where
            took_any += bool(done["took"])
        screens = ", ".join(sorted(seen_screens))
        print(f"\n{TOUCHES} touches (seed {SEED}): {took_any} taken; screens: {screens}")
        assert took_any > TOUCHES / 2  # the walk really worked the app, not a dead screen
    finally:
        app.stop()
