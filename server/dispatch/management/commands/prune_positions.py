"""Delete unit breadcrumb tracks (and refused fixes) past their retention period.

Run it daily beside `prune_events`. A unit's last position (on the unit itself) is never pruned.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from server.dispatch.units.positions import prune_positions


class Command(BaseCommand):
    help = "Delete unit position fixes older than CARE_POSITION_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=float,
            default=None,
            help=f"Keep this many days (default {settings.CARE_POSITION_RETENTION_DAYS}).",
        )

    def handle(self, *args, days: float | None, **options) -> None:
        if days is not None and days < 0:
            raise CommandError("--days can't be negative.")
        kept = datetime.timedelta(
            days=days if days is not None else settings.CARE_POSITION_RETENTION_DAYS
        )
        deleted = prune_positions(older_than=kept)
        self.stdout.write(f"Deleted {deleted} position fixes older than {kept.days} days.")
