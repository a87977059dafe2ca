"""The protections of this app's tables, declared on the models (contracts/triggers.py): the
hand-written triggers of the earlier migrations are dropped, the declared ones installed, in
one transaction (no moment without them). Forward only: going back would leave the tables
without their guard."""

import contracts.triggers
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('handoff', '0005_import_runs'),
    ]

    operations = [
        migrations.RunSQL(
            (
            "DROP TRIGGER handoff_acknowledgement_append_only ON handoff_acknowledgement;"
            "DROP TRIGGER handoff_acknowledgement_no_truncate ON handoff_acknowledgement;"
            "DROP TRIGGER handoff_apicall_append_only ON handoff_apicall;"
            "DROP TRIGGER handoff_apicall_no_truncate ON handoff_apicall;"
            "DROP TRIGGER outboxrecord_append_only ON handoff_outboxrecord;"
            "DROP TRIGGER outboxrecord_no_truncate ON handoff_outboxrecord;"
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='acknowledgement',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='2a213f5146a96c527ea0a8f417c3673fa438abbb', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_4327a', table='handoff_acknowledgement', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='acknowledgement',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='8cf00dbb70d24a5832df02cb0c64658e4538211f', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_85ea3', table='handoff_acknowledgement', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='apicall',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='fffdcc4cb7a20960521f073cb063efb345843e17', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_2e862', table='handoff_apicall', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='apicall',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='291a6a7cdccf7dbdc8d403c352d2086adcb7e247', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_b514d', table='handoff_apicall', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='outboxrecord',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='8e0943c4ed8db521f9b26b5eb4f0dd4887528c11', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_2e4e2', table='handoff_outboxrecord', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='outboxrecord',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='01f5f12fb38ed38dbcb0ee5d6f6347e1352d9ff9', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_2dd03', table='handoff_outboxrecord', when='BEFORE')),
        ),
    ]
