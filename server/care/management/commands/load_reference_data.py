from django.core.management.base import BaseCommand

from server.care.reference_data import load_reference_data


class Command(BaseCommand):
    help = (
        "Load the pilot area, beats, call types, screening protocol, catalogs and directory "
        "(adds what is missing; never overwrites an administrator's edits)."
    )

    def handle(self, *args, **options):
        made = load_reference_data()
        self.stdout.write("Reference data: " + ", ".join(f"{v} new {k}" for k, v in made.items()))
