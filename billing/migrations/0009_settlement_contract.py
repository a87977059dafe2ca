import django.db.models.deletion
from django.db import migrations, models


def backfill(apps, schema_editor):
    Settlement = apps.get_model("billing", "Settlement")
    for settlement in Settlement.objects.filter(contract__isnull=True).select_related("invoice"):
        settlement.contract_id = settlement.invoice.contract_id
        settlement.save(update_fields=["contract"])


class Migration(migrations.Migration):
    dependencies = [("billing", "0008_money_beyond_the_happy_path")]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="settlement",
            name="contract",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="settlements",
                to="contracts.contract",
                verbose_name="contrat",
            ),
        ),
    ]
