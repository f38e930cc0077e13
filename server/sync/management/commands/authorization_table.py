from django.core.management.base import BaseCommand

from server.sync.policy_table import policy_table


class Command(BaseCommand):
    help = "Print the authorization policy table (docs/security.md) made from the commands."

    def handle(self, *args, **options):
        self.stdout.write(policy_table())
