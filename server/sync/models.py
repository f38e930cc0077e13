"""Offline push: each mutation a tablet sent, as the server answered it first."""

from django.db import models


class MutationStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    CONFLICT = "conflict", "Conflict"
    REJECTED = "rejected", "Rejected"


class AppliedMutation(models.Model):
    """A tablet's offline change as the server answered it the first time.

    The mutation id is the primary key: a retried mutation finds this row and gets the same answer
    again (`duplicate`), so nothing is applied twice. `payload_hash` tells a retry (same data) from
    an id reused with different data, which is refused.
    """

    id = models.UUIDField(primary_key=True)
    device = models.ForeignKey(
        "accounts.Device", on_delete=models.PROTECT, related_name="mutations"
    )
    type = models.CharField(max_length=40)
    entity_id = models.UUIDField(null=True, blank=True, db_index=True)
    payload_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=MutationStatus.choices)
    answer = models.JSONField(help_text="The per-mutation result first sent to the device.")
    occurred_at = models.DateTimeField(null=True, blank=True, help_text="Device time.")
    received_at = models.DateTimeField(auto_now_add=True, help_text="Server time.")
    clock_flagged = models.BooleanField(
        default=False, help_text="Device time was ahead of the server beyond the measured skew."
    )

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}: {self.status}"
