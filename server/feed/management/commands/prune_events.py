"""Delete change-feed events past the retention period (each stream's last one is always kept).

Run it daily (cron, a systemd timer). A device whose cursor falls before what is kept gets 410
`cursor_expired` on pull and reloads a snapshot.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from server.feed.retention import prune_events


class Command(BaseCommand):
    help = "Delete change-feed events older than CARE_EVENT_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=float,
            default=None,
            help=f"Keep this many days (default {settings.CARE_EVENT_RETENTION_DAYS}).",
        )

    def handle(self, *args, days: float | None, **options) -> None:
        if days is not None and days < 0:
            raise CommandError("--days can't be negative.")
        kept = datetime.timedelta(
            days=days if days is not None else settings.CARE_EVENT_RETENTION_DAYS
        )
        deleted = prune_events(older_than=kept)
        self.stdout.write(f"Deleted {deleted} events older than {kept.days} days.")
