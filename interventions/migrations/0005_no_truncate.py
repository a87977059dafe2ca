from django.db import migrations

TABLES = ["interventions_interventionreport", "interventions_visitattempt"]


class Migration(migrations.Migration):
    dependencies = [
        ("interventions", "0004_order_reassignments"),
        ("contracts", "0010_append_only_security_truncate"),
    ]

    operations = [
        migrations.RunSQL(
            "".join(
                f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION sbee_refuse_truncate();"
                for t in TABLES
            ),
            "".join(f"DROP TRIGGER {t}_no_truncate ON {t};" for t in TABLES),
        )
    ]
