"""Acks written in batches: one writer task per process (per event loop) for every socket.

This is the path of a process that stores its own acks (no Redis, or a process serving
everything); the socket processes of a deployment with Redis hand them to a Redis stream instead
(server.sync.ack_stream), and fall back to this path while Redis is out of reach.

A socket hands its ack over and carries on delivering; the writer stores whatever has gathered
since its last write in one transaction (server.feed.cursors.record_acks), so a thousand
tablets acking a broadcast cost a few transactions, not a thousand. Each ack keeps the time it
arrived, so an assignment's delivered time is the ack's arrival, not the batch's commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.utils import timezone

from server.accounts.models import Device
from server.feed.cursors import Receipt, record_acks

logger = logging.getLogger(__name__)

MAX_BATCH = 500  # acks per transaction; more wait for the next one

Refused = Callable[[str], Awaitable[None]]

# The executor's pool, not the one thread Channels keeps for database work: every socket of the
# process shares that thread, and receipts must not hold up deliveries.
_record_acks = database_sync_to_async(record_acks, thread_sensitive=False)


class AckBatch:
    """The queue and the writer of one event loop; the writer runs only while acks wait."""

    _by_loop: dict[asyncio.AbstractEventLoop, AckBatch] = {}

    def __init__(self) -> None:
        self.waiting: list[tuple[Receipt, Refused]] = []
        self.writer: asyncio.Task | None = None

    @classmethod
    def submit(cls, device: Device, stream: str, seq: int, refused: Refused) -> None:
        """Queue an ack heard now; `refused(detail)` is awaited should the store refuse it."""
        cls.submit_receipt(Receipt(device, stream, seq, timezone.now()), refused)

    @classmethod
    def submit_receipt(cls, receipt: Receipt, refused: Refused) -> None:
        loop = asyncio.get_running_loop()
        batch = cls._by_loop.get(loop)
        if batch is None:
            cls._by_loop = {lp: b for lp, b in cls._by_loop.items() if not lp.is_closed()}
            batch = cls._by_loop[loop] = cls()
        batch.waiting.append((receipt, refused))
        if batch.writer is None or batch.writer.done():
            batch.writer = loop.create_task(batch._write())

    async def _write(self) -> None:
        while self.waiting:
            taken, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
            try:
                outcome = await _record_acks([receipt for receipt, _ in taken])
            except Exception:  # the database is out of reach: the tablets ack again later
                logger.exception("could not store %d acks", len(taken))
                continue
            for (_, refused), detail in zip(taken, outcome, strict=True):
                if detail is not None:
                    await refused(detail)
