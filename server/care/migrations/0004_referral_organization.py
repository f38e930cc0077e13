"""Each referral keeps the organization it was made (and consented) to: the new fields, filled
for existing referrals from their service's organization as it stands now."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_from_service(apps, schema_editor):
    Referral = apps.get_model("care", "Referral")
    DirectoryService = apps.get_model("care", "DirectoryService")
    service = DirectoryService.objects.filter(pk=OuterRef("service_id"))
    Referral.objects.update(
        organization_hsds_id=Subquery(service.values("organization_hsds_id")[:1]),
        organization_name=Subquery(service.values("organization")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("care", "0003_directory_hsds_fields"),
    ]

    operations = [
        migrations.AddField(
            model_name="referral",
            name="organization_hsds_id",
            field=models.CharField(
                blank=True, db_index=True, default="", editable=False, max_length=64
            ),
        ),
        migrations.AddField(
            model_name="referral",
            name="organization_name",
            field=models.CharField(blank=True, default="", editable=False, max_length=160),
        ),
        migrations.RunPython(fill_from_service, migrations.RunPython.noop),
    ]
