from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("handoff", "0001_initial"),
        ("contracts", "0010_append_only_security_truncate"),
    ]

    operations = [
        migrations.RunSQL(
            sql="""
            CREATE TRIGGER outboxrecord_append_only
                BEFORE UPDATE OR DELETE ON handoff_outboxrecord
                FOR EACH ROW EXECUTE FUNCTION sbee_refuse_change();
            CREATE TRIGGER outboxrecord_no_truncate
                BEFORE TRUNCATE ON handoff_outboxrecord
                FOR EACH STATEMENT EXECUTE FUNCTION sbee_refuse_truncate();
            """,
            reverse_sql="""
            DROP TRIGGER outboxrecord_no_truncate ON handoff_outboxrecord;
            DROP TRIGGER outboxrecord_append_only ON handoff_outboxrecord;
            """,
        )
    ]
