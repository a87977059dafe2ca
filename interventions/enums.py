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
    VISIT_FAILED = "visit_failed", "Visite infructueuse, à reprogrammer"
    RETURNED = "returned", "Renvoyé pour correction"
    # Entered on the field agent's behalf (from the paper): it waits for the agent's signature.
    UNSIGNED = "unsigned", "Compte-rendu saisi, à signer par l'agent"
    REPORTED = "reported", "Compte-rendu signé par l'agent, à contrôler"
    SIGNED = "signed", "Signé par le responsable"
    FILED = "filed", "Classé"
    IMPOSSIBLE = "impossible", "Clos : intervention impossible, coupure au branchement"
    CANCELLED = "cancelled", "Annulé"


# The order is in its agent's hands: a visit (or a corrected report) is awaited.
AWAITING_AGENT = [OrderStatus.ISSUED, OrderStatus.RETURNED]


# How the field agent signed their report: with their login at the agency, or from the field
# app on their phone.
class SignedVia(models.TextChoices):
    WEB = "web", "avec son identifiant"
    PHONE = "phone", "depuis son téléphone"


# Open orders, which a supervisor may hand to another agent.
REASSIGNABLE = [OrderStatus.ISSUED, OrderStatus.RETURNED, OrderStatus.VISIT_FAILED]
# After this many failed visits, a removal may be closed as impossible.
REMOVAL_ATTEMPTS_BEFORE_IMPOSSIBLE = 3


class VisitFailure(models.TextChoices):
    """Why a visit did not happen (visite infructueuse)."""

    ABSENT = "absent", "Client absent"
    ACCESS_REFUSED = "access_refused", "Refus d'accès"
    METER_INACCESSIBLE = "meter_inaccessible", "Compteur inaccessible"
    DANGER = "danger", "Danger (installation, animal, conflit)"
    ADDRESS_NOT_FOUND = "address_not_found", "Adresse introuvable"
    OTHER = "other", "Autre (préciser)"


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


class SubmissionKind(models.TextChoices):
    """What a field crew sends from the field app (each made on the phone, with its own id)."""

    FIELD_REPORT = "releve", "Compte-rendu de relève ou de coupure (étapes 4-5)"
    REMOVAL_REPORT = "depose", "Compte-rendu de dépose ou de coupure définitive (étapes 8-9)"
    FAILED_VISIT = "visite", "Visite infructueuse"
    SIGNATURE = "signe", "Signature d'un compte-rendu saisi d'après l'ordre papier"


class SubmissionOutcome(models.TextChoices):
    ACCEPTED = "accepted", "Reçu et enregistré"
    REFUSED = "refused", "Refusé (à corriger sur le téléphone)"
    CONFLICT = "conflict", "En conflit (l'ordre a changé entre-temps)"
