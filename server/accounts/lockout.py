"""Limits on failed sign-ins, on django-axes' record of them (its `AccessAttempt` rows).

Axes records every failure on every login path (token endpoint, admin, consoles) through Django's
`user_login_failed` signal, keyed by username, client address and browser, and refuses a locked
sign-in before the password is checked (`LockoutBackend`). Three rules decide what is locked:

- a (username, client address) pair: a handful of failures locks that pair for minutes. Someone
  who guesses at a person's name from their own address locks only themselves out, not the
  person signing in from the station;
- a username from any address: many more failures back it off (a botnet guessing one account
  from many addresses). A back-off, not a long lock: the first lock is short and each failure
  after it doubles the next, never past `CARE_LOCKOUT_USERNAME_MAX_MINUTES` (usernames are
  guessable, so no outsider may keep a named person out for long). A known device — a tablet
  presenting a valid device token — signs in through this lock: its own address's rules still
  apply to it;
- a client address across usernames: a throttle on spraying one password over many accounts.

A rule counts the failures of rows whose latest failure is inside its window, and locks until a
while after that latest failure: its window, or the back-off for that many failures. Axes
forgets a row after an hour without a failure, on a successful sign-in from that pair, or on a
supervisor's unlock.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_ip_address, get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpRequest
from django.utils import timezone

USERNAME_ONLY = ("username",)


@dataclass(frozen=True)
class LockRule:
    keys: tuple[str, ...]
    failures: int
    window: datetime.timedelta  # how far back failures count (and, without a back-off, the lock)
    backoff: bool = False

    def lock_for(self, total: int) -> datetime.timedelta:
        """How long `total` failures lock: the window, or the back-off's doubling step."""
        if not self.backoff:
            return self.window
        return username_backoff(total - self.failures)


def username_backoff(past_threshold: int) -> datetime.timedelta:
    """The first lock past the threshold is CARE_LOCKOUT_USERNAME_BACKOFF_SECONDS; each further
    failure doubles it, up to CARE_LOCKOUT_USERNAME_MAX_MINUTES."""
    cap = settings.CARE_LOCKOUT_USERNAME_MAX_MINUTES * 60
    seconds = settings.CARE_LOCKOUT_USERNAME_BACKOFF_SECONDS * 2 ** min(max(past_threshold, 0), 20)
    return datetime.timedelta(seconds=min(seconds, cap))


def lock_rules() -> list[LockRule]:
    minutes = datetime.timedelta(minutes=1)
    return [
        LockRule(
            ("username", "ip_address"),
            settings.CARE_LOCKOUT_FAILURES,
            settings.CARE_LOCKOUT_MINUTES * minutes,
        ),
        LockRule(
            USERNAME_ONLY,
            settings.CARE_LOCKOUT_USERNAME_FAILURES,
            settings.CARE_LOCKOUT_USERNAME_MINUTES * minutes,
            backoff=True,
        ),
        LockRule(
            ("ip_address",),
            settings.CARE_LOCKOUT_ADDRESS_FAILURES,
            settings.CARE_LOCKOUT_ADDRESS_MINUTES * minutes,
        ),
    ]


def longest_window(request: HttpRequest | None = None) -> datetime.timedelta:
    """Axes' AXES_COOLOFF_TIME: how long it keeps a row, as long as the longest rule looks back."""
    return max(rule.window for rule in lock_rules())


def client_address(request: HttpRequest | None) -> str | None:
    return get_client_ip_address(request) if request is not None else None


def presents_known_device(request: HttpRequest | None) -> bool:
    """Does the sign-in come from a tablet the program knows, holding a valid device token
    (`Authorization: Token <key>`, as its API calls send it)?"""
    if request is None:
        return False
    scheme, _, key = (request.META.get("HTTP_AUTHORIZATION") or "").partition(" ")
    if scheme.lower() != "token" or not key.strip():
        return False
    from server.accounts.services import device_for_token  # services imports this module

    return device_for_token(key.strip()) is not None


def _until(rule: LockRule, username: str, address: str | None, now) -> datetime.datetime | None:
    if "username" not in rule.keys and address is None:
        return None  # an address rule needs an address
    recent = AccessAttempt.objects.filter(attempt_time__gte=now - rule.window)
    if "username" in rule.keys:
        recent = recent.filter(username=username)
    if "ip_address" in rule.keys and address is not None:
        recent = recent.filter(ip_address=address)
    groups = recent.values(*rule.keys).annotate(
        total=Sum("failures_since_start"), last=Max("attempt_time")
    )
    ends = [g["last"] + rule.lock_for(g["total"]) for g in groups if g["total"] >= rule.failures]
    return max(ends, default=None)


def locked_until(
    *, username: str, address: str | None = None, known_device: bool = False
) -> datetime.datetime | None:
    """When this username may sign in again from this address, or None when it isn't locked.
    Without an address: locked from any address (what the admin's list of people shows). A
    known device is not held by the username-wide back-off."""
    now = timezone.now()
    rules = [r for r in lock_rules() if not (known_device and r.keys == USERNAME_ONLY)]
    ends = [_until(rule, username, address, now) for rule in rules]
    latest = max((end for end in ends if end is not None), default=None)
    return latest if latest is not None and latest > now else None


class CareLockoutHandler(AxesDatabaseHandler):
    """Axes' database handler, locking by the three rules above instead of its one limit."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        username = get_client_username(request, credentials) or ""
        known = presents_known_device(request)
        until = locked_until(username=username, address=request.axes_ip_address, known_device=known)
        return until is not None
