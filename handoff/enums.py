from django.db import models


class RecordKind(models.TextChoices):
    """What the billing system must know from us (procedure: "mutation codification", to stop
    maintenance invoices; and what it must bill or recover)."""

    CLOSURE = "closure", "Codification de résiliation (contrat clos)"
    RECOVERY = "recovery", "Solde transféré au recouvrement"
    COMPLEMENTARY_INVOICE = "complementary_invoice", "Facture complémentaire"
