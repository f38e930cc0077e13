"""The roll-up counted police-only calls by the dispatcher's free text; it now counts them by the
reason's code. The old rows (free text, some naming people) are deleted, and their days marked
changed so they are counted from the calls until the next roll-up stores them again."""

from django.db import migrations


def forget(apps, schema_editor):
    figure = apps.get_model("reports", "DailyFigure")
    changed = apps.get_model("reports", "ChangedDay")
    old = figure.objects.filter(figure="police_only_reason")
    days = set(old.filter(whole_month=False).values_list("day", flat=True))
    old.delete()
    for day in days:
        changed.objects.get_or_create(day=day)


class Migration(migrations.Migration):
    dependencies = [("reports", "0003_published_months"), ("dispatch", "0005_police_only_reason_codes")]

    operations = [migrations.RunPython(forget, migrations.RunPython.noop)]
