"""The finger, from the test's side: aims at a control where it is drawn now, waits as a person
does (100–700 ms, drawn from a seeded random generator so a run can be repeated), and touches
the glass there through the app's input provider (`tests/mobile/ui/hook.py`).

What was under the finger when it aimed and what took the touch come back together, so a test
can say "what was recorded is what was aimed at, or nothing".

A touch the app did not take is reported, never tapped again: "a control that just appeared
ignores touches" is exactly what this driver exists to find, and a silent second tap would hide
it. A person looks before they tap: `aim` waits until the control is enabled, uncovered and has
stood still for the app's tap-guard period, read from the guard itself (`op: guard`, see
`tests/mobile/ui/with_finger.py`), so a tap on a control that has just appeared is aimed once
the app would take it, and a refusal after that is a finding.
"""

from __future__ import annotations

import os
import random

FASTEST, SLOWEST = 0.1, 0.7  # seconds between seeing a control and touching it
SEED = int(os.environ.get("CARE_FINGER_SEED", "2024"))


class UntakenTouch(AssertionError):
    """A tap aimed at a control that stood still the whole guard period, which did not take it."""

    def __init__(self, stable_id: str, done: dict):
        refused = done.get("refused") or []
        why = (
            f"the tap guard refused it ({', '.join(refused)})"
            if refused
            else f"what took it: {done.get('took') or 'nothing'}"
        )
        super().__init__(
            f"a tap aimed at {stable_id!r} was not taken: {why}; under the finger when it "
            f"aimed: {done.get('hit')!r}, when it landed: {done.get('landed_on')!r} ({done})"
        )
        self.stable_id = stable_id
        self.done = done


class Finger:
    """Taps a control where it is drawn; counts the taps and the scrolls."""

    def __init__(self, app, seed: int = SEED):
        self.app = app
        self.random = random.Random(seed)
        self.taps = 0
        self.scrolls = 0

    def delay(self) -> float:
        return self.random.uniform(FASTEST, SLOWEST)

    def still(self, stable_id: str) -> bool:
        """The app's tap guard would take a touch on the control now: it stood where it is
        drawn, with the words it shows, for the guard's whole period, and the guard has seen it
        there (a control the guard has not looked at since it changed is not still yet)."""
        guard = self.app.ask(op="guard", id=stable_id)
        return guard["seen_as_drawn"] and guard["allows"]

    def aim(self, stable_id: str) -> tuple[float, float]:
        """Where to touch: a person waits for the control to light up (enabled), for a closing
        sheet to go and for the screen to settle, scrolls it into view if it is below the fold,
        and looks at where it is drawn."""

        def ready() -> bool:
            spot = self.app.ask(op="where", id=stable_id)
            return not spot["disabled"] and (spot["hit"] == stable_id or spot["scrolled"])

        self.app.wait_for(f"{stable_id} enabled and uncovered", ready)
        spot = first = self.app.ask(op="where", id=stable_id)
        if spot["hit"] != stable_id:  # below the fold: the responder scrolls (not a tap)
            self.app.ask(op="reveal", id=stable_id)
            self.scrolls += 1
            spot = self.app.ask(op="where", id=stable_id)
        assert spot["hit"] == stable_id, f"{stable_id} is covered: {first} then {spot}"
        self.app.wait_for(
            f"{stable_id} still for the tap guard's period", lambda: self.still(stable_id)
        )
        spot = self.app.ask(op="where", id=stable_id)
        assert spot["hit"] == stable_id, f"{stable_id} moved while settling: {spot}"
        return spot["x"], spot["y"]

    def touch(self, x: float, y: float, **options) -> dict:
        """A tap at window coordinates after a person's delay: what it aimed at, what took it."""
        self.taps += 1
        return self.app.ask(op="tap", x=x, y=y, delay=self.delay(), **options)

    def tap(self, stable_id: str) -> dict:
        """Tap a control once; it must take the tap. Not taken, the test fails with what
        happened (`UntakenTouch`): no second try hides a control that ignored a finger."""
        done = self.touch(*self.aim(stable_id))
        if done["took"] != [stable_id]:
            raise UntakenTouch(stable_id, done)
        return done

    def double_tap(self, stable_id: str, gap: float = 0.15) -> dict:
        """Tap, then the same spot again `gap` seconds later: the second is the same control or
        nothing."""
        x, y = self.aim(stable_id)
        done = self.touch(x, y, gap=gap)
        assert done["hit"] == stable_id
        assert done["took"] in ([stable_id], [stable_id, stable_id]), done
        return done

    def hold(self, stable_id: str, **options) -> dict:
        x, y = self.aim(stable_id)
        self.taps += 1
        return self.app.ask(op="hold", x=x, y=y, **options)
