"""Phone numbers stored in E.164: the ten-digit Beninese numbers take +229, the former
eight-digit ones (which the import accepted) +229 01 as since 30 November 2024."""

from django.db import migrations, models

TO_E164 = """
UPDATE {table} SET {column} = CASE WHEN {column} ~ '^[0-9]{{8}}$' THEN '+22901' || {column}
                                   ELSE '+229' || {column} END
WHERE {column} !~ '^[+]';
"""
# Back to the national digits (a foreign number, which did not fit before, has no way back).
TO_DIGITS = "UPDATE {table} SET {column} = substr({column}, 5) WHERE {column} LIKE '+229%';"
COLUMNS = [("contracts_customer", "phone"), ("contracts_terminationrequest", "requester_phone")]


class Migration(migrations.Migration):

    dependencies = [
        ('contracts', '0024_customer_identity_message'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='customer',
            name='customer_phone_digits',
        ),
        migrations.AlterField(
            model_name='customer',
            name='phone',
            field=models.CharField(help_text='format E.164 (+229…)', max_length=16, verbose_name='téléphone'),
        ),
        migrations.AlterField(
            model_name='terminationrequest',
            name='requester_phone',
            field=models.CharField(help_text='format E.164 (+229…)', max_length=16, verbose_name='téléphone du demandeur'),
        ),
        migrations.RunSQL(
            [TO_E164.format(table=t, column=c) for t, c in COLUMNS],
            [TO_DIGITS.format(table=t, column=c) for t, c in COLUMNS],
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.CheckConstraint(condition=models.Q(('phone__regex', '^\\+[1-9][0-9]{7,14}$')), name='customer_phone_e164', violation_error_message='Numéro de téléphone au format international attendu (+229 01 97 12 34 56).'),
        ),
        migrations.AddConstraint(
            model_name='terminationrequest',
            constraint=models.CheckConstraint(condition=models.Q(('requester_phone__regex', '^\\+[1-9][0-9]{7,14}$')), name='request_requester_phone_e164', violation_error_message='Numéro de téléphone au format international attendu (+229 01 97 12 34 56).'),
        ),
    ]
