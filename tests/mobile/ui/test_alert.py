"""The new-assignment alert: a short sound in the app; a tablet without sound or vibrator
carries on."""

from __future__ import annotations

import wave

import pytest

pytest.importorskip("kivy", reason="Kivy is not installed (pip install -e '.[tablet]')")

from mobile.ui.alert import SOUND, NewAssignmentAlert


def test_the_alert_sound_is_a_short_wav_in_the_app():
    with wave.open(str(SOUND)) as sound:
        seconds = sound.getnframes() / sound.getframerate()
    assert 0.2 <= seconds <= 1.0


def test_without_a_sound_or_a_vibrator_the_alert_says_so_and_carries_on(tmp_path):
    alert = NewAssignmentAlert(sound_path=tmp_path / "missing.wav")
    outcome = alert("a-1")
    assert outcome["sound"] in ("no audio", "failed")
    assert outcome["vibration"] in ("no vibrator", "vibrated")
    assert alert.rung == ["a-1"]
