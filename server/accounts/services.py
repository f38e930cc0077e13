"""Signing in a device, revoking it, and checking tokens."""

from __future__ import annotations

import datetime
import secrets

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from server.accounts.models import Device, DeviceToken, User
from server.audit.models import AuditEntry
from server.audit.services import record_audit
from server.errors import CareFieldError, InvalidInput
from server.feed.codes import CLOSE_REVOKED, CLOSE_UNAUTHENTICATED
from server.feed.services import close_device_sockets


class BadCredentials(CareFieldError):
    status = 401
    code = "bad_credentials"


class LockedOut(CareFieldError):
    status = 429
    code = "locked_out"

    def retry_after_seconds(self) -> int:
        until = datetime.datetime.fromisoformat(self.extra["locked_until"])
        return max(1, int((until - timezone.now()).total_seconds()) + 1)


# Failed sign-ins are counted from the audit trail itself: the trail already records each one, so
# there is no second tally to drift from it, and the count survives restarts and spans processes.
LOGIN_FAILED = "auth.login_failed"
LOGIN_SUCCEEDED = "auth.login"
LOCKED_OUT = "auth.locked_out"
UNLOCKED = "auth.unlocked"


def _lockout_rule() -> tuple[int, datetime.timedelta]:
    return (
        settings.CARE_LOCKOUT_FAILURES,
        datetime.timedelta(minutes=settings.CARE_LOCKOUT_MINUTES),
    )


def _login_events(username: str):
    return AuditEntry.objects.filter(object_type="accounts.user", object_id=username[:64])


def locked_until(*, username: str) -> datetime.datetime | None:
    """When this username may sign in again, or None when it isn't locked.

    Locked: the last N failures (since the last success or unlock) all fell within the window,
    and the newest is less than a window ago. The lock runs one window from the newest failure.
    """
    failures, window = _lockout_rule()
    now = timezone.now()
    events = _login_events(username)
    reset = (
        events.filter(action__in=[LOGIN_SUCCEEDED, UNLOCKED])
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    recent = events.filter(action=LOGIN_FAILED, at__gt=now - 2 * window)
    if reset is not None:
        recent = recent.filter(at__gt=reset)
    times = list(recent.order_by("-at").values_list("at", flat=True)[:failures])
    if len(times) < failures or times[0] - times[-1] > window:
        return None
    until = times[0] + window
    return until if until > now else None


def lockout_message(until: datetime.datetime) -> str:
    minutes = max(1, int((until - timezone.now()).total_seconds() // 60) + 1)
    failures, window = _lockout_rule()
    return (
        f"Too many failed sign-ins ({failures} in {int(window.total_seconds() // 60)} minutes): "
        f"this account is locked. Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
        "or ask a supervisor to unlock it."
    )


def locked_out(*, username: str) -> LockedOut | None:
    """The error to answer with while the username is locked, or None."""
    until = locked_until(username=username)
    if until is None:
        return None
    return LockedOut(lockout_message(until), locked_until=until.isoformat())


def record_refused_attempt(*, username: str, channel: str) -> None:
    with transaction.atomic():
        record_audit(
            actor=None,
            action=LOCKED_OUT,
            object_type="accounts.user",
            object_id=(username or "")[:64],
            after={"channel": channel},
        )


def record_login_failure(*, username: str, channel: str, **details: str) -> None:
    with transaction.atomic():
        record_audit(
            actor=None,
            action=LOGIN_FAILED,
            object_type="accounts.user",
            object_id=(username or "")[:64],
            after={"channel": channel, **details},
        )


def record_login(*, user: User, channel: str, device: Device | None = None) -> None:
    """A successful sign-in: audited, and it clears the failure count."""
    record_audit(
        actor=user,
        device=device,
        action=LOGIN_SUCCEEDED,
        object_type="accounts.user",
        object_id=user.get_username()[:64],
        after={"channel": channel},
    )


def unlock_user(*, actor: User, user: User) -> None:
    """A supervisor lifts a lockout before it runs out."""
    with transaction.atomic():
        record_audit(
            actor=actor,
            action=UNLOCKED,
            object_type="accounts.user",
            object_id=user.get_username()[:64],
        )


def _new_token(device: Device) -> str:
    key = secrets.token_urlsafe(32)
    DeviceToken.objects.create(
        device=device,
        key_hash=DeviceToken.hash(key),
        expires_at=timezone.now() + datetime.timedelta(hours=settings.CARE_TOKEN_TTL_HOURS),
    )
    return key


def issue_device_token(*, username: str, password: str, device_name: str) -> tuple[str, Device]:
    """Check the password, register the device, and return a new token bound to it.

    `authenticate` runs the lockout first (LockoutBackend) and audits the failure or the refused
    attempt (the login signals below), so this endpoint and the web logins share one count.
    """
    device_name = (device_name or "").strip()
    if not device_name:
        raise InvalidInput("Name this device.", fields={"device_name": ["This field is required."]})
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        # The failure that trips the lock already answers as a lockout: the person learns it now.
        raise locked_out(username=username) or BadCredentials("Wrong username or password.")
    with transaction.atomic():
        device = Device.objects.create(user=user, name=device_name[:100])
        key = _new_token(device)
        record_login(user=user, channel="token", device=device)
        record_audit(
            actor=user,
            device=device,
            action="auth.token_issued",
            obj=device,
            after={"device_name": device.name},
        )
    return key, device


def issue_console_token(*, user: User) -> str:
    """A device token for a web console whose person already signed in with a session.

    The page sends it in the live feed's hello frame (never in a URL). One device per person
    named "web console", so revoking it in admin closes every console socket they hold.
    """
    with transaction.atomic():
        device = Device.objects.filter(user=user, name="web console", revoked_at=None).first()
        if device is None:
            device = Device.objects.create(user=user, name="web console")
        key = _new_token(device)
        record_audit(
            actor=user,
            device=device,
            action="auth.token_issued",
            obj=device,
            after={"device_name": device.name, "channel": "session"},
        )
    return key


def on_login_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    """Django's user_login_failed, from every login path (token endpoint, admin, web pages)."""
    username = str(credentials.get("username") or "")
    channel = request.path if request is not None else "token"
    if locked_until(username=username) is not None:
        record_refused_attempt(username=username, channel=channel)
    else:
        record_login_failure(username=username, channel=channel)


def on_logged_in(sender, request, user: User, **kwargs) -> None:
    """Django's user_logged_in: a browser session began (admin or web console)."""
    with transaction.atomic():
        record_login(user=user, channel=request.path if request is not None else "session")


def rotate_token(*, token: DeviceToken) -> str:
    """A new token for the same device; the one presented stops working at once."""
    with transaction.atomic():
        current = DeviceToken.objects.select_for_update().select_related("device").get(pk=token.pk)
        if current.revoked_at or current.device.revoked_at:
            # Two rotations racing with the same token: only the first gets a new one.
            raise BadCredentials("This token was already replaced or revoked; sign in again.")
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
        key = _new_token(current.device)
        record_audit(
            actor=current.device.user,
            device=current.device,
            action="auth.token_rotated",
            obj=current.device,
        )
    return key


def device_for_token(key: str) -> DeviceToken | None:
    """The live token for a key, or None when unknown, expired or revoked."""
    token = (
        DeviceToken.objects.select_related("device", "device__user")
        .filter(key_hash=DeviceToken.hash(key))
        .first()
    )
    now = timezone.now()
    if token is None or token.revoked_at or token.expires_at <= now or token.device.revoked_at:
        return None
    return token


def token_device_revoked(key: str) -> bool:
    """Was this token's device revoked? The tablet wipes itself on that answer, and only on it:
    an expired or signed-out token keeps the changes still queued on the tablet."""
    return DeviceToken.objects.filter(
        key_hash=DeviceToken.hash(key), device__revoked_at__isnull=False
    ).exists()


def revoke_device(*, actor: User, device: Device, reason: str = "") -> Device:
    with transaction.atomic():
        if device.revoked_at:
            return device
        now = timezone.now()
        device.revoked_at = now
        device.revoked_reason = reason[:200]
        device.save(update_fields=["revoked_at", "revoked_reason"])
        device.tokens.filter(revoked_at__isnull=True).update(revoked_at=now)
        record_audit(
            actor=actor,
            action="device.revoked",
            obj=device,
            after={"reason": device.revoked_reason},
        )
        # Its open sockets close only once the revocation has committed.
        transaction.on_commit(lambda: close_device_sockets(device_id=device.pk, code=CLOSE_REVOKED))
    return device


def sign_out(*, token: DeviceToken) -> None:
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_audit(
            actor=token.device.user,
            device=token.device,
            action="auth.token_revoked",
            obj=token.device,
        )
        transaction.on_commit(
            lambda: close_device_sockets(
                device_id=token.device_id, code=CLOSE_UNAUTHENTICATED, token_id=token.pk
            )
        )


def record_clock_skew(*, actor: User, device: Device, skew_seconds: float) -> Device:
    """Keep the device's latest skew; flag it to admins past the limit (audited when it flips)."""
    flagged = abs(skew_seconds) > settings.CARE_SKEW_FLAG_SECONDS
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        was_flagged, before = locked.clock_skew_flagged, locked.clock_skew_seconds
        locked.clock_skew_seconds = round(skew_seconds, 3)
        locked.clock_skew_flagged = flagged
        locked.save(update_fields=["clock_skew_seconds", "clock_skew_flagged"])
        if flagged != was_flagged:
            record_audit(
                actor=actor,
                device=locked,
                action="device.clock_skew_flagged" if flagged else "device.clock_skew_cleared",
                obj=locked,
                before={"clock_skew_seconds": before, "clock_skew_flagged": was_flagged},
                after={
                    "clock_skew_seconds": locked.clock_skew_seconds,
                    "clock_skew_flagged": flagged,
                },
            )
    device.clock_skew_seconds, device.clock_skew_flagged = locked.clock_skew_seconds, flagged
    return locked
