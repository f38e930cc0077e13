"""The new-assignment alert: a short sound and a vibration, behind the one call the app makes.

Which assignments to announce (once each) is the client's rule: `mobile.client.announce`.

The sound is `assets/new-assignment.wav` (two rising tones, 0.4 s). A tablet without an audio
device, or a platform without a vibrator (plyer has none for desktop Linux), logs a line and
carries on: the banner on screen is the alert that never fails.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SOUND = Path(__file__).with_name("assets") / "new-assignment.wav"
VIBRATE_SECONDS = 0.4


class NewAssignmentAlert:
    """Plays the sound and asks for a vibration; remembers what it did for the status line and
    the test hook."""

    def __init__(self, sound_path: Path = SOUND):
        self.sound_path = sound_path
        self.rung: list[str] = []  # assignment ids, in the order they were announced
        self.last: dict[str, Any] = {}
        self._sound = None
        self._sound_tried = False

    def __call__(self, assignment_id: str) -> dict[str, Any]:
        self.rung.append(assignment_id)
        self.last = {"sound": self._play(), "vibration": self._vibrate()}
        return self.last

    def _play(self) -> str:
        try:
            if not self._sound_tried:
                self._sound_tried = True
                from kivy.core.audio import SoundLoader

                self._sound = SoundLoader.load(str(self.sound_path))
            # A loader that could not open the file or the device still hands back a Sound, empty.
            if self._sound is None or not self._sound.length:
                logger.info("new assignment: no audio device or player, sound skipped")
                return "no audio"
            self._sound.stop()  # a second call while the first still rings restarts it
            self._sound.play()
            return "played"
        except Exception as exc:  # an audio stack that fails must never stop the app
            logger.info("new assignment: the sound failed (%s)", exc.__class__.__name__)
            return "failed"

    @staticmethod
    def _vibrate() -> str:
        try:
            from plyer import vibrator
        except ImportError:
            logger.info("new assignment: no vibration on this platform (plyer not installed)")
            return "no vibrator"
        try:
            vibrator.vibrate(VIBRATE_SECONDS)
        except Exception as exc:  # NotImplementedError on desktops, or the platform's own
            logger.info("new assignment: no vibration on this platform (%s)", exc)
            return "no vibrator"
        return "vibrated"
