"""Police-only reasons become codes from a list an administrator edits; the free text the
dispatcher typed is kept as an internal note that is never published."""

from django.db import migrations, models
import django.db.models.deletion

OTHER = "other"


def code_existing_calls(apps, schema_editor):
    """Calls already sent police only keep their words as the note, under the code 'other'."""
    reason = apps.get_model("dispatch", "PoliceOnlyReason")
    incident = apps.get_model("dispatch", "Incident")
    calls = incident.objects.filter(eligible=True, response="police_only")
    if calls.exists():
        reason.objects.get_or_create(code=OTHER, defaults={"label": "Other reason", "order": 6})
        calls.update(police_only_code=OTHER)


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0004_unit_positions_and_calls_without_a_location")]

    operations = [
        migrations.CreateModel(
            name="PoliceOnlyReason",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.SlugField(max_length=40, unique=True)),
                ("label", models.CharField(max_length=120)),
                ("active", models.BooleanField(default=True)),
                ("order", models.PositiveSmallIntegerField(default=0)),
            ],
            options={"ordering": ["order", "code"]},
        ),
        migrations.RenameField(
            model_name="incident", old_name="police_only_reason", new_name="police_only_note"
        ),
        migrations.AlterField(
            model_name="incident",
            name="police_only_note",
            field=models.TextField(
                blank=True,
                help_text="The dispatcher's own words on why the call went police only. "
                "Internal: never published (only the code and its counts are).",
            ),
        ),
        migrations.AddField(
            model_name="incident",
            name="police_only_code",
            field=models.ForeignKey(
                blank=True,
                db_column="police_only_code",
                help_text="Why an eligible call was sent police only, from the program's list.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="dispatch.policeonlyreason",
                to_field="code",
            ),
        ),
        migrations.RunPython(code_existing_calls, migrations.RunPython.noop),
    ]
