"""Issue a key to a system client: `manage.py create_system_client cad "King County CAD"`.

The key is printed once, here, and never stored: give it to the system's administrator now.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from server.accounts.models import SystemClientKind
from server.accounts.system_clients import create_system_client
from server.errors import CareFieldError


class Command(BaseCommand):
    help = "Create a system client (a CAD or a partner) and print its API key once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", choices=SystemClientKind.values)
        parser.add_argument("name")
        parser.add_argument("--organization", default="", help="A partner's HSDS organization id.")

    def handle(self, *args, kind: str, name: str, organization: str, **options) -> None:
        try:
            client, key = create_system_client(
                actor=None, kind=kind, name=name, organization_id=organization
            )
        except CareFieldError as exc:
            raise CommandError(f"{exc.detail} {exc.fields or ''}".strip()) from exc
        self.stderr.write(
            f"Created {client}. Its key follows; it is shown only this once "
            "(send it as 'Authorization: Api-Key <key>')."
        )
        self.stdout.write(key)
