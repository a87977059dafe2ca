from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_invoice_lines_settlements")]

    operations = [
        migrations.RunSQL(
            sql="""
            CREATE FUNCTION sbee_invoice_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    IF OLD.state <> 'draft' THEN
                        RAISE EXCEPTION 'invoice % is validated: DELETE refused', OLD.number
                            USING ERRCODE = 'integrity_constraint_violation';
                    END IF;
                    RETURN OLD;
                END IF;
                IF OLD.state <> 'draft' AND (
                    NEW.state = 'draft'
                    OR (NEW.number, NEW.kind, NEW.contract_id, NEW.request_id, NEW.issued_on,
                        NEW.period_start, NEW.period_end, NEW.old_index, NEW.new_index,
                        NEW.rollover, NEW.consumption, NEW.days, NEW.vat_rate, NEW.vat_base,
                        NEW.vat_amount, NEW.total, NEW.unpaid_total, NEW.advances_total,
                        NEW.deposit_amount, NEW.balance)
                       IS DISTINCT FROM
                       (OLD.number, OLD.kind, OLD.contract_id, OLD.request_id, OLD.issued_on,
                        OLD.period_start, OLD.period_end, OLD.old_index, OLD.new_index,
                        OLD.rollover, OLD.consumption, OLD.days, OLD.vat_rate, OLD.vat_base,
                        OLD.vat_amount, OLD.total, OLD.unpaid_total, OLD.advances_total,
                        OLD.deposit_amount, OLD.balance)
                ) THEN
                    RAISE EXCEPTION 'invoice % is validated: its amounts cannot change', OLD.number
                        USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER invoice_immutable_once_validated
                BEFORE UPDATE OR DELETE ON billing_invoice
                FOR EACH ROW EXECUTE FUNCTION sbee_invoice_immutable();

            CREATE FUNCTION sbee_invoice_line_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                invoice_state text;
            BEGIN
                SELECT state INTO invoice_state FROM billing_invoice
                 WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;
                IF invoice_state IS DISTINCT FROM 'draft' THEN
                    RAISE EXCEPTION 'invoice lines of a validated invoice: % refused', TG_OP
                        USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER invoice_line_immutable_once_validated
                BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
                FOR EACH ROW EXECUTE FUNCTION sbee_invoice_line_immutable();
            """,
            reverse_sql="""
            DROP TRIGGER invoice_line_immutable_once_validated ON billing_invoiceline;
            DROP FUNCTION sbee_invoice_line_immutable();
            DROP TRIGGER invoice_immutable_once_validated ON billing_invoice;
            DROP FUNCTION sbee_invoice_immutable();
            """,
        )
    ]
