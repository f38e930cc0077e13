"""Acks: how far a device has read each stream.

An ack moves the device's cursor forward only (a late or replayed ack never moves it back).
What an ack means for the domain (a dispatch reached its unit) is not the feed's business: it
sends `stream_acked` inside the ack's transaction and the domain app that cares listens.
"""

from __future__ import annotations

from django.dispatch import Signal

from server.errors import InvalidInput
from server.feed.models import DeviceCursor, Stream
from server.feed.services import change_transaction

# Sent inside the ack's transaction when a cursor moves: device, stream, after (the old cursor),
# upto (the new one). A receiver that raises rolls the ack back.
stream_acked = Signal()


def record_ack(*, device, stream: str, seq: int) -> int:
    """Store a device's ack of everything up to `seq` on `stream`; returns its cursor after.

    The caller has already checked the device may read the stream.
    """
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InvalidInput("An ack names a stream and a seq of 1 or more.")
    with change_transaction():
        last_seq = Stream.objects.filter(name=stream).values_list("last_seq", flat=True).first()
        if last_seq is None or seq > last_seq:
            raise InvalidInput(f"{stream} has no event {seq} yet.")
        cursor, _ = DeviceCursor.objects.select_for_update().get_or_create(
            device=device, stream_id=stream
        )
        if seq <= cursor.acked_seq:
            return cursor.acked_seq  # old news: cursors never go back
        before = cursor.acked_seq
        cursor.acked_seq = seq
        cursor.save(update_fields=["acked_seq", "updated_at"])
        stream_acked.send(sender=DeviceCursor, device=device, stream=stream, after=before, upto=seq)
        return seq
