"""People, their roles, the tablets they sign in on, the tokens bound to those tablets, and the
systems (a CAD, a partner organization) that call with an API key."""

from __future__ import annotations

import hashlib
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    DISPATCHER = "dispatcher", "Dispatcher (911 center)"
    CARE_RESPONDER = "care_responder", "CARE responder"
    SPD_OFFICER = "spd_officer", "SPD officer"
    COORDINATOR = "coordinator", "Case coordinator"
    ADMIN = "admin", "Supervisor / administrator"
    # The account behind a system client (a CAD, a partner): it never signs in with a password,
    # and no person endpoint lists it; only its key, through `SystemClient`, opens a door.
    SYSTEM = "system", "System client (CAD or partner)"


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.DISPATCHER)
    unit = models.ForeignKey(
        "dispatch.Unit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        help_text="The unit a CARE responder or SPD officer rides with.",
    )

    def clean(self) -> None:
        super().clean()
        from django.core.exceptions import ValidationError

        rides = {Role.CARE_RESPONDER: "care", Role.SPD_OFFICER: "spd"}
        if self.unit_id is not None and rides.get(self.role) != self.unit.kind:
            # Also a database trigger (dispatch migration 0010): an officer on a CARE team
            # would read its clinical stream.
            raise ValidationError(
                {"role": "This person is signed on to a unit of another kind; sign them off first."}
            )

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser


class Device(models.Model):
    """A tablet (or browser) a person signed in on. Revoking it kills its token and its sockets."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    clock_skew_seconds = models.FloatField(
        null=True, blank=True, help_text="Device clock minus server clock at its last sync."
    )
    clock_skew_flagged = models.BooleanField(default=False)
    tablet = models.ForeignKey(
        "Tablet",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sign_ins",
        help_text="The enrolled tablet this sign-in was made on (none for a console).",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user.username})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class DeviceToken(models.Model):
    """An API token bound to one device. Only its SHA-256 is stored, so a database leak leaks no
    usable token."""

    key_hash = models.CharField(max_length=64, unique=True)
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token for {self.device}"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class SystemClientKind(models.TextChoices):
    CAD = "cad", "Computer-aided dispatch (911 CAD)"
    PARTNER = "partner", "Partner organization"


class SystemScope(models.TextChoices):
    """The endpoint family a key opens: a CAD's EIDO doors, or a partner's referral doors."""

    CAD = "cad", "CAD endpoints (EIDO in and out)"
    PARTNER = "partner", "Partner endpoints (referrals, directory)"


KEY_PREFIX_LENGTH = 8  # the visible part of a key, shown in admin to tell keys apart


class SystemClient(models.Model):
    """A system that calls the API with `Authorization: Api-Key <key>`.

    Only the key's SHA-256 is stored, with its first characters so an administrator can tell
    which key a CAD is configured with. Requests made with the key run as `user`, an account
    with the `system` role that can't sign in; audit rows name the client itself.
    """

    kind = models.CharField(max_length=8, choices=SystemClientKind.choices)
    name = models.CharField(max_length=100, unique=True)
    scope = models.CharField(max_length=8, choices=SystemScope.choices)
    organization_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="For a partner: the HSDS organization id it acts for.",
    )
    active = models.BooleanField(default=True)
    key_prefix = models.CharField(max_length=KEY_PREFIX_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    user = models.OneToOneField(
        User, on_delete=models.PROTECT, related_name="system_client", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.kind and self.scope and self.kind != self.scope:
            # One key, one family: a CAD's key never opens a partner's doors, nor the reverse.
            raise ValidationError({"scope": "A key's scope is its kind's own endpoint family."})
        if self.kind == SystemClientKind.PARTNER and not self.organization_id.strip():
            raise ValidationError(
                {"organization_id": "A partner acts for an HSDS organization; give its id."}
            )
        if self.kind == SystemClientKind.CAD and self.organization_id:
            raise ValidationError({"organization_id": "A CAD acts for no partner organization."})

    @property
    def usable(self) -> bool:
        return self.active and self.revoked_at is None

    @property
    def label(self) -> str:
        """How audit rows and logs name it."""
        return f"{self.kind}:{self.name}"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class SsoIdentity(models.Model):
    """Who a person is at the city's identity provider: its issuer and their subject there.

    A sign-in through the provider finds the person by this pair, never by a name or an email an
    account there could claim. `suspended_by_idp` marks a person whose groups mapped to no role at
    their last sign-in: they are deactivated until their groups map to one again.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="sso_identity")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    groups = models.JSONField(default=list, blank=True, help_text="Their groups at last sign-in.")
    suspended_by_idp = models.BooleanField(default=False)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_person_per_idp_subject")
        ]
        verbose_name = "SSO identity"

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class Tablet(models.Model):
    """A tablet a supervisor enrolled. Only an enrolled tablet gets a device token when enrolment
    is required; revoking it (or any sign-in made on it) ends every sign-in on it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    secret_hash = models.CharField(max_length=64, editable=False)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    enrolled_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-enrolled_at"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()


class EnrolmentCode(models.Model):
    """A one-time code a supervisor makes for one tablet: short-lived, used once."""

    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    tablet = models.OneToOneField(
        Tablet, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrolment_code"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"enrolment code made {self.created_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def hash(code: str) -> str:
        return hashlib.sha256(code.strip().upper().encode()).hexdigest()
