import datetime as dt

from django.db import migrations

# DESIGN §10: invoice → settlement 30 days (then transfer to recovery); refund waiting → 90.
DEFAULTS = {"settlement": 30, "refund_claim": 90}


def create(apps, schema_editor):
    Delay = apps.get_model("contracts", "Delay")
    for kind, days in DEFAULTS.items():
        Delay.objects.get_or_create(kind=kind, valid_from=dt.date(2020, 1, 1), defaults={"days": days})


class Migration(migrations.Migration):
    dependencies = [("contracts", "0007_ending_contracts_delays")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
