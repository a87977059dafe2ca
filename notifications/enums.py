from django.db import models


class NotificationKind(models.TextChoices):
    """What the customer is told, at which step (issue: the customer in the loop)."""

    REGISTERED = "registered", "Demande enregistrée (numéro et code de suivi)"
    VISIT = "visit", "Date de passage de l'agent"
    VISIT_REMINDER = "visit_reminder", "Rappel la veille du passage"
    VISIT_FAILED = "visit_failed", "Visite infructueuse"
    BALANCE = "balance", "Facture de solde à régler"
    RECOVERY_REMINDER = "recovery_reminder", "Rappel avant le recouvrement"
    REFUND_READY = "refund_ready", "Remboursement prêt"
    REFUND_REMINDER = "refund_reminder", "Rappel avant la fin du remboursement"
    TERMINATED = "terminated", "Résiliation terminée"


class Language(models.TextChoices):
    FRENCH = "fr", "Français"
    ENGLISH = "en", "English"


class DeliveryStatus(models.TextChoices):
    SENT = "sent", "Envoyé à l'opérateur"
    DELIVERED = "delivered", "Remis au téléphone"
    RETRYING = "retrying", "Échec, nouvel essai prévu"
    FAILED = "failed", "Échec définitif"


# The statuses after which nothing more is sent.
DONE = [DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]
