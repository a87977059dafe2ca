from django.db import migrations


def create_role(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name="manager")


class Migration(migrations.Migration):
    dependencies = [("contracts", "0014_directions_regionales")]

    operations = [migrations.RunPython(create_role, migrations.RunPython.noop)]
