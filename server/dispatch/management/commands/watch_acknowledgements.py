"""Raise overdue-acknowledgement alerts on the dispatch stream from a worker process.

Every Daphne process with open sockets already runs this check (server.sync.consumers.AckWatch);
this command does it where no socket is open, e.g. as a small worker beside the web processes.
Any number may run at once: each alert is claimed by a conditional update and raised once.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from server.dispatch.incidents.delivery import raise_overdue_acknowledgements
from server.dispatch.safety.services import raise_check_in_lapses


class Command(BaseCommand):
    help = (
        "Alert dispatch about assignments nobody acknowledged in time (loops; --once to run once)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=float, default=5.0, help="Seconds between checks.")
        parser.add_argument("--once", action="store_true", help="Check once and exit.")

    def handle(self, *args, interval: float, once: bool, **options) -> None:
        while True:
            for assignment in raise_overdue_acknowledgements():
                self.stdout.write(f"ack overdue: {assignment}")
            # The same watch raises unanswered on-scene check-ins (once per lapse, any process).
            for lapse in raise_check_in_lapses():
                self.stdout.write(f"check-in lapsed: {lapse.assignment}")
            if once:
                return
            time.sleep(interval)
