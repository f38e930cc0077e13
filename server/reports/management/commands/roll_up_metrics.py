import datetime

from django.core.management.base import BaseCommand, CommandError

from server.reports.daily import days_to_roll_up, roll_up
from server.reports.publication import publish_due_months


def _date(raw: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError as exc:
        raise CommandError(f"'{raw}' is not a date; write YYYY-MM-DD.") from exc


class Command(BaseCommand):
    help = (
        "Roll up the dashboard's figures for closed (Seattle) days. With no dates: the days since "
        "the last roll-up through yesterday, and every day whose calls changed since it was rolled "
        "up; run it nightly after midnight. Also publishes the months whose public figures are "
        "due. With --from/--to: those days (today and later are "
        "skipped; they are computed from the calls). Safe to repeat."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", type=_date)
        parser.add_argument("--to", dest="end", type=_date)

    def handle(self, *args, start=None, end=None, **options):
        if (start is None) != (end is None):
            raise CommandError("Give both --from and --to, or neither.")
        if start and start > end:
            raise CommandError("--from is after --to.")
        if start:
            wanted = [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]
        else:
            wanted = days_to_roll_up()
        done = roll_up(wanted)
        if done:
            self.stdout.write(f"Rolled up {len(done)} days, {done[0]} to {done[-1]}.")
        else:
            self.stdout.write("No closed days to roll up.")
        published = publish_due_months()
        if published:
            self.stdout.write(f"Published the public figures of {', '.join(published)}.")
