from django.db import models

from contracts.enums import Role


class TariffItemKind(models.TextChoices):
    ENERGY = "energy", "Énergie (tranche, par kWh)"
    FIXED_PER_KVA = "fixed_per_kva", "Prime fixe par kVA (par 30 jours)"
    FIXED_PER_CONTRACT = "fixed_per_contract", "Prime fixe par contrat (par 30 jours)"
    LEVY_PER_KWH = "levy_per_kwh", "Taxe ou redevance par kWh"
    VAT_RATE = "vat_rate", "Taux de TVA (%)"
    DEPOSIT_PER_KVA = "deposit_per_kva", "Avance sur consommation par kVA"
    SUBSCRIPTION_FEE = "subscription_fee", "Frais d'abonnement (forfait)"


class InvoiceKind(models.TextChoices):
    CONSUMPTION = "consumption", "Facture de consommation"
    BALANCE = "balance", "Facture de solde (résiliation)"
    SUBSCRIPTION = "subscription", "Facture d'abonnement"
    COMPLEMENTARY = "complementary", "Facture complémentaire"


class InvoiceState(models.TextChoices):
    DRAFT = "draft", "Brouillon"
    VALIDATED = "validated", "Validée, à régler"
    SETTLED = "settled", "Réglée"
    CANCELLED = "cancelled", "Annulée par avoir"
    TRANSFERRED = "transferred", "Transférée à l'apurement du compte"


class EntryKind(models.TextChoices):
    """Ledger movements. Debits raise what the customer owes; credits lower it."""

    INVOICE = "invoice", "Facture"
    PAYMENT = "payment", "Paiement"
    ADVANCE = "advance", "Avance en compte"
    DEPOSIT_APPLIED = "deposit_applied", "Dépôt de garantie imputé"
    REFUND = "refund", "Remboursement"
    CREDIT_NOTE = "credit_note", "Avoir"
    DEPOSIT_RESTORED = "deposit_restored", "Dépôt de garantie réintégré (avoir)"


class SettlementKind(models.TextChoices):
    COLLECTION = "collection", "Encaissement"
    REFUND = "refund", "Remboursement"
    ZERO = "zero", "Solde nul"
    ADVANCE = "advance", "Avance en compte"


class TransferKind(models.TextChoices):
    """What the daily task hands to the downstream "apurement de compte client"."""

    RECOVERY = "recovery", "Solde impayé transféré au recouvrement"
    CREDIT = "credit", "Remboursement non réclamé laissé au crédit du compte"
    ZERO = "zero", "Solde nul jamais présenté à la caisse"


class BeneficiaryQuality(models.TextChoices):
    """Who may receive a refund other than the deposit's payer, on the supervisor's word."""

    RENEWED_ID = "renewed_id", "Titulaire dont la pièce a été renouvelée"
    HEIR = "heir", "Héritier"
    COMPANY_REPRESENTATIVE = "representative", "Représentant de l'entreprise"
    OTHER = "other", "Autre (préciser dans la référence)"


class PaymentMode(models.TextChoices):
    CASH = "cash", "Espèces"
    CHEQUE = "cheque", "Chèque"
    MOBILE_MONEY = "mobile_money", "Mobile money"
    TRANSFER = "transfer", "Virement"


class DocumentKind(models.TextChoices):
    ORDER = "order", "Ordre d'intervention"
    INVOICE = "invoice", "Facture"
    RECEIPT = "receipt", "Reçu de caisse / bon de remboursement"
    SUCCESSOR_CONTRACT = "successor_contract", "Contrat d'abonnement du repreneur"
    ATTESTATION = "attestation", "Attestation de résiliation"
    CREDIT_NOTE = "credit_note", "Avoir"
    CASH_CLOSING = "cash_closing", "Arrêté de caisse"


# Who may regenerate a document whose rendering failed: the roles of the steps that issue it.
DOCUMENT_ISSUERS = {
    DocumentKind.ORDER: (Role.RECEPTION, Role.SUPERVISOR),  # removal orders: the daily task's
    DocumentKind.INVOICE: (Role.RECEPTION, Role.ACFF),  # complementary invoices: the ACFF's
    DocumentKind.RECEIPT: (Role.CASHIER,),
    DocumentKind.SUCCESSOR_CONTRACT: (Role.RECEPTION,),
    DocumentKind.ATTESTATION: (Role.ACFF, Role.CASHIER),
    DocumentKind.CREDIT_NOTE: (Role.SUPERVISOR,),
    DocumentKind.CASH_CLOSING: (Role.CASHIER, Role.SUPERVISOR),
}

# Reprints of these carry "DUPLICATA n° k": each is money or a proof, of which one original
# circulates. Orders and the successor's contract are working papers, reprinted as they are.
DUPLICATE_STAMPED = [
    DocumentKind.INVOICE,
    DocumentKind.RECEIPT,
    DocumentKind.ATTESTATION,
    DocumentKind.CREDIT_NOTE,
    DocumentKind.CASH_CLOSING,
]


class DocumentStatus(models.TextChoices):
    PENDING = "pending", "En cours de production"
    READY = "ready", "Prêt"
    TO_REGENERATE = "to_regenerate", "À régénérer"
