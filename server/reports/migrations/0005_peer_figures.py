"""The roll-up now counts the peer programs' figures (eligible calls CARE responded to, police
backup and its minutes to arrive, people not found, declined services, transports). Days rolled
up before are marked changed, so they are counted from the calls until the next roll-up stores
them again; months published before are marked to get those figures added once (publication.py)."""

from django.db import migrations, models


def recount(apps, schema_editor):
    rolled = apps.get_model("reports", "RolledUpDay")
    changed = apps.get_model("reports", "ChangedDay")
    days = rolled.objects.values_list("day", flat=True)
    changed.objects.bulk_create([changed(day=day) for day in days], ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_forget_police_only_free_text")]

    operations = [
        migrations.AddField(
            model_name="publishedmonth",
            name="has_peer_figures",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="publishedmonth",
            name="has_peer_figures",
            field=models.BooleanField(default=True),
        ),
        migrations.RunPython(recount, migrations.RunPython.noop),
    ]
