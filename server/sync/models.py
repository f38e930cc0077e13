"""The change feed: streams with gap-free sequence numbers, and the events written to them.

A stream row is locked while its next number is taken, so within a stream commit order equals
sequence order and a reader that saw seq N has seen everything before it.
"""

from django.db import models


class Stream(models.Model):
    name = models.CharField(max_length=64, primary_key=True)  # unit:<id>, user:<id>, dispatch, ...
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seq}"


class Event(models.Model):
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=64)
    data = models.JSONField()
    mutation_id = models.UUIDField(
        null=True,
        blank=True,
        help_text="The device mutation that caused it, so a tablet knows its own echo.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stream", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="event_seq_unique_in_stream")
        ]

    def __str__(self) -> str:
        return f"{self.stream_id}#{self.seq} {self.kind}"

    def as_frame(self) -> dict:
        return {
            "stream": self.stream_id,
            "seq": self.seq,
            "kind": self.kind,
            "data": self.data,
            "mutation_id": str(self.mutation_id) if self.mutation_id else None,
            "created_at": self.created_at.isoformat(),
        }


class DeviceCursor(models.Model):
    """How far a device has acknowledged each stream it reads (its `ack` frames)."""

    device = models.ForeignKey("accounts.Device", on_delete=models.CASCADE, related_name="cursors")
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="+")
    acked_seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "stream"], name="one_cursor_per_device_stream"
            )
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.stream_id}@{self.acked_seq}"


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
