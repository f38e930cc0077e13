"""Signing in a device, revoking it, and checking tokens."""

from __future__ import annotations

import datetime
import secrets

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from server.accounts.models import Device, DeviceToken, User
from server.audit.services import record_audit
from server.errors import CareFieldError, InvalidInput


class BadCredentials(CareFieldError):
    status = 401
    code = "bad_credentials"


def issue_device_token(*, username: str, password: str, device_name: str) -> tuple[str, Device]:
    """Check the password, register the device, and return a new token bound to it."""
    device_name = (device_name or "").strip()
    if not device_name:
        raise InvalidInput("Name this device.", fields={"device_name": ["This field is required."]})
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        with transaction.atomic():
            record_audit(
                actor=None,
                action="auth.login_failed",
                object_type="accounts.user",
                object_id=username[:64],
                after={"device_name": device_name[:100]},
            )
        raise BadCredentials("Wrong username or password.")
    key = secrets.token_urlsafe(32)
    with transaction.atomic():
        device = Device.objects.create(user=user, name=device_name[:100])
        DeviceToken.objects.create(
            device=device,
            key_hash=DeviceToken.hash(key),
            expires_at=timezone.now() + datetime.timedelta(hours=settings.CARE_TOKEN_TTL_HOURS),
        )
        record_audit(
            actor=user,
            device=device,
            action="auth.token_issued",
            obj=device,
            after={"device_name": device.name},
        )
    return key, device


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
