"""One open emergency per unit, in the database: two holds at the same instant re-alert one.

Where a unit already has several open, the newest stays open and the older ones are closed as
merged into it (their times and audit rows stay), so the constraint can be added."""

from django.db import migrations, models
from django.db.models import F


def merge_duplicate_open_emergencies(apps, schema_editor):
    emergency = apps.get_model("dispatch", "Emergency")
    seen: set[int] = set()
    for found in emergency.objects.filter(ended_at__isnull=True).order_by("unit_id", "-started_at"):
        if found.unit_id in seen:
            emergency.objects.filter(pk=found.pk).update(
                ended_at=F("received_at"),
                end_note="Merged into the unit's newer open emergency (one open per unit).",
            )
        seen.add(found.unit_id)


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0010_people_ride_units_of_their_kind"),
    ]

    operations = [
        migrations.RunPython(merge_duplicate_open_emergencies, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="emergency",
            constraint=models.UniqueConstraint(
                condition=models.Q(("ended_at__isnull", True)),
                fields=("unit",),
                name="one_open_emergency_per_unit",
            ),
        ),
    ]
