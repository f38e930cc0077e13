"""manage.py import_hsds PATH_OR_URL [--source NAME]: bring the services directory in line with an
Open Referral HSDS 3.0 publication (JSON, a data package folder or datapackage.json, or a zip)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from server.interop.hsds import PublicationError, import_hsds


class Command(BaseCommand):
    help = "Import an Open Referral HSDS 3.0 publication into the services directory."

    def add_arguments(self, parser) -> None:
        parser.add_argument("where", help="A path or an http(s) URL.")
        parser.add_argument(
            "--source",
            help="The name services from this publication are kept under (default: the path or "
            "URL). Services of the same source missing from a later import are taken out of use.",
        )
        parser.add_argument(
            "--confirm-deactivation",
            action="store_true",
            help="Apply the import even if it takes a large share of the directory out of use.",
        )

    def handle(self, *args, where: str, source: str | None, **options) -> None:
        try:
            report = import_hsds(None, where, source, confirmed=options["confirm_deactivation"])
        except PublicationError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
