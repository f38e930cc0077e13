"""The real Daphne server the tablet app talks to (the e2e suite's fixture, reused), and a
virtual screen for the widgets some tests build in this process.

Without a DISPLAY (CI, a server), one Xvfb is started for the session and named in DISPLAY
before any test module is imported, so nothing here depends on being run under `xvfb-run`."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess

from tests.e2e.conftest import served_system  # noqa: F401


def _start_xvfb() -> None:
    if os.environ.get("DISPLAY") or not shutil.which("Xvfb"):
        return
    ready, told = os.pipe()
    screen = subprocess.Popen(
        ["Xvfb", "-displayfd", str(told), "-screen", "0", "1280x1280x24", "-nolisten", "tcp"],
        pass_fds=(told,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(told)
    number = os.read(ready, 16).decode().strip()  # Xvfb writes it once it accepts clients
    os.close(ready)
    if not number:  # it exited: the tests that need it skip and say why
        return
    os.environ["DISPLAY"] = f":{number}"
    atexit.register(screen.terminate)


_start_xvfb()
