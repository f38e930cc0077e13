"""The finger, from the test's side: aims at a control where it is drawn now, waits as a person
does (100–700 ms, drawn from a seeded random generator so a run can be repeated), and touches
the glass there through the app's input provider (`tests/mobile/ui/hook.py`).

What was under the finger when it aimed and what took the touch come back together, so a test
can say "what was recorded is what was aimed at, or nothing".
"""

from __future__ import annotations

import os
import random

FASTEST, SLOWEST = 0.1, 0.7  # seconds between seeing a control and touching it
SEED = int(os.environ.get("CARE_FINGER_SEED", "2024"))


class Finger:
    """Taps a control where it is drawn; counts the taps and the scrolls."""

    def __init__(self, app, seed: int = SEED):
        self.app = app
        self.random = random.Random(seed)
        self.taps = 0
        self.scrolls = 0
        self.retries: list[dict] = []  # the touches that took nothing, tapped again

    def delay(self) -> float:
        return self.random.uniform(FASTEST, SLOWEST)

    def aim(self, stable_id: str) -> tuple[float, float]:
        """Where to touch: a person waits for the control to light up (enabled) and for a
        closing sheet to go, scrolls it into view if it is below the fold, and looks at where
        it is drawn."""

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
        return spot["x"], spot["y"]

    def touch(self, x: float, y: float, **options) -> dict:
        """A tap at window coordinates after a person's delay: what it aimed at, what took it."""
        self.taps += 1
        return self.app.ask(op="tap", x=x, y=y, delay=self.delay(), **options)

    def tap(self, stable_id: str) -> dict:
        """Tap a control; it must take the tap, at the latest when tapped again (a control that
        has only just moved says so and takes nothing: the person taps again, as they would)."""
        done = self.touch(*self.aim(stable_id))
        if not done["took"]:
            # Nothing happened (refused as just moved, or the touch was not taken): a person
            # looks again and taps again. Counted, so a test can see how often it happens.
            self.retries.append(done)
            done = self.touch(*self.aim(stable_id))
        assert done["took"] == [stable_id], done
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
