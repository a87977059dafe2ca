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
        ('contracts', '0021_enrolment_codes'),
    ]

    operations = [
        migrations.RunSQL(
            (
            "DROP TRIGGER datachange_append_only ON contracts_datachange;"
            "DROP TRIGGER datachange_no_truncate ON contracts_datachange;"
            "DROP TRIGGER numbersequence_only_grows ON contracts_numbersequence;"
            "DROP TRIGGER securityevent_append_only ON contracts_securityevent;"
            "DROP TRIGGER securityevent_no_truncate ON contracts_securityevent;"
            "DROP TRIGGER terminationevent_append_only ON contracts_terminationevent;"
            "DROP TRIGGER terminationevent_no_truncate ON contracts_terminationevent;"
            "DROP TRIGGER terminationrequest_state_has_event ON contracts_terminationrequest;"
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='datachange',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='dfdfef2518f92dca37133659ed5e325c904555a2', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_9e21b', table='contracts_datachange', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='datachange',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='c8ea8edfad669bf7f8074d68a24e38a697f39f8f', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_a5a58', table='contracts_datachange', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='numbersequence',
            trigger=pgtrigger.compiler.Trigger(name='only_grows', sql=contracts.triggers.GuardSql(func="\n    IF TG_OP = 'DELETE' OR NEW.last < OLD.last OR NEW.prefix <> OLD.prefix\n       OR NEW.agency_id <> OLD.agency_id OR NEW.year <> OLD.year THEN\n        RAISE EXCEPTION 'numbering %-%-%: a counter only grows (% refused)',\n            OLD.prefix, OLD.agency_id, OLD.year, TG_OP USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n    RETURN NEW;\n", hash='7fcf14b7df39f626a873a1fa48fa814c573d36f8', operation='UPDATE OR DELETE', pgid='pgtrigger_only_grows_0f445', table='contracts_numbersequence', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='securityevent',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='6302361463838c332617af5e8fb7c3e625cdf84d', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_6d15c', table='contracts_securityevent', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='securityevent',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='96709f5998e59a353b4f16b2d8a56fbfb3f2471b', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_6497a', table='contracts_securityevent', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='terminationevent',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='f59b15cdd1496fd61ebf332bb8b5cd1aba943e1f', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_e9041', table='contracts_terminationevent', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='terminationevent',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='eaea0ad9a807cf626d375b75ed89916fd0d2539c', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_592ec', table='contracts_terminationevent', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='terminationrequest',
            trigger=pgtrigger.compiler.Trigger(name='state_has_event', sql=contracts.triggers.GuardSql(condition='WHEN (OLD.state IS DISTINCT FROM NEW.state)', constraint='CONSTRAINT', declare='DECLARE current_state text;', func="\n    SELECT state INTO current_state FROM contracts_terminationrequest WHERE id = NEW.id;\n    IF NOT EXISTS (\n        SELECT 1 FROM contracts_terminationevent e\n         WHERE e.request_id = NEW.id AND e.to_state = current_state\n           AND e.id = (SELECT max(id) FROM contracts_terminationevent WHERE request_id = NEW.id)\n    ) THEN\n        RAISE EXCEPTION 'request %: state % without the event that explains it', NEW.id,\n            current_state USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n    RETURN NULL;\n", hash='6e28eeff00f17c26ce4e58737c5cd869cfbb37fe', operation='UPDATE OF "state"', pgid='pgtrigger_state_has_event_a85f1', table='contracts_terminationrequest', timing='DEFERRABLE INITIALLY DEFERRED', when='AFTER')),
        ),
    ]
