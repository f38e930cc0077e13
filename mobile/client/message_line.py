"""The tablet's one-line message: what just happened, or what went wrong.

An error stays until the person acts (their next tap on a control); a confirmation stays at
least `READ_SECONDS`, even when they move to another screen, so it can be read; a newer message
always replaces an older one at once, so nothing newer is ever hidden. No Kivy here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

READ_SECONDS = 4.0


class MessageLine:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.text = ""
        self.error = False
        self.said_at = 0.0
        self.leaving = False  # the screen changed: clear once it has been read

    def say(self, text: str, *, error: bool = False) -> None:
        self.text, self.error, self.said_at, self.leaving = text, error, self.clock(), False

    def screen_changed(self) -> None:
        """A confirmation read long enough goes now, a fresh one once it has been read; an
        error stays until acted on."""
        if not self.error:
            self.leaving = True
            self.tick()

    def acted(self) -> None:
        """The person tapped a control: an error on the line has been seen."""
        if self.error:
            self.text, self.error = "", False

    def tick(self) -> bool:
        """Clear a confirmation left behind by a screen change once it has been read; whether
        the line changed."""
        if self.leaving and self.text and self.clock() - self.said_at >= READ_SECONDS:
            self.text, self.leaving = "", False
            return True
        return False
