"""`python -m tests.mobile.ui.with_finger --driver-port 0 --driver-port-file F <app options>`:
the tablet app as `python -m mobile` opens it, plus the finger's test hook and input provider."""

from __future__ import annotations

import argparse


def main() -> None:
    hook = argparse.ArgumentParser(add_help=False)
    hook.add_argument("--driver-port", type=int, default=0)
    hook.add_argument("--driver-port-file")
    wanted, rest = hook.parse_known_args()
    from mobile.__main__ import open_app

    app = open_app(rest)  # sets Kivy's window options before anything opens the window
    from kivy.base import EventLoop

    from tests.mobile.ui.hook import FINGER, Driver

    EventLoop.add_input_provider(FINGER)
    Driver(app).serve(wanted.driver_port, wanted.driver_port_file)
    app.run()


if __name__ == "__main__":
    main()
