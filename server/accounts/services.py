"""Signing in a device, revoking it, and checking tokens."""

from __future__ import annotations

import datetime
import secrets

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from server.accounts import enrolment, lockout
from server.accounts.models import Device, DeviceToken, User
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


# Failed sign-ins are counted by django-axes (server/accounts/lockout.py); the audit trail keeps
# its own row for each failure, refused attempt and sign-in, for the people who review it.
LOGIN_FAILED = "auth.login_failed"
LOGIN_SUCCEEDED = "auth.login"
LOCKED_OUT = "auth.locked_out"
UNLOCKED = "auth.unlocked"


def locked_until(
    *, username: str, address: str | None = None, known_device: bool = False
) -> datetime.datetime | None:
    return lockout.locked_until(username=username, address=address, known_device=known_device)


def lockout_message(until: datetime.datetime) -> str:
    minutes = max(1, int((until - timezone.now()).total_seconds() // 60) + 1)
    return (
        "Too many failed sign-ins: this account is locked for sign-ins from here. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
        "or ask a supervisor to unlock it."
    )


def locked_out(
    *, username: str, address: str | None = None, known_device: bool = False
) -> LockedOut | None:
    """The error to answer with while the username is locked from this address, or None."""
    until = locked_until(username=username, address=address, known_device=known_device)
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
    """A supervisor lifts a lockout before it runs out, from every address."""
    with transaction.atomic():
        axes_reset(username=user.get_username())
        record_audit(
            actor=actor,
            action=UNLOCKED,
            object_type="accounts.user",
            object_id=user.get_username()[:64],
        )


def _new_token(device: Device, expires_at: datetime.datetime | None = None) -> str:
    key = secrets.token_urlsafe(32)
    DeviceToken.objects.create(
        device=device,
        key_hash=DeviceToken.hash(key),
        expires_at=expires_at
        or timezone.now() + datetime.timedelta(hours=settings.CARE_TOKEN_TTL_HOURS),
    )
    return key


def issue_device_token(
    *,
    username: str,
    password: str,
    device_name: str,
    request: HttpRequest | None = None,
    tablet_id: str | None = None,
    tablet_secret: str | None = None,
) -> tuple[str, Device]:
    """Check the password, register the device, and return a new token bound to it.

    `authenticate` runs the lockout first (LockoutBackend) and counts and audits the failure or
    the refused attempt (the login signals), so this endpoint and the web logins share one count.
    `request` is the sign-in's HTTP request: the lock rules need its client address. Only
    in-process callers (a shell, the tests' fixtures) pass none, and no lock applies to them.
    The enrolled tablet (`tablet_id`, `tablet_secret`) is checked first, so an unenrolled or
    revoked tablet learns nothing about the password.
    """
    device_name = (device_name or "").strip()
    if not device_name:
        raise InvalidInput("Name this device.", fields={"device_name": ["This field is required."]})
    tablet = enrolment.tablet_for_sign_in(tablet_id, tablet_secret)
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        # The failure that trips the lock already answers as a lockout: the person learns it now.
        address = lockout.client_address(request)
        known = lockout.presents_known_device(request)
        locked = (
            locked_out(username=username, address=address, known_device=known)
            if request is not None
            else None
        )
        raise locked or BadCredentials("Wrong username or password.")
    with transaction.atomic():
        if request is not None:  # as a console sign-in does (AXES_RESET_ON_SUCCESS)
            axes_reset(ip=lockout.client_address(request), username=username)
        device = Device.objects.create(user=user, name=device_name[:100], tablet=tablet)
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


CONSOLE_TOKEN = "care_console_token"  # where a session keeps the console token it asked for


def issue_console_token(*, user: User, session: SessionBase) -> str:
    """A device token for a web console whose person signed in with this session.

    The page sends it in the live feed's hello frame (never in a URL). It lives exactly as long
    as the session: the same token while the session lives (its expiry follows the session's),
    revoked at sign-out (`end_console_token`), dead when the session expires. One device per
    person named "web console", so revoking it in admin closes every console socket they hold.
    """
    expires_at = session.get_expiry_date()
    held = session.get(CONSOLE_TOKEN) or {}
    with transaction.atomic():
        token = device_for_token(held["key"]) if held.get("key") else None
        if token is not None and token.device.user_id == user.pk:
            if token.expires_at != expires_at:
                DeviceToken.objects.filter(pk=token.pk).update(expires_at=expires_at)
            return held["key"]
        device = Device.objects.filter(user=user, name="web console", revoked_at=None).first()
        if device is None:
            device = Device.objects.create(user=user, name="web console")
        key = _new_token(device, expires_at=expires_at)
        record_audit(
            actor=user,
            device=device,
            action="auth.token_issued",
            obj=device,
            after={"device_name": device.name, "channel": "session"},
        )
    session[CONSOLE_TOKEN] = {"key": key}
    return key


def end_console_token(sender, request, user: User | None = None, **kwargs) -> None:
    """Django's user_logged_out (before the session is flushed): the console's token dies."""
    held = request.session.get(CONSOLE_TOKEN) if request is not None else None
    token = device_for_token(held["key"]) if held and held.get("key") else None
    if token is not None:
        sign_out(token=token)


def on_login_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    """Django's user_login_failed, from every login path (token endpoint, admin, web pages)."""
    username = str(credentials.get("username") or "")
    channel = request.path if request is not None else "token"
    if getattr(request, "care_refused_while_locked", False):  # set by LockoutBackend
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
    if not token.device.user.is_active:  # deactivated by a door that sent no signal
        return None
    return token


def token_device_revoked(key: str) -> bool:
    """Was this token's device revoked? The tablet wipes itself on that answer, and only on it:
    an expired or signed-out token keeps the changes still queued on the tablet."""
    return DeviceToken.objects.filter(
        key_hash=DeviceToken.hash(key), device__revoked_at__isnull=False
    ).exists()


def revoke_device(
    *, actor: User | None, device: Device, reason: str = "", with_tablet: bool = True
) -> Device:
    """Revoke a sign-in. Made on an enrolled tablet, the tablet goes too (a lost tablet is one
    action), except when a person is deactivated: their tablet stays for the next responder."""
    with transaction.atomic():
        if device.revoked_at:
            return device
        if with_tablet and device.tablet_id is not None:
            enrolment.revoke_tablet(actor=actor, tablet=device.tablet, reason=reason)
            device.refresh_from_db()
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


# ---- a person's access changes -------------------------------------------------------------

# What decides what a person may read and do: a change to any of these ends their sessions.
ACCESS_FIELDS = ("is_active", "role", "unit_id", "is_superuser")


def access_of(user: User) -> dict:
    return {field: getattr(user, field) for field in ACCESS_FIELDS}


def deactivate_person(*, actor: User | None, user: User) -> User:
    """Deactivate a person; the save's signal revokes their devices and closes their sockets."""
    with transaction.atomic():
        user.is_active = False
        user._access_changed_by = actor
        user.save(update_fields=["is_active"])
    return user


def end_access(*, user: User, before: dict, actor: User | None = None) -> None:
    """The person's role, unit or standing changed: nothing issued under the old one survives.

    Deactivated: every device of theirs is revoked (4403, the tablet wipes its records: a person
    who left the program keeps no clinical data). A new role or unit: their tokens are revoked
    and their sockets closed with 4401, so they sign in again and get the streams of the new one.
    """
    after = access_of(user)
    changed = {k: [str(before[k]), str(after[k])] for k in ACCESS_FIELDS if before[k] != after[k]}
    with transaction.atomic():
        record_audit(
            actor=actor,
            action="accounts.deactivated" if not user.is_active else "accounts.access_changed",
            obj=user,
            after={"changed": changed},
        )
        devices = list(Device.objects.filter(user=user, revoked_at=None))
        if not user.is_active:
            for device in devices:
                revoke_device(
                    actor=actor, device=device, reason="person deactivated", with_tablet=False
                )
            return
        DeviceToken.objects.filter(device__user=user, revoked_at=None).update(
            revoked_at=timezone.now()
        )
        for device in devices:
            transaction.on_commit(
                lambda pk=device.pk: close_device_sockets(device_id=pk, code=CLOSE_UNAUTHENTICATED)
            )


def remember_access(sender, instance: User, raw: bool = False, **kwargs) -> None:
    """pre_save: keep the stored role, unit and standing to compare after the save."""
    if raw or instance.pk is None:
        instance._access_before = None
        return
    stored = type(instance).objects.filter(pk=instance.pk).values(*ACCESS_FIELDS).first()
    instance._access_before = stored


def end_access_if_changed(sender, instance: User, created: bool, raw: bool = False, **kw) -> None:
    """post_save, from every door (admin form or action, a service, a shell's `save()`)."""
    before = getattr(instance, "_access_before", None)
    if raw or created or before is None or before == access_of(instance):
        return
    end_access(user=instance, before=before, actor=getattr(instance, "_access_changed_by", None))
    instance._access_before = access_of(instance)


# Fields an administrator's save names in the audit row by name only: their values are secrets.
SECRET_FIELDS = ("password",)


def save_person(*, actor: User, user: User, changed: list[str], created: bool) -> User:
    """An administrator adds or edits a person (the admin's form checked the input): stored and
    audited with what changed; a changed role, unit or standing also ends their access (the
    save's signal, `end_access`, names the administrator)."""
    from server.audit.services import snapshot

    shown = [name for name in changed if name not in SECRET_FIELDS]
    with transaction.atomic():
        before = None
        if not created:
            stored = User.objects.select_for_update().get(pk=user.pk)
            before = snapshot(stored, fields=shown)
        user._access_changed_by = actor
        user.save()
        record_audit(
            actor=actor,
            action="accounts.person_created" if created else "accounts.person_changed",
            obj=user,
            before=before,
            after={**snapshot(user, fields=shown), "changed": sorted(changed)},
        )
    return user
