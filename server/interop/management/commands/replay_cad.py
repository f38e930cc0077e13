"""Replay SPD's Call Data export as a CAD would send it: EIDO documents posted in time order.

    manage.py replay_cad fixtures/cad-demo-day.csv --speed 60 --url http://127.0.0.1:8000 --key KEY

`--speed 60` plays an hour of calls in a minute. `--write-demo-day FILE` writes a generated day
of pilot-area calls in the export's format instead (see server/interop/replay.py).
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import requests
from django.core.management.base import BaseCommand, CommandError

from server.interop.replay import demo_day, queued_at, read_calls, row_to_eido, write_csv


class Command(BaseCommand):
    help = "Post an SPD Call Data CSV to a server as EIDO documents, in time order."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--speed", type=float, default=60.0, help="Speed-up; 0: no waiting.")
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--key", default="", help="A CAD system client's API key.")
        parser.add_argument("--write-demo-day", action="store_true", help="Write, don't post.")
        parser.add_argument("--date", default="", help="The demo day (YYYY-MM-DD).")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, file: Path, speed, url, key, write_demo_day, date, seed, **opts):
        if write_demo_day:
            day = datetime.date.fromisoformat(date) if date else datetime.date.today()
            count = write_csv(demo_day(day, seed=seed), file)
            self.stdout.write(f"wrote {count} calls for {day} to {file}")
            return
        if not key:
            raise CommandError(
                "Give the CAD's key: --key (manage.py create_system_client cad ...)."
            )
        if not file.exists():
            raise CommandError(f"No such file: {file}")
        rows = read_calls(file)
        session = requests.Session()
        session.headers["Authorization"] = f"Api-Key {key}"
        endpoint = url.rstrip("/") + "/api/v1/eido"
        started, first = time.monotonic(), queued_at(rows[0]) if rows else None
        outcomes: dict[str, int] = {}
        for row in rows:
            if speed > 0:
                due = (queued_at(row) - first).total_seconds() / speed
                time.sleep(max(0.0, due - (time.monotonic() - started)))
            answer = session.post(endpoint, json=row_to_eido(row), timeout=30)
            body = (
                answer.json()
                if answer.headers.get("Content-Type", "").startswith("application/json")
                else {}
            )
            outcome = body.get("outcome") or f"HTTP {answer.status_code}"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            self.stdout.write(
                f"{queued_at(row):%H:%M:%S} {row['CAD Event Number']} "
                f"{row['Initial Call Type'][:40]:40} -> {outcome} {body.get('status', '')} "
                f"{body.get('recommendation', '')}"
            )
        self.stdout.write(f"posted {len(rows)}: {outcomes}")
