"""The stored deadline (contracts 0027) written for the requests already there, by the rule of
procedure/deadlines.py as it stands when this runs. A database with no request yet (a new one,
the tests') has nothing to do, so the rule's later changes never run against older tables."""

from django.db import migrations


def backfill(apps, schema_editor):
    if not apps.get_model("contracts", "TerminationRequest").objects.exists():
        return
    from procedure.deadlines import refresh_all_deadlines

    refresh_all_deadlines()


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0027_request_deadline"),
        ("billing", "0017_triggers_declared"),
        ("interventions", "0010_conflict_reviews"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
