import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from server.reports.daily import roll_up
from server.reports.publication import forget_published
from server.reports.sample_history import write_sample_history


class Command(BaseCommand):
    help = "Write made-up finished calls for the demo dashboard (DEBUG installs only)."

    def add_arguments(self, parser):
        # Four months: the public dashboard shows whole months once they have closed.
        parser.add_argument("--days", type=int, default=120)
        parser.add_argument("--calls-per-day", type=int, default=40)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, days: int, calls_per_day: int, seed: int, **options):
        if not settings.DEBUG:
            raise CommandError("Sample history is for DEBUG installs only.")
        start = timezone.localdate() - datetime.timedelta(days=days)
        made = write_sample_history(start=start, days=days, calls_per_day=calls_per_day, seed=seed)
        # Written in bulk, so no day was marked changed: roll the closed days up (again) here.
        rolled = roll_up(start + datetime.timedelta(days=n) for n in range(days))
        # A month published before this history was written would keep showing it without.
        forget_published(start, start + datetime.timedelta(days=days - 1))
        self.stdout.write(
            f"Sample history: {made} calls from {start} for {days} days ({len(rolled)} rolled up)."
        )
