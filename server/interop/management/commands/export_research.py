"""manage.py export_research OUT_DIR [--since DATE] [--until DATE]: the de-identified research
extract as CSV and Parquet, with its data dictionary."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from server.interop.management.commands.export_nemsis import day_start
from server.interop.research import research_extract
from server.interop.selectors import research_encounters


class Command(BaseCommand):
    help = "Write the de-identified research extract (CSV, Parquet, data dictionary)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("out_dir")
        parser.add_argument("--since", help="First day (YYYY-MM-DD), inclusive.")
        parser.add_argument("--until", help="Last day (YYYY-MM-DD), exclusive.")

    def handle(self, *args, out_dir: str, since: str | None, until: str | None, **options):
        extract = research_extract(None, research_encounters(day_start(since), day_start(until)))
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, content in extract.files().items():
            path = out / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        self.stdout.write(
            f"{len(extract.rows)} rows written to {out} ({extract.left_out} left out)"
        )
