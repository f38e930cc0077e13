"""manage.py import_call_history FILE: a history of calls from SPD's Call Data export."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from server.errors import CareFieldError
from server.planner.history import import_export, import_program


class Command(BaseCommand):
    help = (
        "Import a history of calls for the planner: SPD's Call Data export (its 13 columns), "
        "streamed, with a progress bar; bad rows are counted and listed, not fatal. "
        "--program imports this program's own incidents instead of a file."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="The export as CSV.")
        parser.add_argument("--name", help="The history's name (default: the file's name).")
        parser.add_argument("--program", action="store_true", help="The program's own calls.")
        parser.add_argument("--quiet-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, file, name, program, quiet_progress, **options):
        try:
            history = self._import(file, name, program, quiet_progress)
        except CareFieldError as refused:
            raise CommandError(refused.detail) from refused
        self.stdout.write(
            f"History '{history.name}': {history.calls:,} calls imported of "
            f"{history.rows_read:,} rows read; {history.rows_bad:,} bad rows."
        )
        for bad in history.bad_examples:
            self.stdout.write(f"  line {bad['line']}: {bad['reason']}")
        if history.rows_bad > len(history.bad_examples):
            self.stdout.write(f"  ... and {history.rows_bad - len(history.bad_examples):,} more.")

    def _import(self, file, name, program, quiet):
        if program:
            return import_program(name=name or "The program's own incidents")
        if not file:
            raise CommandError("Name the export's file (or --program).")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        with (
            path.open(newline="", encoding="utf-8-sig") as handle,
            tqdm(unit=" rows", disable=quiet, file=self.stderr._out, mininterval=0.5) as bar,
        ):

            def progress(rows: int) -> None:
                bar.update(rows - bar.n)

            return import_export(
                handle, name=name or path.name, file_name=path.name, progress=progress
            )
