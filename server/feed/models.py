"""The change feed: streams with gap-free sequence numbers, and the events written to them.

A stream row is locked while its next number is taken, so within a stream commit order equals
sequence order and a reader that saw seq N has seen everything before it.
"""

from django.db import models


class Stream(models.Model):
    name = models.CharField(max_length=64, primary_key=True)  # unit:<id>, user:<id>, dispatch, ...
    last_seq = models.BigIntegerField(default=0)

    class Meta:
        db_table = "sync_stream"

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
        db_table = "sync_event"
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
        db_table = "sync_devicecursor"
        constraints = [
            models.UniqueConstraint(
                fields=["device", "stream"], name="one_cursor_per_device_stream"
            )
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.stream_id}@{self.acked_seq}"
