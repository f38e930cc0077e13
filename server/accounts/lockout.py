"""Limits on failed sign-ins, on django-axes' record of them (its `AccessAttempt` rows).

Axes records every failure on every login path (token endpoint, admin, consoles) through Django's
`user_login_failed` signal, keyed by username, client address and browser, and refuses a locked
sign-in before the password is checked (`LockoutBackend`). Three rules decide what is locked:

- a (username, client address) pair: a handful of failures locks that pair for minutes. Someone
  who guesses at a person's name from their own address locks only themselves out, not the
  person signing in from the station;
- a username from any address: many more failures back it off for longer (a botnet guessing one
  account from many addresses);
- a client address across usernames: a throttle on spraying one password over many accounts.

A rule counts the failures of rows whose latest failure is inside its window, and locks until a
window after that latest failure. Axes forgets a row after an hour without a failure, on a
successful sign-in from that pair, or on a supervisor's unlock.
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


@dataclass(frozen=True)
class LockRule:
    keys: tuple[str, ...]
    failures: int
    window: datetime.timedelta


def lock_rules() -> list[LockRule]:
    minutes = datetime.timedelta(minutes=1)
    return [
        LockRule(
            ("username", "ip_address"),
            settings.CARE_LOCKOUT_FAILURES,
            settings.CARE_LOCKOUT_MINUTES * minutes,
        ),
        LockRule(
            ("username",),
            settings.CARE_LOCKOUT_USERNAME_FAILURES,
            settings.CARE_LOCKOUT_USERNAME_MINUTES * minutes,
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
    ends = [g["last"] + rule.window for g in groups if g["total"] >= rule.failures]
    return max(ends, default=None)


def locked_until(*, username: str, address: str | None = None) -> datetime.datetime | None:
    """When this username may sign in again from this address, or None when it isn't locked.
    Without an address: locked from any address (what the admin's list of people shows)."""
    now = timezone.now()
    ends = [_until(rule, username, address, now) for rule in lock_rules()]
    latest = max((end for end in ends if end is not None), default=None)
    return latest if latest is not None and latest > now else None


class CareLockoutHandler(AxesDatabaseHandler):
    """Axes' database handler, locking by the three rules above instead of its one limit."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        username = get_client_username(request, credentials) or ""
        return locked_until(username=username, address=request.axes_ip_address) is not None
