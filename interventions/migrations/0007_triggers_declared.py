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
        ('interventions', '0006_report_signer_not_author'),
    ]

    operations = [
        migrations.RunSQL(
            (
            "DROP TRIGGER interventionreport_kept ON interventions_interventionreport;"
            "DROP TRIGGER interventions_interventionreport_no_truncate ON interventions_interventionreport;"
            "DROP TRIGGER interventions_visitattempt_no_truncate ON interventions_visitattempt;"
            "DROP TRIGGER visitattempt_kept ON interventions_visitattempt;"
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='interventionreport',
            trigger=pgtrigger.compiler.Trigger(name='kept', sql=contracts.triggers.GuardSql(func="\n    IF TG_OP = 'DELETE' THEN\n        RAISE EXCEPTION 'report %: DELETE refused', OLD.id USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n    IF (NEW.order_id, NEW.index_read, NEW.read_on, NEW.cut_done, NEW.cut_index,\n        NEW.seal_number, NEW.rollover_confirmed, NEW.high_consumption_confirmed, NEW.remarks,\n        NEW.remarks_other, NEW.safety_steps_confirmed, NEW.entered_by_id, NEW.entered_at)\n       IS DISTINCT FROM\n       (OLD.order_id, OLD.index_read, OLD.read_on, OLD.cut_done, OLD.cut_index,\n        OLD.seal_number, OLD.rollover_confirmed, OLD.high_consumption_confirmed, OLD.remarks,\n        OLD.remarks_other, OLD.safety_steps_confirmed, OLD.entered_by_id, OLD.entered_at)\n       OR (OLD.signed_at IS NOT NULL\n           AND (NEW.signed_at, NEW.signed_by_id) IS DISTINCT FROM (OLD.signed_at, OLD.signed_by_id))\n       OR (OLD.superseded_at IS NOT NULL\n           AND (NEW.superseded_at, NEW.superseded_by_id, NEW.superseded_reason)\n               IS DISTINCT FROM (OLD.superseded_at, OLD.superseded_by_id, OLD.superseded_reason))\n    THEN\n        RAISE EXCEPTION 'report %: what was reported cannot change', OLD.id USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n    RETURN NEW;\n", hash='c6f3aabe61ed693f7803e25716cfc80193e31371', operation='UPDATE OR DELETE', pgid='pgtrigger_kept_e9a63', table='interventions_interventionreport', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='interventionreport',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='f6f7a9d13c0d8a84f24f43276fceb4225dd0b6ef', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_e402f', table='interventions_interventionreport', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='visitattempt',
            trigger=pgtrigger.compiler.Trigger(name='kept', sql=contracts.triggers.GuardSql(func="\n    IF TG_OP = 'DELETE' THEN\n        RAISE EXCEPTION 'visit %: DELETE refused', OLD.id USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n    IF (NEW.order_id, NEW.visited_on, NEW.reason, NEW.reason_detail, NEW.entered_by_id,\n        NEW.entered_at)\n       IS DISTINCT FROM\n       (OLD.order_id, OLD.visited_on, OLD.reason, OLD.reason_detail, OLD.entered_by_id,\n        OLD.entered_at)\n       OR (OLD.rescheduled_to IS NOT NULL\n           AND (NEW.rescheduled_to, NEW.rescheduled_by_id, NEW.rescheduled_at)\n               IS DISTINCT FROM (OLD.rescheduled_to, OLD.rescheduled_by_id, OLD.rescheduled_at))\n    THEN\n        RAISE EXCEPTION 'visit %: what was recorded cannot change', OLD.id USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n    RETURN NEW;\n", hash='3d020d81e5e807e86e6567ba074afc7a647472b9', operation='UPDATE OR DELETE', pgid='pgtrigger_kept_414ae', table='interventions_visitattempt', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='visitattempt',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='7786437e46d5cab1e1785f7cb1947d1a3ed606db', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_6a3a6', table='interventions_visitattempt', when='BEFORE')),
        ),
    ]
