"""The tablet's lock: a PIN of at least 6 digits and the idle-lock state machine.

The PIN is kept in the store's settings as a salted PBKDF2 hash, so a wipe (revoked device)
forgets it with everything else. The idle time is a setting: 10 minutes unless changed, never
more than 30. A remembered tablet starts locked.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable

from mobile.client.store import Store

MIN_DIGITS = 6
DEFAULT_LOCK_MINUTES = 10.0
MAX_LOCK_MINUTES = 30.0
ROUNDS = 100_000
PIN_SETTING = "pin"


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


def _digest(pin: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, ROUNDS)


def keep_pin(store: Store, pin: str) -> None:
    salt = os.urandom(16)
    store.set_settings(**{PIN_SETTING: {"salt": salt.hex(), "hash": _digest(pin, salt).hex()}})


def has_pin(store: Store) -> bool:
    return store.get_setting(PIN_SETTING) is not None


def pin_matches(store: Store, pin: str) -> bool:
    kept = store.get_setting(PIN_SETTING)
    if not kept:
        return False
    digest = _digest(pin, bytes.fromhex(kept["salt"]))
    return hmac.compare_digest(digest.hex(), kept["hash"])


class IdleLock:
    """Locked or open. Opens only with the PIN; locks after `minutes` without a touch.

    `store` gives the signed-in tablet's store (it changes at each sign-in); `clock` is
    injectable so the rule is tested without waiting.
    """

    def __init__(
        self,
        store: Callable[[], Store],
        *,
        minutes: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.store = store
        self.seconds = lock_minutes(minutes) * 60
        self.clock = clock
        self.locked = True  # a remembered tablet opens locked: the PIN first
        self.last_touch = clock()

    def needs_pin(self) -> bool:
        """Locked, or no PIN chosen yet (first sign-in on this tablet)."""
        return self.locked or not has_pin(self.store())

    def touched(self) -> None:
        self.last_touch = self.clock()

    def tick(self) -> bool:
        """True when this tick locked the tablet (it was open and idle too long)."""
        if not self.locked and self.clock() - self.last_touch > self.seconds:
            self.locked = True
            return True
        return False

    def choose_pin(self, pin: str, again: str) -> str | None:
        """First sign-in: keep the PIN and open; or say why it can't be the PIN."""
        problem = pin_problem(pin, again)
        if problem is None:
            keep_pin(self.store(), pin)
            self._open()
        return problem

    def signed_in(self) -> None:
        """A password sign-in is its own proof: open (a PIN is still asked if none is set)."""
        self._open()

    def unlock(self, pin: str) -> bool:
        if not pin_matches(self.store(), pin):
            return False
        self._open()
        return True

    def _open(self) -> None:
        self.locked = False
        self.touched()
