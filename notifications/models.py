"""The customer's messages: each fact told once (Notification, append-only, a unique key),
each attempt to deliver it (Delivery, append-only), the texts, the kinds switched on or off,
the quiet hours, and each customer's choices (Preference, append-only)."""

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from contracts.models import TerminationRequest
from contracts.triggers import append_only
from notifications.enums import DeliveryStatus, Language, NotificationKind
from notifications.texts import segments, unknown_variables


class Template(models.Model):
    """A kind's text in one language, editable in the admin."""

    kind = models.CharField("message", max_length=20, choices=NotificationKind.choices)
    language = models.CharField("langue", max_length=2, choices=Language.choices)
    text = models.TextField("texte")

    class Meta:
        verbose_name = "texte de message"
        verbose_name_plural = "textes des messages"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "language"],
                name="template_one_per_kind_and_language",
                violation_error_message="Ce message a déjà un texte dans cette langue.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.language})"

    def clean(self) -> None:
        if unknown := unknown_variables(self.kind, self.text):
            raise ValidationError(
                {"text": f"Variable(s) inconnue(s) pour ce message : {', '.join(unknown)}."}
            )

    @property
    def cost(self) -> str:
        encoding, length, parts = segments(self.text)
        return f"{length} caractères, {encoding}, {parts} SMS (avant remplacement des variables)"


class KindSetting(models.Model):
    """A kind of message switched on or off for every customer (the admin's choice)."""

    kind = models.CharField("message", max_length=20, choices=NotificationKind.choices, unique=True)
    enabled = models.BooleanField("envoyé", default=True)

    class Meta:
        verbose_name = "message envoyé ou non"
        verbose_name_plural = "messages envoyés ou non"

    def __str__(self) -> str:
        return self.get_kind_display()


class QuietHours(models.Model):
    """No message leaves at night: what is due then waits for the morning (except what the
    customer asked for at the counter). One row."""

    start = models.TimeField("début", default=dt.time(21, 0))
    end = models.TimeField("fin", default=dt.time(7, 0))

    class Meta:
        verbose_name = "heures de silence"
        verbose_name_plural = "heures de silence"

    def __str__(self) -> str:
        return f"{self.start:%H:%M} – {self.end:%H:%M}"


class Preference(models.Model):
    """A customer's choice for a phone number, recorded with its date: the language of the
    messages and whether they want them at all. Append-only: the latest row holds."""

    phone = models.CharField("téléphone (E.164)", max_length=16)
    language = models.CharField(
        "langue", max_length=2, choices=Language.choices, default=Language.FRENCH
    )
    opted_out = models.BooleanField("ne veut plus de SMS", default=False)
    at = models.DateTimeField("le", auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )

    class Meta:
        verbose_name = "choix du client"
        verbose_name_plural = "choix des clients"
        indexes = [models.Index(fields=["phone", "-id"], name="preference_phone_latest")]
        triggers = append_only()

    def __str__(self) -> str:
        return self.phone


class Notification(models.Model):
    """One fact told to one person, once: `key` names the fact and the number. Written in the
    transaction of the step that causes it; sent by the worker."""

    key = models.CharField("fait", max_length=120)
    request = models.ForeignKey(
        TerminationRequest,
        on_delete=models.PROTECT,
        related_name="notifications",
        verbose_name="demande",
    )
    kind = models.CharField("message", max_length=20, choices=NotificationKind.choices)
    recipient = models.CharField("destinataire", max_length=150)
    role = models.CharField("qualité", max_length=40)
    phone = models.CharField("téléphone (E.164)", max_length=16)
    language = models.CharField("langue", max_length=2, choices=Language.choices)
    text = models.TextField("texte envoyé")
    created_at = models.DateTimeField("écrit le", auto_now_add=True)
    send_after = models.DateTimeField("à envoyer à partir de")

    class Meta:
        verbose_name = "SMS au client"
        verbose_name_plural = "SMS aux clients"
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                name="notification_one_per_fact",
                violation_error_message="Ce fait a déjà été annoncé à ce numéro.",
            )
        ]
        indexes = [models.Index(fields=["request", "id"], name="notification_request")]
        triggers = append_only()

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.phone}"


class Delivery(models.Model):
    """One step of a message's delivery: handed to the gateway, delivered, failed (with a new
    attempt to come, or for good). Append-only: the latest row is its status."""

    notification = models.ForeignKey(
        Notification, on_delete=models.PROTECT, related_name="deliveries"
    )
    status = models.CharField("état", max_length=10, choices=DeliveryStatus.choices)
    at = models.DateTimeField("le", auto_now_add=True)
    reference = models.CharField("référence de la passerelle", max_length=100, blank=True)
    detail = models.CharField("détail", max_length=255, blank=True)

    class Meta:
        verbose_name = "remise d'un SMS"
        verbose_name_plural = "remises des SMS"
        indexes = [
            models.Index(fields=["notification", "-id"], name="delivery_latest"),
            # The few that failed for good: reception's queue looks for them on every visit.
            models.Index(
                fields=["notification"],
                name="delivery_failed",
                condition=models.Q(status=DeliveryStatus.FAILED),
            ),
            models.Index(fields=["reference"], name="delivery_reference"),
        ]
        triggers = append_only()

    def __str__(self) -> str:
        return self.get_status_display()


class TrackingLookup(models.Model):
    """One try on the customer's page (/suivi/): the page's throttle, per address and per
    request number. Append-only."""

    at = models.DateTimeField("le", auto_now_add=True)
    address = models.GenericIPAddressField("adresse", null=True, blank=True)
    number = models.BigIntegerField("numéro tapé")
    found = models.BooleanField("trouvée")

    class Meta:
        verbose_name = "consultation du suivi"
        verbose_name_plural = "consultations du suivi"
        indexes = [
            models.Index(fields=["address", "at"], name="trackinglookup_address"),
            models.Index(fields=["number", "at"], name="trackinglookup_number"),
        ]
        triggers = append_only()

    def __str__(self) -> str:
        return f"{self.number} ({'trouvée' if self.found else 'refusée'})"
