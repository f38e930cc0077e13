"""manage.py export_nemsis OUT_DIR [--since DATE] [--until DATE]: naloxone administrations as
NEMSIS 3.5.1 XML and CSV with the gap report beside them. A file that fails NEMSIS's XSD (or the
agency settings it needs) is refused: nothing is written, and the failing elements are named."""

from __future__ import annotations

import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from server.interop.nemsis import NemsisInvalid, export_naloxone
from server.interop.selectors import naloxone_administrations


def day_start(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"Not a date (YYYY-MM-DD): {text!r}") from exc
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


class Command(BaseCommand):
    help = "Export naloxone administrations as NEMSIS 3.5 XML and CSV, with a gap report."

    def add_arguments(self, parser) -> None:
        parser.add_argument("out_dir")
        parser.add_argument("--since", help="First day (YYYY-MM-DD), inclusive.")
        parser.add_argument("--until", help="Last day (YYYY-MM-DD), exclusive.")

    def handle(self, *args, out_dir: str, since: str | None, until: str | None, **options):
        records = list(naloxone_administrations(day_start(since), day_start(until)))
        try:
            export = export_naloxone(None, records)
        except NemsisInvalid as exc:
            named = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.detail}\n{named}") from exc
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "nemsis-naloxone.xml").write_bytes(export.xml)
        (out / "nemsis-naloxone.csv").write_text(export.csv, encoding="utf-8")
        (out / "nemsis-gaps.csv").write_text(export.gaps_csv, encoding="utf-8")
        held = sum(1 for gaps in export.gaps.values() if gaps and gaps[0][1] == "held back")
        self.stdout.write(f"{export.count} naloxone administrations written to {out}")
        if held:
            self.stdout.write(f"{held} held back until their unit is back in service")
