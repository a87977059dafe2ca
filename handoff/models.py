from django.conf import settings
from django.db import models
from django.utils import timezone

from contracts.triggers import append_only
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
        triggers = append_only()
        verbose_name = "enregistrement à transmettre"
        verbose_name_plural = "enregistrements à transmettre"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.contract_number} (n° {self.pk})"


class ReceivingSystem(models.Model):
    """A system allowed to read the outbox through the API (SBEE's billing system). Its token is
    shown once, when made (manage.py handoff_token), and kept only as a SHA-256 hash."""

    name = models.CharField("nom", max_length=80, unique=True)
    token_hash = models.CharField("empreinte du jeton", max_length=64, unique=True)
    token_hint = models.CharField("début du jeton", max_length=8)
    active = models.BooleanField("actif", default=True)
    created_at = models.DateTimeField("créé le", default=timezone.now)

    class Meta:
        verbose_name = "système destinataire"
        verbose_name_plural = "systèmes destinataires"

    def __str__(self) -> str:
        return self.name


class Acknowledgement(models.Model):
    """A system says it has taken every record up to `up_to`. Append-only."""

    system = models.ForeignKey(ReceivingSystem, on_delete=models.PROTECT, related_name="acks")
    up_to = models.BigIntegerField("jusqu'au n°")
    at = models.DateTimeField("le", default=timezone.now)

    class Meta:
        triggers = append_only()
        verbose_name = "accusé de réception"
        verbose_name_plural = "accusés de réception"
        indexes = [models.Index(fields=["system", "up_to"], name="ack_system_up_to")]

    def __str__(self) -> str:
        return f"{self.system} : jusqu'au n° {self.up_to}"


class ApiCall(models.Model):
    """Every call of the API, answered or refused. Append-only."""

    system = models.ForeignKey(
        ReceivingSystem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    method = models.CharField("méthode", max_length=8)
    path = models.CharField("adresse", max_length=300)
    status = models.PositiveSmallIntegerField("réponse")
    ip_address = models.GenericIPAddressField("adresse IP", null=True, blank=True)
    at = models.DateTimeField("le", default=timezone.now)

    class Meta:
        triggers = append_only()
        verbose_name = "appel de l'API"
        verbose_name_plural = "appels de l'API"

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class ImportRun(models.Model):
    """One run of the import started from the admin's page (a dry run, or the writing), done
    by a task worker so that no web worker waits on it; its page reads the progress and, at
    the end, the report."""

    class Status(models.TextChoices):
        QUEUED = "queued", "En file d'attente"
        RUNNING = "running", "En cours"
        DONE = "done", "Terminé"
        REFUSED = "refused", "Refusé"
        FAILED = "failed", "Échoué"

    token = models.CharField("dépôt", max_length=32)
    commit = models.BooleanField("écriture", default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="par"
    )
    requested_at = models.DateTimeField("demandé le", default=timezone.now)
    status = models.CharField("état", max_length=8, choices=Status, default=Status.QUEUED)
    step = models.CharField("étape", max_length=40, blank=True)
    done = models.BigIntegerField("lignes faites", default=0)
    total = models.BigIntegerField("lignes à faire", default=0)
    report = models.JSONField("rapport", null=True, blank=True)
    refused = models.TextField("refus", blank=True)
    started_at = models.DateTimeField("commencé le", null=True, blank=True)
    finished_at = models.DateTimeField("fini le", null=True, blank=True)

    class Meta:
        verbose_name = "import lancé depuis l'admin"
        verbose_name_plural = "imports lancés depuis l'admin"

    def __str__(self) -> str:
        return f"{'Écriture' if self.commit else 'Essai'} {self.token} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.REFUSED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0
