from django.db import models


class OrderKind(models.TextChoices):
    INTERRUPTION_READING = "interruption_reading", "Ordre d'interruption et de relève"
    READING = "reading", "Ordre de relève d'index"
    REMOVAL = "removal", "Ordre de dépose de compteur"
    FINAL_INTERRUPTION = "final_interruption", "Ordre de coupure définitive"


FIELD_ORDER_KINDS = [OrderKind.INTERRUPTION_READING, OrderKind.READING]
REMOVAL_ORDER_KINDS = [OrderKind.REMOVAL, OrderKind.FINAL_INTERRUPTION]


class OrderStatus(models.TextChoices):
    ISSUED = "issued", "Émis"
    REPORTED = "reported", "Compte-rendu saisi"
    SIGNED = "signed", "Signé par le responsable"
    FILED = "filed", "Classé"
    CANCELLED = "cancelled", "Annulé"


class Remark(models.TextChoices):
    ROTTEN_PANEL = "rotten_panel", "Panneau pourri"
    METER_INACCESSIBLE = "meter_inaccessible", "Compteur inaccessible"
    ALREADY_TERMINATED = "already_terminated", "Point de livraison déjà résilié"
    OTHER = "other", "Autre (préciser)"


# The annex's "mode opératoire de dépose de compteur électrique", step by step.
SAFETY_STEPS = [
    "Se munir de gants isolants BT, de pinces universelles et de tournevis isolés.",
    "Couper le disjoncteur.",
    "Déconnecter les câbles d'alimentation du compteur tout en séparant le neutre de la phase. "
    "Protéger leur bout avec des capuchons isolés durant toute la durée du travail.",
    "Enlever les vis de fixation du compteur et les déposer.",
    "Déposer le disjoncteur.",
    "Fixer une boîte de dérivation sur le panneau.",
    "Raccorder les câbles « arrivée » sur les bornes de la boîte de dérivation.",
    "Fermer la boîte de dérivation et la plomber.",
]
