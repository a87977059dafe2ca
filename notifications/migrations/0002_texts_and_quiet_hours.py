"""The shipped texts of every message in French and English, every kind switched on, and the
quiet hours (21:00 to 07:00): rows the admin then edits."""

import datetime as dt

from django.db import migrations


def seed(apps, schema_editor):
    from notifications.texts import DEFAULTS

    Template = apps.get_model("notifications", "Template")
    KindSetting = apps.get_model("notifications", "KindSetting")
    QuietHours = apps.get_model("notifications", "QuietHours")
    for (kind, language), text in DEFAULTS.items():
        Template.objects.get_or_create(kind=kind, language=language, defaults={"text": text})
        KindSetting.objects.get_or_create(kind=kind)
    if not QuietHours.objects.exists():
        QuietHours.objects.create(start=dt.time(21, 0), end=dt.time(7, 0))


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
