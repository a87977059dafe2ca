"""Money is append-only in the database (DESIGN §11): whoever connects, a settlement, a ledger
entry, a credit note, a transfer, a refund authorisation, a print, an attestation cannot be
changed or deleted; an invoice changes state only as the procedure does (with the settlement,
credit note or transfer that explains it); a stored document never changes; an arrêté de
caisse is only countersigned, once. TRUNCATE is refused on all of them."""

from django.db import migrations

APPEND_ONLY = [
    "billing_settlement",
    "billing_accountentry",
    "billing_creditnote",
    "billing_creditnoteline",
    "billing_accounttransfer",
    "billing_refundauthorisation",
    "billing_documentprint",
    "billing_attestation",
]
NO_TRUNCATE = [
    *APPEND_ONLY,
    "billing_invoice",
    "billing_invoiceline",
    "billing_document",
    "billing_cashclosing",
]

SQL = (
    "".join(
        f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
        "FOR EACH ROW EXECUTE FUNCTION sbee_refuse_change();"
        for t in APPEND_ONLY
    )
    + "".join(
        f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
        "FOR EACH STATEMENT EXECUTE FUNCTION sbee_refuse_truncate();"
        for t in NO_TRUNCATE
    )
    + """
-- An invoice: its amounts frozen once validated (as before), and its state moving only as the
-- procedure moves it, each change backed by the record that explains it.
CREATE OR REPLACE FUNCTION sbee_invoice_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'draft' THEN
            RAISE EXCEPTION 'invoice % is validated: DELETE refused', OLD.number
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state = 'draft' THEN
        IF NEW.state NOT IN ('draft', 'validated') THEN
            RAISE EXCEPTION 'a draft invoice is validated before anything else'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.number, NEW.kind, NEW.contract_id, NEW.request_id, NEW.issued_on,
        NEW.period_start, NEW.period_end, NEW.old_index, NEW.new_index,
        NEW.rollover, NEW.consumption, NEW.days, NEW.vat_rate, NEW.vat_base,
        NEW.vat_amount, NEW.total, NEW.unpaid_total, NEW.advances_total,
        NEW.deposit_amount, NEW.balance, NEW.validated_by_id, NEW.validated_at)
       IS DISTINCT FROM
       (OLD.number, OLD.kind, OLD.contract_id, OLD.request_id, OLD.issued_on,
        OLD.period_start, OLD.period_end, OLD.old_index, OLD.new_index,
        OLD.rollover, OLD.consumption, OLD.days, OLD.vat_rate, OLD.vat_base,
        OLD.vat_amount, OLD.total, OLD.unpaid_total, OLD.advances_total,
        OLD.deposit_amount, OLD.balance, OLD.validated_by_id, OLD.validated_at)
    THEN
        RAISE EXCEPTION 'invoice % is validated: its amounts cannot change', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF OLD.state <> 'validated' THEN
            RAISE EXCEPTION 'invoice % is %: its state cannot change', OLD.number, OLD.state
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.state = 'settled' AND NOT (
            EXISTS (SELECT 1 FROM billing_settlement WHERE invoice_id = OLD.id)
            OR (OLD.kind = 'consumption' AND EXISTS (
                SELECT 1 FROM billing_settlement s
                JOIN billing_invoice b ON b.id = s.invoice_id
                WHERE b.contract_id = OLD.contract_id AND b.kind = 'balance'))
        ) THEN
            RAISE EXCEPTION 'invoice % settled without a settlement', OLD.number
                USING ERRCODE = 'integrity_constraint_violation';
        ELSIF NEW.state = 'cancelled' AND NOT EXISTS (
            SELECT 1 FROM billing_creditnote WHERE invoice_id = OLD.id
        ) THEN
            RAISE EXCEPTION 'invoice % cancelled without a credit note', OLD.number
                USING ERRCODE = 'integrity_constraint_violation';
        ELSIF NEW.state = 'transferred' AND NOT EXISTS (
            SELECT 1 FROM billing_accounttransfer WHERE invoice_id = OLD.id
        ) THEN
            RAISE EXCEPTION 'invoice % transferred without a transfer', OLD.number
                USING ERRCODE = 'integrity_constraint_violation';
        ELSIF NEW.state NOT IN ('settled', 'cancelled', 'transferred') THEN
            RAISE EXCEPTION 'invoice %: % to % refused', OLD.number, OLD.state, NEW.state
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;

-- A stored document: its bytes, hash and number never change once ready; never deleted then.
CREATE FUNCTION sbee_document_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'ready' THEN
            RAISE EXCEPTION 'document %: DELETE refused', OLD.number
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'ready' AND (NEW.kind, NEW.number, NEW.status, NEW.content, NEW.sha256,
        NEW.issued_at) IS DISTINCT FROM (OLD.kind, OLD.number, OLD.status, OLD.content,
        OLD.sha256, OLD.issued_at) THEN
        RAISE EXCEPTION 'document % is stored: it cannot change', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER document_kept BEFORE UPDATE OR DELETE ON billing_document
    FOR EACH ROW EXECUTE FUNCTION sbee_document_kept();

-- An arrêté de caisse: countersigned once; nothing else changes; never deleted.
CREATE FUNCTION sbee_cash_closing_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.countersigned_at IS NOT NULL
       OR (NEW.agency_id, NEW.cashier_id, NEW.day, NEW.number, NEW.totals, NEW.collected,
           NEW.refunded, NEW.advances, NEW.count, NEW.closed_at)
          IS DISTINCT FROM
          (OLD.agency_id, OLD.cashier_id, OLD.day, OLD.number, OLD.totals, OLD.collected,
           OLD.refunded, OLD.advances, OLD.count, OLD.closed_at)
    THEN
        RAISE EXCEPTION 'cash closing %: % refused', OLD.number, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER cashclosing_kept BEFORE UPDATE OR DELETE ON billing_cashclosing
    FOR EACH ROW EXECUTE FUNCTION sbee_cash_closing_kept();
"""
)

REVERSE = (
    "DROP TRIGGER cashclosing_kept ON billing_cashclosing;"
    "DROP FUNCTION sbee_cash_closing_kept();"
    "DROP TRIGGER document_kept ON billing_document;"
    "DROP FUNCTION sbee_document_kept();"
    + "".join(f"DROP TRIGGER {t}_no_truncate ON {t};" for t in NO_TRUNCATE)
    + "".join(f"DROP TRIGGER {t}_append_only ON {t};" for t in APPEND_ONLY)
)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0010_transfer_zero"),
        ("contracts", "0010_append_only_security_truncate"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE)]
