from django.db import models
from django.utils import timezone

from handoff.enums import RecordKind


class OutboxRecord(models.Model):
    """One fact for the billing system, written in the transaction of the event it reports
    (handoff.services). Append-only. Its id is the cursor a reader continues from: records are
    numbered in the order their transactions commit (handoff.services takes a lock first), so a
    reader that has seen id N has seen every record up to N."""

    kind = models.CharField("nature", max_length=24, choices=RecordKind.choices)
    # What it is about, once: a second record for the same fact is refused by the database.
    key = models.CharField("clé", max_length=80, unique=True)
    agency = models.ForeignKey("contracts.Agency", on_delete=models.PROTECT, related_name="+")
    contract_number = models.CharField("n° de contrat", max_length=20)
    payload = models.JSONField("contenu")
    created_at = models.DateTimeField("écrit le", default=timezone.now)

    class Meta:
        verbose_name = "enregistrement à transmettre"
        verbose_name_plural = "enregistrements à transmettre"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.contract_number} (n° {self.pk})"
