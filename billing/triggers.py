"""The rules the database keeps on billing's records (DESIGN §11), declared on the models
(contracts/triggers.py says how): what may still change on a validated invoice, a stored
document, an arrêté de caisse, a tariff in force."""

import pgtrigger

from contracts.triggers import REFUSED, Guard

# A draft invoice may change or go; once validated, its figures never change, and its state
# moves only with the record that explains it (settlement, credit note, transfer).
INVOICE_KEPT = f"""
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'draft' THEN
            RAISE EXCEPTION 'invoice % is validated: DELETE refused', OLD.number {REFUSED};
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state = 'draft' THEN
        IF NEW.state NOT IN ('draft', 'validated') THEN
            RAISE EXCEPTION 'a draft invoice is validated before anything else' {REFUSED};
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.number, NEW.kind, NEW.contract_id, NEW.request_id, NEW.agency_id, NEW.issued_on,
        NEW.period_start, NEW.period_end, NEW.old_index, NEW.new_index,
        NEW.rollover, NEW.consumption, NEW.days, NEW.vat_rate, NEW.vat_base,
        NEW.vat_amount, NEW.total, NEW.unpaid_total, NEW.advances_total,
        NEW.deposit_amount, NEW.balance, NEW.validated_by_id, NEW.validated_at)
       IS DISTINCT FROM
       (OLD.number, OLD.kind, OLD.contract_id, OLD.request_id, OLD.agency_id, OLD.issued_on,
        OLD.period_start, OLD.period_end, OLD.old_index, OLD.new_index,
        OLD.rollover, OLD.consumption, OLD.days, OLD.vat_rate, OLD.vat_base,
        OLD.vat_amount, OLD.total, OLD.unpaid_total, OLD.advances_total,
        OLD.deposit_amount, OLD.balance, OLD.validated_by_id, OLD.validated_at)
    THEN
        RAISE EXCEPTION 'invoice % is validated: its amounts cannot change', OLD.number {REFUSED};
    END IF;
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF OLD.state <> 'validated' THEN
            RAISE EXCEPTION 'invoice % is %: its state cannot change', OLD.number, OLD.state
                {REFUSED};
        END IF;
        IF NEW.state = 'settled' AND NOT (
            EXISTS (SELECT 1 FROM billing_settlement WHERE invoice_id = OLD.id)
            -- paid at the billing system: the imported payment entered into the account first
            OR EXISTS (SELECT 1 FROM billing_accountentry WHERE invoice_id = OLD.id
                       AND kind = 'payment' AND source_reference <> '')
            OR (OLD.kind = 'consumption' AND EXISTS (
                SELECT 1 FROM billing_settlement s
                JOIN billing_invoice b ON b.id = s.invoice_id
                WHERE b.contract_id = OLD.contract_id AND b.kind = 'balance'))
        ) THEN
            RAISE EXCEPTION 'invoice % settled without a settlement', OLD.number {REFUSED};
        ELSIF NEW.state = 'cancelled' AND NOT EXISTS (
            SELECT 1 FROM billing_creditnote WHERE invoice_id = OLD.id
        ) THEN
            RAISE EXCEPTION 'invoice % cancelled without a credit note', OLD.number {REFUSED};
        ELSIF NEW.state = 'transferred' AND NOT EXISTS (
            SELECT 1 FROM billing_accounttransfer WHERE invoice_id = OLD.id
        ) THEN
            RAISE EXCEPTION 'invoice % transferred without a transfer', OLD.number {REFUSED};
        ELSIF NEW.state NOT IN ('settled', 'cancelled', 'transferred') THEN
            RAISE EXCEPTION 'invoice %: % to % refused', OLD.number, OLD.state, NEW.state
                {REFUSED};
        END IF;
    END IF;
    RETURN NEW;
"""

# An invoice belongs to its request's agency (its contract's, without a request), written by
# the database whoever writes the row (the services, the import's INSERT … SELECT): the
# dashboards sum an agency's invoices from an index on it. A save() of an instance read before
# (its agency unknown in memory) keeps the one written. Runs before "kept" (triggers fire in
# the order of their names), which then refuses any change of it on a validated invoice.
INVOICE_AGENCY = """
    IF NEW.agency_id IS NULL THEN
        IF TG_OP = 'UPDATE' THEN
            NEW.agency_id := OLD.agency_id;
        END IF;
        NEW.agency_id := COALESCE(
            NEW.agency_id,
            (SELECT agency_id FROM contracts_terminationrequest WHERE id = NEW.request_id),
            (SELECT agency_id FROM contracts_contract WHERE id = NEW.contract_id)
        );
    END IF;
    RETURN NEW;
"""


def invoice_agency() -> Guard:
    return Guard(name="agency", operation=pgtrigger.Insert | pgtrigger.Update, func=INVOICE_AGENCY)


# The lines of a validated invoice are its figures: none added, changed or removed.
INVOICE_LINE_KEPT = f"""
    SELECT state INTO invoice_state FROM billing_invoice
     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;
    IF invoice_state IS DISTINCT FROM 'draft' THEN
        RAISE EXCEPTION 'invoice lines of a validated invoice: % refused', TG_OP {REFUSED};
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
"""
INVOICE_LINE_OPERATIONS = pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete
INVOICE_LINE_DECLARE = [("invoice_state", "text")]

# A document waiting to be rendered gets its content once; a stored one never changes.
DOCUMENT_KEPT = f"""
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'ready' THEN
            RAISE EXCEPTION 'document %: DELETE refused', OLD.number {REFUSED};
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'ready' AND (NEW.kind, NEW.number, NEW.status, NEW.content, NEW.sha256,
        NEW.issued_at) IS DISTINCT FROM (OLD.kind, OLD.number, OLD.status, OLD.content,
        OLD.sha256, OLD.issued_at) THEN
        RAISE EXCEPTION 'document % is stored: it cannot change', OLD.number {REFUSED};
    END IF;
    RETURN NEW;
"""

# An arrêté de caisse: its totals never change; only its countersignature is added, once.
CASH_CLOSING_KEPT = f"""
    IF TG_OP = 'DELETE' OR OLD.countersigned_at IS NOT NULL
       OR (NEW.agency_id, NEW.cashier_id, NEW.day, NEW.number, NEW.totals, NEW.collected,
           NEW.refunded, NEW.advances, NEW.count, NEW.closed_at)
          IS DISTINCT FROM
          (OLD.agency_id, OLD.cashier_id, OLD.day, OLD.number, OLD.totals, OLD.collected,
           OLD.refunded, OLD.advances, OLD.count, OLD.closed_at)
    THEN
        RAISE EXCEPTION 'cash closing %: % refused', OLD.number, TG_OP {REFUSED};
    END IF;
    RETURN NEW;
"""

# A tariff item in force is never changed in place: a new item, dated from when it applies.
TARIFF_IN_FORCE_FROZEN = f"""
    IF OLD.valid_from <= current_date THEN
        RAISE EXCEPTION 'tariff item % in force since %: % refused (a new item '
            'dated from when it applies)', OLD.id, OLD.valid_from, TG_OP {REFUSED};
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
"""


def tariff_in_force_frozen() -> Guard:
    return Guard(
        name="in_force_frozen",
        operation=pgtrigger.Update | pgtrigger.Delete,
        func=TARIFF_IN_FORCE_FROZEN,
    )
