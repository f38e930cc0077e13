"""Store the acks the socket processes append to Redis (server/sync/ack_stream.py).

An always-on process of a deployment with Redis (deploy/cluster.py starts it; docs/deployment.md).
Any number may run: they share the stream's consumer group, and an entry one of them read and
did not store (it died) is taken over by another after `--claim-after` seconds. Lost Redis or
database connections are waited out; nothing read is dropped before it is stored.
"""

from __future__ import annotations

import signal
import time

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from server.sync.ack_stream import AckWriter

RETRY_SECONDS = 1.0


class Command(BaseCommand):
    help = "Store the socket processes' acks from the Redis stream, in batches (loops)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--claim-after",
            type=float,
            default=30.0,
            help="Seconds before another writer's unstored entries are taken over.",
        )

    def handle(self, *args, claim_after: float, **options) -> None:
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL is not set: each process stores its own acks.")
        writer = AckWriter(claim_idle_ms=int(claim_after * 1000))
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        self.stdout.write(f"writing acks from {writer.key} as {writer.name}")
        try:
            while not stopping:
                try:
                    writer.ensure_group()
                    while not stopping:
                        writer.write_once(block_ms=1000)
                except (redis.RedisError, OSError, DatabaseError) as exc:
                    self.stderr.write(f"ack writer waiting: {exc!r}")
                    time.sleep(RETRY_SECONDS)
        except KeyboardInterrupt:
            pass
        finally:
            writer.leave()
