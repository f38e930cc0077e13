"""Acks through Redis: the socket processes append, one writer stores.

A socket process that receives an ack appends it to a Redis stream (`CARE_ACK_STREAM`) and goes
back to delivering frames: no database call, no thread, no GIL held for psycopg while the event
loop waits. The writer (`manage.py write_acks`, one always-on process beside the API) reads the
stream with a consumer group and stores what has gathered in one transaction
(server.feed.cursors.record_acks, as a process storing its own acks does), so the semantics are
the same: each ack keeps the time the socket heard it, a cursor only moves forward, and storing an
ack twice changes nothing (the dispatch it covers is marked delivered by a conditional update).

An entry leaves the stream only once its batch has committed (XACK, then XDEL): a writer killed
mid-batch leaves its entries pending in the group, and the writer that starts next takes them
over (XAUTOCLAIM) before reading new ones. Should Redis be out of reach when the socket appends,
the ack is stored by the socket's own process instead (server.sync.ack_batch): an ack is never
dropped for want of Redis. Acks waiting in the stream when Redis itself is lost (restarted with
no persistence) are gone with it; the device's next ack covers them (acks are cumulative).

A refusal (an ack past a stream's end) can't be answered on the socket from the writer; the
socket has already checked every ack against what it sent, so the writer only logs one.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import socket
import uuid

import redis
import redis.asyncio
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from server.accounts.models import Device
from server.feed.cursors import Receipt, record_acks
from server.sync.ack_batch import MAX_BATCH, AckBatch, Refused

logger = logging.getLogger(__name__)

GROUP = "writers"
# Entries kept at most should no writer read them for a long while (about 100 bytes each).
MAX_LENGTH = 1_000_000


def acks_through_redis() -> bool:
    return bool(getattr(settings, "CARE_ACKS_THROUGH_REDIS", False) and settings.REDIS_URL)


def stream_key() -> str:
    return settings.CARE_ACK_STREAM


def _entry(receipt: Receipt) -> dict[str, str]:
    return {
        "device": str(receipt.device.pk),
        "stream": receipt.stream,
        "seq": str(receipt.seq),
        "at": receipt.at.isoformat(),
    }


class AckStream:
    """The socket side, one per event loop: acks gathered since the last append go to Redis in
    one round trip; the appender runs only while acks wait."""

    _by_loop: dict[asyncio.AbstractEventLoop, AckStream] = {}

    def __init__(self) -> None:
        self.waiting: list[tuple[Receipt, Refused]] = []
        self.appender: asyncio.Task | None = None
        # No socket timeout, as the channel layer's connections (server/settings.py): keepalive
        # finds a Redis that vanished; one that refuses fails at once.
        self.redis = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, socket_keepalive=True, socket_connect_timeout=5
        )

    @classmethod
    def submit(cls, device: Device, stream: str, seq: int, refused: Refused) -> None:
        loop = asyncio.get_running_loop()
        appender = cls._by_loop.get(loop)
        if appender is None:
            cls._by_loop = {lp: a for lp, a in cls._by_loop.items() if not lp.is_closed()}
            appender = cls._by_loop[loop] = cls()
        appender.waiting.append((Receipt(device, stream, seq, timezone.now()), refused))
        if appender.appender is None or appender.appender.done():
            appender.appender = loop.create_task(appender._append())

    async def _append(self) -> None:
        while self.waiting:
            taken, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for receipt, _ in taken:
                        pipe.xadd(
                            stream_key(), _entry(receipt), maxlen=MAX_LENGTH, approximate=True
                        )
                    await pipe.execute()
            except (redis.RedisError, OSError):
                logger.warning("Redis out of reach: %d acks stored by this process", len(taken))
                for receipt, refused in taken:
                    AckBatch.submit_receipt(receipt, refused)


def submit_ack(device: Device, stream: str, seq: int, refused: Refused) -> None:
    """Hand an ack heard now to whoever stores it; the socket carries on at once."""
    if acks_through_redis():
        AckStream.submit(device, stream, seq, refused)
    else:
        AckBatch.submit(device, stream, seq, refused)


class AckWriter:
    """The stream's reader: `write_once` stores one batch and returns how many acks it took.

    `claim_idle_ms`: an entry another writer has held this long without storing it is taken
    over (that writer died mid-batch)."""

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        key: str | None = None,
        name: str | None = None,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self.redis = client or redis.Redis.from_url(settings.REDIS_URL, socket_keepalive=True)
        self.key = key or stream_key()
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.claim_idle_ms = claim_idle_ms
        self.backlog = True  # this writer's own pending entries are read first
        self.claim_from = "0-0"

    def ensure_group(self) -> None:
        """The group, made with the stream if need be, reading from its start: acks appended
        before any writer existed (or before a restarted Redis saw one) are not skipped."""
        try:
            self.redis.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def write_once(self, block_ms: int = 1000) -> int:
        try:
            entries = self._next_entries(block_ms)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group()  # Redis lost the stream and its group (restarted)
            self.backlog, self.claim_from = True, "0-0"
            return 0
        if not entries:
            return 0
        try:
            self._store(entries)
        except Exception:
            self.backlog = True  # read again from this writer's pending entries
            raise
        pipe = self.redis.pipeline(transaction=False)
        ids = [entry_id for entry_id, _ in entries]
        pipe.xack(self.key, GROUP, *ids)
        pipe.xdel(self.key, *ids)
        pipe.execute()
        return len(entries)

    def _next_entries(self, block_ms: int) -> list[tuple[bytes, dict]]:
        if self.backlog:
            found = self._read("0", block_ms=None)
            if found:
                return found
            self.backlog = False
        claimed = self._claim()
        if claimed:
            return claimed
        return self._read(">", block_ms=block_ms)

    def _read(self, start: str, block_ms: int | None) -> list[tuple[bytes, dict]]:
        answer = self.redis.xreadgroup(
            GROUP, self.name, {self.key: start}, count=MAX_BATCH, block=block_ms
        )
        return [entry for _, entries in answer or [] for entry in entries if entry[1]]

    def _claim(self) -> list[tuple[bytes, dict]]:
        """Entries a dead writer left pending, taken over once they have waited long enough."""
        answer = self.redis.xautoclaim(
            self.key,
            GROUP,
            self.name,
            min_idle_time=self.claim_idle_ms,
            start_id=self.claim_from,
            count=MAX_BATCH,
        )
        self.claim_from, claimed = answer[0], answer[1]
        if isinstance(self.claim_from, bytes):
            self.claim_from = self.claim_from.decode()
        return [entry for entry in claimed if entry[1]]

    def _store(self, entries: list[tuple[bytes, dict]]) -> None:
        close_old_connections()  # a connection lost since the last batch is opened again
        fields = [{k.decode(): v.decode() for k, v in data.items()} for _, data in entries]
        devices = Device.objects.select_related("user").in_bulk(
            {f["device"] for f in fields if "device" in f}
        )
        receipts = []
        for entry in fields:
            try:
                device = devices[uuid.UUID(entry["device"])]
                seq = int(entry["seq"])
                at = datetime.datetime.fromisoformat(entry["at"])
            except (KeyError, ValueError):  # a device deleted since, or not an ack
                logger.info("ack entry dropped: %s", entry)
                continue
            receipts.append(Receipt(device, entry["stream"], seq, at))
        if not receipts:
            return
        for receipt, refusal in zip(receipts, record_acks(receipts), strict=True):
            if refusal is not None:
                logger.info("ack refused for %s: %s", receipt.device.pk, refusal)

    def leave(self) -> None:
        """Leave the group on the way out, handing any pending entries to the next writer."""
        try:
            pending = self.redis.xpending_range(
                self.key, GROUP, min="-", max="+", count=1, consumername=self.name
            )
            if not pending:
                self.redis.xgroup_delconsumer(self.key, GROUP, self.name)
        except (redis.RedisError, OSError):
            logger.info("could not leave the ack writers' group", exc_info=True)
