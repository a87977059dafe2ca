"""What each request already there waits for (contracts 0029), by the rules of
procedure/queues.py as they stand when this runs. A database with no request yet (a new one, the
tests') has nothing to do, so the rules' later changes never run against older tables."""

from django.db import migrations


def backfill(apps, schema_editor):
    if not apps.get_model("contracts", "TerminationRequest").objects.exists():
        return
    from procedure.queues import refresh_queues

    refresh_queues()


class Migration(migrations.Migration):
    dependencies = [
        ("procedure", "0001_backfill_deadlines"),
        ("contracts", "0029_request_work_queue"),
        ("interventions", "0011_order_index_covers_the_queues"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
