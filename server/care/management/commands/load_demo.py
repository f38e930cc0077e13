import datetime
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from server.accounts.models import User
from server.care.reference_data import FIXTURES, load_reference_data
from server.dispatch.models import RosterEntry, Shift, Unit


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
            _start_the_demo_day(units, data["users"])
        self.stdout.write(
            f"Demo: {len(units)} units, {len(data['users'])} people "
            f"(password '{data['password']}')."
        )


def _start_the_demo_day(units: dict, people: list[dict]) -> None:
    """The demo crews are rostered on their units for a year and signed on, as a supervisor
    would set up a day, so a call can be dispatched to them at once."""
    supervisor = User.objects.filter(is_superuser=True).order_by("pk").first()
    today = timezone.localdate()
    for item in people:
        unit = units.get(item.get("unit"))
        if unit is None:
            continue
        person = User.objects.get(username=item["username"])
        if not RosterEntry.objects.filter(user=person, unit=unit, last_day__gte=today).exists():
            RosterEntry.objects.create(
                unit=unit,
                user=person,
                first_day=today,
                last_day=today + datetime.timedelta(days=365),
                created_by=supervisor or person,
                note="Demo roster",
            )
        if not Shift.objects.filter(user=person, ended_at__isnull=True).exists():
            Shift.objects.create(
                unit=unit, user=person, started_at=timezone.now(), signed_on_by=supervisor or person
            )
            User.objects.filter(pk=person.pk).update(unit=unit)
