from django.db import migrations

TABLES = ["handoff_acknowledgement", "handoff_apicall"]


class Migration(migrations.Migration):
    dependencies = [("handoff", "0003_receiving_systems")]

    operations = [
        migrations.RunSQL(
            sql="".join(
                f"""
                CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
                    FOR EACH ROW EXECUTE FUNCTION sbee_refuse_change();
                CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t}
                    FOR EACH STATEMENT EXECUTE FUNCTION sbee_refuse_truncate();
                """
                for t in TABLES
            ),
            reverse_sql="".join(
                f"DROP TRIGGER {t}_no_truncate ON {t}; DROP TRIGGER {t}_append_only ON {t};"
                for t in TABLES
            ),
        )
    ]
