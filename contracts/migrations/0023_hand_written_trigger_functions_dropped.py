"""The functions of the hand-written triggers, unused once every app declares its triggers on
its models (contracts/triggers.py). sbee_record_change stays: the data-change trail of 0020
also watches tables of other libraries (users' groups, second factors, lockouts), which no
model of ours declares."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0022_triggers_declared"),
        ("billing", "0017_triggers_declared"),
        ("handoff", "0006_triggers_declared"),
        ("interventions", "0007_triggers_declared"),
    ]

    operations = [
        migrations.RunSQL(
            "DROP FUNCTION sbee_refuse_change(); DROP FUNCTION sbee_refuse_truncate();"
            " DROP FUNCTION sbee_invoice_immutable(); DROP FUNCTION sbee_invoice_line_immutable();"
            " DROP FUNCTION sbee_document_kept(); DROP FUNCTION sbee_cash_closing_kept();"
            " DROP FUNCTION sbee_report_kept(); DROP FUNCTION sbee_visit_kept();"
            " DROP FUNCTION sbee_state_has_event(); DROP FUNCTION sbee_counter_only_grows();"
            " DROP FUNCTION sbee_tariff_in_force_frozen();"
        ),
    ]
