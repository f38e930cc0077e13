"""People, their roles, the tablets they sign in on, and the tokens bound to those tablets."""

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
