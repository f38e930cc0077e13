"""Lock: a PIN of at least 6 digits, set at first sign-in, asked after idle and at every start.

The PIN is kept on the tablet as a salted PBKDF2 hash in the store's settings, so a wipe (revoked
device) forgets it with everything else. Idle time is a setting: 10 minutes unless changed, and
never more than 30.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty
from kivy.uix.screenmanager import Screen

from mobile.client.store import Store

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

MIN_DIGITS = 6
DEFAULT_LOCK_MINUTES = 10.0
MAX_LOCK_MINUTES = 30.0
ROUNDS = 100_000


def lock_minutes(wanted: float | None) -> float:
    """The idle time before locking: the default when unset, never over the maximum."""
    if wanted is None or wanted <= 0:
        return DEFAULT_LOCK_MINUTES
    return min(wanted, MAX_LOCK_MINUTES)


def pin_problem(pin: str, again: str) -> str | None:
    """Why this PIN can't be set, in words for the responder; None when it can."""
    if not pin.isdigit() or len(pin) < MIN_DIGITS:
        return f"The PIN must be at least {MIN_DIGITS} digits."
    if pin != again:
        return "The two PINs are different. Type the same PIN twice."
    return None


def keep_pin(store: Store, pin: str) -> None:
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, ROUNDS)
    store.set_settings(pin={"salt": salt.hex(), "hash": digest.hex()})


def pin_matches(store: Store, pin: str) -> bool:
    kept = store.get_setting("pin")
    if not kept:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(kept["salt"]), ROUNDS)
    return hmac.compare_digest(digest.hex(), kept["hash"])


class LockScreen(Screen):
    setting = BooleanProperty(False)  # True: choose a PIN (first sign-in); False: unlock

    def on_pre_enter(self, *args) -> None:
        store = App.get_running_app().session.tablet.store
        self.setting = store.get_setting("pin") is None
        self.ids.pin.text = self.ids.again.text = ""
        self.ids.message.text = ""

    def refresh(self) -> None:
        pass

    def submit(self) -> None:
        app = App.get_running_app()
        store = app.session.tablet.store
        pin = self.ids.pin.text.strip()
        if self.setting:
            problem = pin_problem(pin, self.ids.again.text.strip())
            if problem:
                self.ids.message.text = problem
                return
            keep_pin(store, pin)
        elif not pin_matches(store, pin):
            self.ids.pin.text = ""
            self.ids.message.text = "That PIN is not right."
            return
        app.unlocked()
