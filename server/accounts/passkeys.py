"""Passkeys (WebAuthn, django-otp-webauthn) as a local account's second factor.

A passkey is one more django-otp device beside the authenticator app and the recovery codes:
after the password, the browser's passkey prompt passes the second factor, opens a locked
console, and never replaces the password (passwordless sign-in is off). Every passkey made,
used, refused and removed is in the audit trail; a refused passkey is a failed sign-in for the
lockout, through the same signal as a wrong password or a wrong code.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp_webauthn.models import WebAuthnCredential

from server.accounts import mfa, session_locks
from server.accounts.models import User
from server.audit.services import record_audit
from server.errors import CareFieldError, NotFound

ADDED = "auth.passkey_added"
REMOVED = "auth.passkey_removed"
REFUSED = "auth.passkey_refused"
NAME_LIMIT = 60


class RemovalRefused(CareFieldError):
    status = 409
    code = "passkey_removal_refused"


class PasskeyNotFound(NotFound):
    code = "passkey_not_found"


def passkeys_of(user: User):
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at")


def has_passkey(user: User) -> bool:
    return passkeys_of(user).exists()


def may_add_passkey(request: HttpRequest) -> bool:
    """A local account's session, past its second factor or owing its first one, and not
    locked. A provider's people have their provider's factors; a locked console must be opened
    before anything is added to it."""
    user = request.user
    if not user.is_authenticated or not user.has_usable_password():
        return False
    if request.session.get(mfa.SIGNED_IN_BY) == "idp" or request.session.get(session_locks.LOCKED):
        return False
    return user.is_verified() or not mfa.has_second_factor(user)


def added(request: HttpRequest, credential: WebAuthnCredential, *, first: bool) -> None:
    """A passkey was made. The person's first second factor also brings recovery codes (shown
    on the next page, once)."""
    with transaction.atomic():
        credential.name = _name_for(credential)
        credential.save(update_fields=["name"])
        record_audit(
            actor=credential.user,
            action=ADDED,
            obj=credential.user,
            after={"passkey": credential.pk, "name": credential.name},
        )
        if first:
            record_audit(
                actor=credential.user,
                action=mfa.ENROLLED,
                obj=credential.user,
                after={"kind": "passkey"},
            )
    if first:
        request.session[mfa.RECOVERY_CODES_DUE] = True


def used(request: HttpRequest, credential: WebAuthnCredential) -> None:
    with transaction.atomic():
        record_audit(
            actor=credential.user,
            action=mfa.PASSED,
            obj=credential.user,
            after={"kind": "passkey", "passkey": credential.pk},
        )


def refused(request: HttpRequest, *, code: str) -> None:
    """A passkey assertion that did not prove the person: audited with its reason, and a
    failed sign-in for the lockout (django-axes counts it; `auth.login_failed` is written)."""
    user = request.user
    with transaction.atomic():
        record_audit(actor=user, action=REFUSED, obj=user, after={"reason": code})
    user_login_failed.send(
        sender=__name__, credentials={"username": user.get_username()}, request=request
    )


def remove(request: HttpRequest, *, passkey_id: int) -> None:
    """The person removes one of their passkeys; never their last second factor. A session
    that gave the removed passkey stays open on one the person keeps."""
    user = request.user
    with transaction.atomic():
        credential = passkeys_of(user).select_for_update().filter(pk=passkey_id).first()
        if credential is None:
            raise PasskeyNotFound("You have no such passkey.")
        others = passkeys_of(user).exclude(pk=credential.pk).exists()
        if not others and not mfa.has_authenticator_app(user):
            raise RemovalRefused(
                "This is your only second factor: add another passkey or an authenticator "
                "app before removing it."
            )
        record_audit(
            actor=user,
            action=REMOVED,
            obj=user,
            after={"passkey": credential.pk, "name": credential.name},
        )
        gave_this_session = getattr(user, "otp_device", None) == credential
        credential.delete()
    if gave_this_session:
        kept = passkeys_of(user).first() or mfa.authenticator_app_of(user)
        otp_login(request, kept)


def _name_for(credential: WebAuthnCredential) -> str:
    number = WebAuthnCredential.objects.filter(user=credential.user).count()
    return f"Passkey {number}"[:NAME_LIMIT]
