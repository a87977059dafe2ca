from django.db import migrations


class Migration(migrations.Migration):
    """A tariff item in force is never changed nor removed: the invoices validated under it were
    computed from it. A new grid is new items dated from when they apply (the admin says so;
    the database holds to it for any account)."""

    dependencies = [
        ("billing", "0015_attestation_checks"),
        ("contracts", "0010_append_only_security_truncate"),
    ]

    operations = [
        migrations.RunSQL(
            sql="""
            CREATE FUNCTION sbee_tariff_in_force_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF OLD.valid_from <= current_date THEN
                    RAISE EXCEPTION 'tariff item % in force since %: % refused (a new item '
                        'dated from when it applies)', OLD.id, OLD.valid_from, TG_OP
                        USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END $$;
            CREATE TRIGGER tariffitem_in_force_frozen
                BEFORE UPDATE OR DELETE ON billing_tariffitem
                FOR EACH ROW EXECUTE FUNCTION sbee_tariff_in_force_frozen();
            """,
            reverse_sql="""
            DROP TRIGGER tariffitem_in_force_frozen ON billing_tariffitem;
            DROP FUNCTION sbee_tariff_in_force_frozen();
            """,
        )
    ]
