"""`python -m tests.mobile.ui.with_finger --driver-port 0 --driver-port-file F <app options>`:
the tablet app as `python -m mobile` opens it, plus the finger's test hook and input provider.

Beyond the hook's commands (`tests/mobile/ui/hook.py`), `guard {id}` reads the app's tap guard
for one control, changing nothing: whether it would take a touch now (`allows`), whether the
place and words it last saw are the ones drawn now (`seen_as_drawn`), and how long ago the
control last changed (`since`, seconds, or null if it never did) against the guard's `period`.

A tap is answered once the app has had it, not after a fixed time: `settle` seconds at least
(what the tap set off is laid out), and then until the finger's lift has been dispatched and no
widget still holds the touch (a ScrollView hands a tap on to its children up to 0.2 s after the
lift, on Kivy's clock, which a busy machine stretches), within `DELIVERY_SECONDS`. So "nothing
took it" means the app dropped the touch, never that the answer came early.
"""

from __future__ import annotations

import argparse

DELIVERY_SECONDS = 10.0  # only a guard against a hang


def finger_driver(app):
    """The hook's driver, plus the tap guard's state and taps answered once delivered."""
    import time

    from kivy.clock import Clock

    from mobile.client.undo import TAP_GUARD_SECONDS
    from mobile.ui.widgets import layout_places
    from tests.mobile.ui.hook import FINGER, PRESS_SECONDS, Driver, target_at

    class FingerDriver(Driver):
        def land(self, x, y, gap, settle, seen, finish) -> None:
            """One or two touches at (x, y); answered once each was delivered (see above)."""
            self.app.tap_log.clear()
            self.app.refused_log.clear()
            seen["landed_on"] = target_at(x, y)
            touches = []

            def put_down(_dt=None) -> None:
                self.taps += 1
                touch = FINGER.down(x, y)
                lifted = {"queued": False}
                touches.append((touch, lifted))

                def lift(_dt) -> None:
                    FINGER.up(touch)
                    lifted["queued"] = True

                Clock.schedule_once(lift, PRESS_SECONDS)

            def delivered() -> bool:
                waiting = {id(t) for _, t in FINGER.waiting}
                return all(
                    lifted["queued"]
                    and id(touch) not in waiting
                    and not any(ref() for ref in touch.grab_list)
                    for touch, lifted in touches
                )

            started = time.monotonic()

            def watch(_dt) -> None:
                elapsed = time.monotonic() - started
                ready = len(touches) == (1 if gap is None else 2) and delivered()
                if (ready and elapsed >= settle) or elapsed > DELIVERY_SECONDS:
                    watching.cancel()
                    finish(
                        {
                            **seen,
                            "took": list(self.app.tap_log),
                            "refused": list(self.app.refused_log),
                            "after": self.app.screens.current,
                            "delivered": ready,
                        }
                    )

            def second(_dt) -> None:
                seen["second_hit"] = target_at(x, y)
                put_down()

            put_down()
            if gap is not None:
                Clock.schedule_once(second, float(gap))
            watching = Clock.schedule_interval(watch, 0)  # every frame

        def run(self, command):
            if command.get("op") != "guard":
                return super().run(command)
            guard, control = self.app.tap_guard, command.get("id", "")
            drawn = layout_places().get(control)
            if drawn is None:
                return {"error": f"no control {control!r} on screen"}
            changed = guard.changed_at.get(control)
            return {
                "allows": guard.allows(control),
                "seen_as_drawn": guard.places.get(control) == drawn,
                "since": None if changed is None else guard.clock() - changed,
                "period": TAP_GUARD_SECONDS,
            }

    return FingerDriver(app)


def main() -> None:
    hook = argparse.ArgumentParser(add_help=False)
    hook.add_argument("--driver-port", type=int, default=0)
    hook.add_argument("--driver-port-file")
    wanted, rest = hook.parse_known_args()
    from mobile.__main__ import open_app

    app = open_app(rest)  # sets Kivy's window options before anything opens the window
    from kivy.base import EventLoop

    from tests.mobile.ui.hook import FINGER

    EventLoop.add_input_provider(FINGER)
    finger_driver(app).serve(wanted.driver_port, wanted.driver_port_file)
    app.run()


if __name__ == "__main__":
    main()
