from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("contracts", "0003_termination_requests")]

    operations = [
        migrations.RunSQL(
            sql="""
            CREATE FUNCTION sbee_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'integrity_constraint_violation';
            END $$;
            CREATE TRIGGER terminationevent_append_only
                BEFORE UPDATE OR DELETE ON contracts_terminationevent
                FOR EACH ROW EXECUTE FUNCTION sbee_refuse_change();
            """,
            reverse_sql="""
            DROP TRIGGER terminationevent_append_only ON contracts_terminationevent;
            DROP FUNCTION sbee_refuse_change();
            """,
        )
    ]
