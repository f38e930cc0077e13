import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from server.accounts.models import User
from server.care.reference_data import FIXTURES, load_reference_data
from server.dispatch.models import Unit


class Command(BaseCommand):
    help = "Load the demo units and people (password from fixtures/demo.json). Never in production."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Demo data is for DEBUG installs only; it has known passwords.")
        load_reference_data()
        data = json.loads((FIXTURES / "demo.json").read_text())
        with transaction.atomic():
            units = {}
            for item in data["units"]:
                units[item["call_sign"]], _ = Unit.objects.get_or_create(
                    call_sign=item["call_sign"],
                    defaults={"kind": item["kind"], "home_beat": item.get("home_beat", "")},
                )
            for item in data["users"]:
                user, created = User.objects.get_or_create(
                    username=item["username"],
                    defaults={
                        "role": item["role"],
                        "unit": units.get(item.get("unit")),
                        "first_name": item.get("first_name", ""),
                        "last_name": item.get("last_name", ""),
                        "is_staff": bool(item.get("superuser")),
                        "is_superuser": bool(item.get("superuser")),
                    },
                )
                if created:
                    user.set_password(data["password"])
                    user.save()
        self.stdout.write(
            f"Demo: {len(units)} units, {len(data['users'])} people "
            f"(password '{data['password']}')."
        )
