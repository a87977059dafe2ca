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
        ('billing', '0016_tariff_in_force_frozen'),
    ]

    operations = [
        migrations.RunSQL(
            (
            "DROP TRIGGER billing_accountentry_append_only ON billing_accountentry;"
            "DROP TRIGGER billing_accountentry_no_truncate ON billing_accountentry;"
            "DROP TRIGGER billing_accounttransfer_append_only ON billing_accounttransfer;"
            "DROP TRIGGER billing_accounttransfer_no_truncate ON billing_accounttransfer;"
            "DROP TRIGGER billing_attestation_append_only ON billing_attestation;"
            "DROP TRIGGER billing_attestation_no_truncate ON billing_attestation;"
            "DROP TRIGGER attestationcheck_append_only ON billing_attestationcheck;"
            "DROP TRIGGER attestationcheck_no_truncate ON billing_attestationcheck;"
            "DROP TRIGGER billing_cashclosing_no_truncate ON billing_cashclosing;"
            "DROP TRIGGER cashclosing_kept ON billing_cashclosing;"
            "DROP TRIGGER billing_creditnote_append_only ON billing_creditnote;"
            "DROP TRIGGER billing_creditnote_no_truncate ON billing_creditnote;"
            "DROP TRIGGER billing_creditnoteline_append_only ON billing_creditnoteline;"
            "DROP TRIGGER billing_creditnoteline_no_truncate ON billing_creditnoteline;"
            "DROP TRIGGER billing_document_no_truncate ON billing_document;"
            "DROP TRIGGER document_kept ON billing_document;"
            "DROP TRIGGER billing_documentprint_append_only ON billing_documentprint;"
            "DROP TRIGGER billing_documentprint_no_truncate ON billing_documentprint;"
            "DROP TRIGGER billing_invoice_no_truncate ON billing_invoice;"
            "DROP TRIGGER invoice_immutable_once_validated ON billing_invoice;"
            "DROP TRIGGER billing_invoiceline_no_truncate ON billing_invoiceline;"
            "DROP TRIGGER invoice_line_immutable_once_validated ON billing_invoiceline;"
            "DROP TRIGGER billing_refundauthorisation_append_only ON billing_refundauthorisation;"
            "DROP TRIGGER billing_refundauthorisation_no_truncate ON billing_refundauthorisation;"
            "DROP TRIGGER billing_settlement_append_only ON billing_settlement;"
            "DROP TRIGGER billing_settlement_no_truncate ON billing_settlement;"
            "DROP TRIGGER tariffitem_in_force_frozen ON billing_tariffitem;"
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='accountentry',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='9452a706b26ba3f25d4fe60c29a031a21284c454', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_a4ba7', table='billing_accountentry', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='accountentry',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='21cc7cd26e45bcb4b541210431aabb97c8582227', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_64757', table='billing_accountentry', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='accounttransfer',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='8c17b4714a6e3188402b5d80fbd831b69a36c923', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_fa601', table='billing_accounttransfer', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='accounttransfer',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='4ff30a7e6215defad832429ff31fa96873db4996', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_5448e', table='billing_accounttransfer', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='attestation',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='7ef231ffdb546c4cbc575a86c408840af400a3be', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_257f1', table='billing_attestation', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='attestation',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='8fd2bea6867374d4d1911748d59a5900ef893ebc', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_584e5', table='billing_attestation', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='attestationcheck',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='5367dfc3f32d976bc600fa0670c7e5ed687ad1e6', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_d9590', table='billing_attestationcheck', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='attestationcheck',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='7067e60e9ffa40c97ffb8af8bdc73ebd86b1fe93', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_07b59', table='billing_attestationcheck', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='cashclosing',
            trigger=pgtrigger.compiler.Trigger(name='kept', sql=contracts.triggers.GuardSql(func="\n    IF TG_OP = 'DELETE' OR OLD.countersigned_at IS NOT NULL\n       OR (NEW.agency_id, NEW.cashier_id, NEW.day, NEW.number, NEW.totals, NEW.collected,\n           NEW.refunded, NEW.advances, NEW.count, NEW.closed_at)\n          IS DISTINCT FROM\n          (OLD.agency_id, OLD.cashier_id, OLD.day, OLD.number, OLD.totals, OLD.collected,\n           OLD.refunded, OLD.advances, OLD.count, OLD.closed_at)\n    THEN\n        RAISE EXCEPTION 'cash closing %: % refused', OLD.number, TG_OP USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n    RETURN NEW;\n", hash='ff71e6854437bbfd5ea6594a598d120fce846c1c', operation='UPDATE OR DELETE', pgid='pgtrigger_kept_1785e', table='billing_cashclosing', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='cashclosing',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='0edc1d16d131d6216e2f1e5105cc1a2fae79ce42', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_1ee7d', table='billing_cashclosing', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='creditnote',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='9dbdff2a57f16f9bc877b2778df63f3073a39fc9', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_35af7', table='billing_creditnote', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='creditnote',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='2baa5ce297cd6144ec0c3bda6331793cf2d1ab18', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_45a1e', table='billing_creditnote', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='creditnoteline',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='721e9d98d87082196a54551d79a99c9ab9381389', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_bb3d7', table='billing_creditnoteline', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='creditnoteline',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='db91095e54e4fb7b1a30a21bd101e5d4fed34927', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_a6b5a', table='billing_creditnoteline', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='document',
            trigger=pgtrigger.compiler.Trigger(name='kept', sql=contracts.triggers.GuardSql(func="\n    IF TG_OP = 'DELETE' THEN\n        IF OLD.status = 'ready' THEN\n            RAISE EXCEPTION 'document %: DELETE refused', OLD.number USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN OLD;\n    END IF;\n    IF OLD.status = 'ready' AND (NEW.kind, NEW.number, NEW.status, NEW.content, NEW.sha256,\n        NEW.issued_at) IS DISTINCT FROM (OLD.kind, OLD.number, OLD.status, OLD.content,\n        OLD.sha256, OLD.issued_at) THEN\n        RAISE EXCEPTION 'document % is stored: it cannot change', OLD.number USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n    RETURN NEW;\n", hash='368d91eb8f130d1bc92df6376a6ea8df92bc24a3', operation='UPDATE OR DELETE', pgid='pgtrigger_kept_6976e', table='billing_document', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='document',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='4cf64db1863b160fae99b64894fd4c02540aa737', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_0b763', table='billing_document', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='documentprint',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='76eef2e52d874ccfaf2c80da32c121cce5eafa77', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_027bd', table='billing_documentprint', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='documentprint',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='3614ee15ed455e9c491ee8cc1e6656d3c4358ae3', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_ec630', table='billing_documentprint', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='invoice',
            trigger=pgtrigger.compiler.Trigger(name='kept', sql=contracts.triggers.GuardSql(func="\n    IF TG_OP = 'DELETE' THEN\n        IF OLD.state <> 'draft' THEN\n            RAISE EXCEPTION 'invoice % is validated: DELETE refused', OLD.number USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN OLD;\n    END IF;\n    IF OLD.state = 'draft' THEN\n        IF NEW.state NOT IN ('draft', 'validated') THEN\n            RAISE EXCEPTION 'a draft invoice is validated before anything else' USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NEW;\n    END IF;\n    IF (NEW.number, NEW.kind, NEW.contract_id, NEW.request_id, NEW.issued_on,\n        NEW.period_start, NEW.period_end, NEW.old_index, NEW.new_index,\n        NEW.rollover, NEW.consumption, NEW.days, NEW.vat_rate, NEW.vat_base,\n        NEW.vat_amount, NEW.total, NEW.unpaid_total, NEW.advances_total,\n        NEW.deposit_amount, NEW.balance, NEW.validated_by_id, NEW.validated_at)\n       IS DISTINCT FROM\n       (OLD.number, OLD.kind, OLD.contract_id, OLD.request_id, OLD.issued_on,\n        OLD.period_start, OLD.period_end, OLD.old_index, OLD.new_index,\n        OLD.rollover, OLD.consumption, OLD.days, OLD.vat_rate, OLD.vat_base,\n        OLD.vat_amount, OLD.total, OLD.unpaid_total, OLD.advances_total,\n        OLD.deposit_amount, OLD.balance, OLD.validated_by_id, OLD.validated_at)\n    THEN\n        RAISE EXCEPTION 'invoice % is validated: its amounts cannot change', OLD.number USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n    IF NEW.state IS DISTINCT FROM OLD.state THEN\n        IF OLD.state <> 'validated' THEN\n            RAISE EXCEPTION 'invoice % is %: its state cannot change', OLD.number, OLD.state\n                USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        IF NEW.state = 'settled' AND NOT (\n            EXISTS (SELECT 1 FROM billing_settlement WHERE invoice_id = OLD.id)\n            -- paid at the billing system: the imported payment entered into the account first\n            OR EXISTS (SELECT 1 FROM billing_accountentry WHERE invoice_id = OLD.id\n                       AND kind = 'payment' AND source_reference <> '')\n            OR (OLD.kind = 'consumption' AND EXISTS (\n                SELECT 1 FROM billing_settlement s\n                JOIN billing_invoice b ON b.id = s.invoice_id\n                WHERE b.contract_id = OLD.contract_id AND b.kind = 'balance'))\n        ) THEN\n            RAISE EXCEPTION 'invoice % settled without a settlement', OLD.number USING ERRCODE = 'integrity_constraint_violation';\n        ELSIF NEW.state = 'cancelled' AND NOT EXISTS (\n            SELECT 1 FROM billing_creditnote WHERE invoice_id = OLD.id\n        ) THEN\n            RAISE EXCEPTION 'invoice % cancelled without a credit note', OLD.number USING ERRCODE = 'integrity_constraint_violation';\n        ELSIF NEW.state = 'transferred' AND NOT EXISTS (\n            SELECT 1 FROM billing_accounttransfer WHERE invoice_id = OLD.id\n        ) THEN\n            RAISE EXCEPTION 'invoice % transferred without a transfer', OLD.number USING ERRCODE = 'integrity_constraint_violation';\n        ELSIF NEW.state NOT IN ('settled', 'cancelled', 'transferred') THEN\n            RAISE EXCEPTION 'invoice %: % to % refused', OLD.number, OLD.state, NEW.state\n                USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n    END IF;\n    RETURN NEW;\n", hash='331aad0e96c0e78cbe9605d33bb7ad9a16ff8cde', operation='UPDATE OR DELETE', pgid='pgtrigger_kept_e3f48', table='billing_invoice', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='invoice',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='314af83fdbf0efc218b892b7d4ce1de52bcb0c99', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_beee2', table='billing_invoice', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='invoiceline',
            trigger=pgtrigger.compiler.Trigger(name='kept', sql=contracts.triggers.GuardSql(declare='DECLARE invoice_state text;', func="\n    SELECT state INTO invoice_state FROM billing_invoice\n     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;\n    IF invoice_state IS DISTINCT FROM 'draft' THEN\n        RAISE EXCEPTION 'invoice lines of a validated invoice: % refused', TG_OP USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;\n    RETURN NEW;\n", hash='eed2552cd13799fc41ec57991de21b71a4219692', operation='INSERT OR UPDATE OR DELETE', pgid='pgtrigger_kept_5bfb9', table='billing_invoiceline', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='invoiceline',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='9938880c01d76649408ec4b9d1195afc7a835aae', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_1dce9', table='billing_invoiceline', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='refundauthorisation',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='be9763506744e17544a098903c71608be9cdc083', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_30913', table='billing_refundauthorisation', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='refundauthorisation',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='329bf73e0a4cfc4c70ea12cadd74bcac7bb8d77e', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_6664b', table='billing_refundauthorisation', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='settlement',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=contracts.triggers.GuardSql(func="RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='61236b91c5ad9b0c1fd91c46980aafc44f557ead', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_e056b', table='billing_settlement', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='settlement',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=contracts.triggers.GuardSql(func="\n        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN\n            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';\n        END IF;\n        RETURN NULL;\n    ", hash='d9e4e0853bdf4c976df71492071da41bd7f1f31d', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_4fae0', table='billing_settlement', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='tariffitem',
            trigger=pgtrigger.compiler.Trigger(name='in_force_frozen', sql=contracts.triggers.GuardSql(func="\n    IF OLD.valid_from <= current_date THEN\n        RAISE EXCEPTION 'tariff item % in force since %: % refused (a new item '\n            'dated from when it applies)', OLD.id, OLD.valid_from, TG_OP USING ERRCODE = 'integrity_constraint_violation';\n    END IF;\n    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;\n", hash='d4bf5a083c80af0969d170aa7983f147f75c0d19', operation='UPDATE OR DELETE', pgid='pgtrigger_in_force_frozen_d73b1', table='billing_tariffitem', when='BEFORE')),
        ),
    ]
