"""Enrolled tablets: a supervisor's one-time code makes a tablet known; only a known tablet's
sign-in gets a device token (when CARE_TABLET_ENROLMENT_REQUIRED). The tablet then holds a
secret of its own (possession) and the responder their password and the tablet's PIN
(knowledge). A lost tablet is revoked once, and every sign-in on it with it."""

from __future__ import annotations

import datetime
import secrets
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from server.accounts.models import EnrolmentCode, Tablet, User
from server.audit.services import record_audit
from server.errors import CareFieldError, InvalidInput

# No look-alikes (0/O, 1/I/L): a code read off a screen and typed on a tablet.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


class EnrolmentRefused(CareFieldError):
    status = 400
    code = "enrolment_refused"


class TabletNotEnrolled(CareFieldError):
    status = 403
    code = "tablet_not_enrolled"


class TabletRevoked(CareFieldError):
    status = 403
    code = "tablet_revoked"


def create_code(*, actor: User) -> tuple[str, EnrolmentCode]:
    """A new code, shown once (only its hash is kept), good for one tablet for a few minutes."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    minutes = datetime.timedelta(minutes=settings.CARE_ENROLMENT_CODE_MINUTES)
    with transaction.atomic():
        made = EnrolmentCode.objects.create(
            code_hash=EnrolmentCode.hash(code),
            created_by=actor,
            expires_at=timezone.now() + minutes,
        )
        record_audit(actor=actor, action="tablet.enrolment_code_created", obj=made)
    return code, made


def enrol(*, code: str, name: str) -> tuple[Tablet, str]:
    """Use a code: a new tablet and its secret (shown once). Used, expired or unknown: refused."""
    name = (name or "").strip()[:100]
    if not name:
        raise InvalidInput("Name this tablet.", fields={"name": ["This field is required."]})
    with transaction.atomic():
        found = (
            EnrolmentCode.objects.select_for_update()
            .filter(code_hash=EnrolmentCode.hash(code or ""))
            .first()
        )
        _check_usable(found)
        secret = secrets.token_urlsafe(32)
        tablet = Tablet.objects.create(
            name=name, secret_hash=Tablet.hash(secret), enrolled_by=found.created_by
        )
        found.used_at, found.tablet = timezone.now(), tablet
        found.save(update_fields=["used_at", "tablet"])
        record_audit(actor=found.created_by, action="tablet.enrolled", obj=tablet)
    return tablet, secret


def _check_usable(found: EnrolmentCode | None) -> None:
    fields = {"code": ["Ask a supervisor for a new enrolment code."]}
    if found is None:
        raise EnrolmentRefused("That enrolment code is not one we made.", fields=fields)
    if found.used_at is not None:
        raise EnrolmentRefused("That enrolment code was already used.", fields=fields)
    if found.expires_at <= timezone.now():
        raise EnrolmentRefused("That enrolment code has expired.", fields=fields)


def tablet_for_sign_in(tablet_id: str | None, secret: str | None) -> Tablet | None:
    """The enrolled tablet a sign-in names, checked; None when it names none and none is needed.

    Refused with a reason the tablet shows: not enrolled (unknown, or a wrong secret), revoked.
    """
    if not tablet_id and not secret:
        if settings.CARE_TABLET_ENROLMENT_REQUIRED:
            raise TabletNotEnrolled(
                "This tablet is not enrolled. Ask a supervisor for an enrolment code."
            )
        return None
    tablet = Tablet.objects.filter(pk=tablet_id).first() if _is_uuid(tablet_id) else None
    if tablet is None or not secrets.compare_digest(tablet.secret_hash, Tablet.hash(secret or "")):
        raise TabletNotEnrolled("This tablet's enrolment is not known here. Enrol it again.")
    if tablet.revoked_at is not None:
        raise TabletRevoked("This tablet was revoked by a supervisor; it can't be used.")
    return tablet


def revoke_tablet(*, actor: User | None, tablet: Tablet, reason: str) -> None:
    """The tablet can't sign in again; every sign-in made on it is revoked too (its sockets
    close and it wipes itself at its next contact)."""
    from server.accounts.services import revoke_device  # services imports this module

    with transaction.atomic():
        if tablet.revoked_at is None:
            Tablet.objects.filter(pk=tablet.pk).update(revoked_at=timezone.now())
            record_audit(actor=actor, action="tablet.revoked", obj=tablet, after={"reason": reason})
        for device in tablet.sign_ins.filter(revoked_at=None):
            revoke_device(actor=actor, device=device, reason=reason, with_tablet=False)


def _is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
