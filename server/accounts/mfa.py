"""A second factor for local accounts (django-otp): TOTP or passkeys, with recovery codes.

People who sign in through the city's provider passed its multi-factor check there; local
accounts (break-glass administrators, the demo) pass one here, on the web sign-in and the admin.
A wrong code counts toward the lockout like a wrong password, through the same signal.
"""

from __future__ import annotations

import base64
import secrets

import segno
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from server.accounts import lockout, services
from server.accounts.models import User
from server.audit.services import record_audit
from server.errors import CareFieldError

SIGNED_IN_BY = "care_signed_in_by"  # the session's "idp" or "password"
RECOVERY_CODES = 10
ENROLLED = "auth.mfa_enrolled"
PASSED = "auth.second_factor"
RESET = "auth.mfa_reset"
# A first passkey was just made: the next page shows the person their recovery codes, once.
RECOVERY_CODES_DUE = "care_recovery_codes_due"


class ResetRefused(CareFieldError):
    status = 403
    code = "mfa_reset_refused"


def second_factor_missing(request: HttpRequest) -> bool:
    """Does this session still owe its second factor?"""
    user = request.user
    if not settings.CARE_MFA_REQUIRED or not user.is_authenticated:
        return False
    if request.session.get(SIGNED_IN_BY) == "idp" or not user.has_usable_password():
        return False  # the provider checked it (people from the provider have no password here)
    return not user.is_verified()


def has_second_factor(user: User) -> bool:
    """An authenticator app or a passkey (recovery codes only come with one of them)."""
    return has_authenticator_app(user) or _has_passkey(user)


def has_authenticator_app(user: User) -> bool:
    return authenticator_app_of(user) is not None


def authenticator_app_of(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def _has_passkey(user: User) -> bool:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


def has_recovery_codes(user: User) -> bool:
    return StaticToken.objects.filter(device__user=user).exists()


def start_enrolment(user: User) -> TOTPDevice:
    """The authenticator to set up: the one begun before, or a new one."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def qr_svg_data_uri(device: TOTPDevice) -> str:
    return segno.make(device.config_url, error="m").svg_data_uri(scale=4)


def secret_base32(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def confirm_enrolment(request: HttpRequest, device: TOTPDevice, code: str) -> list[str] | None:
    """The first code from the new authenticator confirms it: recovery codes are made (shown
    once) and this session counts as verified. None when the code is wrong."""
    if not device.verify_token(_digits(code)):
        return None
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = issue_recovery_codes(device.user)
        record_audit(actor=device.user, action=ENROLLED, obj=device.user, after={"kind": "totp"})
    otp_login(request, device)
    return codes


def issue_recovery_codes(user: User) -> list[str]:
    """Ten new single-use recovery codes in place of any earlier ones; shown once."""
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        static = StaticDevice.objects.create(user=user, name="recovery codes")
        StaticToken.objects.bulk_create(StaticToken(device=static, token=c) for c in codes)
    return codes


def check_second_factor(request: HttpRequest, code: str) -> bool:
    """A TOTP code or an unused recovery code. A wrong one is a failed sign-in for the lockout."""
    user = request.user
    device = match_token(user, _digits(code) or code.strip())
    if device is None:
        user_login_failed.send(
            sender=__name__,
            credentials={"username": user.get_username()},
            request=request,
        )
        return False
    otp_login(request, device)
    with transaction.atomic():
        kind = "recovery_code" if isinstance(device, StaticDevice) else "totp"
        record_audit(actor=user, action=PASSED, obj=user, after={"kind": kind})
    return True


def locked_out_now(request: HttpRequest):
    """The lockout this person's failures have reached from this address, or None."""
    return services.locked_out(
        username=request.user.get_username(), address=lockout.client_address(request)
    )


def reset_second_factor(*, actor: User, user: User) -> None:
    """Another administrator only: the person's authenticator app, passkeys and recovery codes
    are gone, and they set up a new second factor at their next sign-in."""
    if actor.pk == user.pk:
        raise ResetRefused("Another administrator must reset your second factor.")
    with transaction.atomic():
        passkeys = WebAuthnCredential.objects.filter(user=user)
        removed = {"passkeys": passkeys.count()}
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        passkeys.delete()
        record_audit(actor=actor, action=RESET, obj=user, after=removed)


def _digits(code: str) -> str:
    return "".join(ch for ch in (code or "") if ch.isdigit())[:8]


def _recovery_code() -> str:
    # 10 characters from an alphabet without look-alikes; letters only, so never a TOTP code.
    return "".join(secrets.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(10))
