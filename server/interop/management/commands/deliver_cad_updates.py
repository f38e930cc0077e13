"""Deliver every change to a call to the configured CAD (always on, beside the web processes).

Reads the dispatch stream into the database queue, POSTs what is due, prunes raw CAD documents
past their retention, and sleeps. Any number may run: deliveries are claimed with row locks.
"""

from __future__ import annotations

import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from server.interop.delivery import deliver_due, enqueue_changes
from server.interop.services import prune_documents


class Command(BaseCommand):
    help = "Send call updates to the CAD as EIDO documents (loops; --once to run once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between rounds.")
        parser.add_argument("--once", action="store_true", help="One round, then exit.")

    def handle(self, *args, interval: float, once: bool, **options) -> None:
        if not settings.CARE_CAD_ENDPOINT_URL:
            raise CommandError("Set CARE_CAD_ENDPOINT_URL (and CARE_CAD_SIGNING_SECRET) first.")
        if not settings.CARE_CAD_SIGNING_SECRET:
            raise CommandError("Set CARE_CAD_SIGNING_SECRET: the CAD checks every signature.")
        session = requests.Session()
        last_prune = 0.0
        while True:
            queued = enqueue_changes()
            delivered, failed = deliver_due(session=session)
            if queued or delivered or failed:
                self.stdout.write(f"queued {queued}, delivered {delivered}, failed {failed}")
            if time.monotonic() - last_prune > 3600:
                prune_documents()
                last_prune = time.monotonic()
            if once:
                return
            if not (queued or delivered):
                time.sleep(interval)
