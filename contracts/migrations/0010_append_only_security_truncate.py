from django.db import migrations

SQL = """
-- TRUNCATE empties a table without firing its row triggers: refused on the protected tables,
-- except in a maintenance session (the test suite's flush sets sbee.maintenance = on).
CREATE FUNCTION sbee_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER terminationevent_no_truncate
    BEFORE TRUNCATE ON contracts_terminationevent
    FOR EACH STATEMENT EXECUTE FUNCTION sbee_refuse_truncate();
CREATE TRIGGER securityevent_append_only
    BEFORE UPDATE OR DELETE ON contracts_securityevent
    FOR EACH ROW EXECUTE FUNCTION sbee_refuse_change();
CREATE TRIGGER securityevent_no_truncate
    BEFORE TRUNCATE ON contracts_securityevent
    FOR EACH STATEMENT EXECUTE FUNCTION sbee_refuse_truncate();
"""

REVERSE = """
DROP TRIGGER securityevent_no_truncate ON contracts_securityevent;
DROP TRIGGER securityevent_append_only ON contracts_securityevent;
DROP TRIGGER terminationevent_no_truncate ON contracts_terminationevent;
DROP FUNCTION sbee_refuse_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("contracts", "0009_audit_chains_security_events")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
