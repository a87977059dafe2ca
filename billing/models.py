import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.enums import (
    BeneficiaryQuality,
    DocumentKind,
    DocumentStatus,
    EntryKind,
    InvoiceKind,
    InvoiceState,
    PaymentMode,
    SettlementKind,
    TariffItemKind,
    TransferKind,
)
from billing.triggers import (
    CASH_CLOSING_KEPT,
    DOCUMENT_KEPT,
    INVOICE_KEPT,
    INVOICE_LINE_DECLARE,
    INVOICE_LINE_KEPT,
    INVOICE_LINE_OPERATIONS,
    invoice_agency,
    tariff_in_force_frozen,
)
from contracts.enums import IdDocumentType, Voltage, Zone
from contracts.triggers import append_only, kept


class TariffCategory(models.Model):
    code = models.CharField("code", max_length=10, unique=True)
    name = models.CharField("libellé", max_length=100)
    voltage = models.CharField("tension", max_length=2, choices=Voltage.choices)

    class Meta:
        verbose_name = "catégorie tarifaire"
        verbose_name_plural = "catégories tarifaires"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class TariffItem(models.Model):
    """One priced item of a category, in force from valid_from until a later row with the same
    code replaces it. A new grid is a set of new rows: rows in force are never edited, so an
    invoice already validated (which copies its lines) never changes."""

    category = models.ForeignKey(
        TariffCategory, on_delete=models.PROTECT, related_name="items", verbose_name="catégorie"
    )
    code = models.SlugField(
        "code", max_length=40, help_text="Identifie l'article d'une grille à l'autre."
    )
    label = models.CharField("libellé", max_length=120)
    kind = models.CharField("nature", max_length=20, choices=TariffItemKind.choices)
    valid_from = models.DateField("en vigueur à partir du")
    value = models.PositiveIntegerField(
        "valeur", help_text="FCFA par unité (kWh, kVA, contrat) ou pourcentage pour la TVA."
    )
    from_kwh = models.PositiveIntegerField(
        "de (kWh / 30 j)", null=True, blank=True, help_text="Tranche d'énergie : borne basse."
    )
    to_kwh = models.PositiveIntegerField(
        "à (kWh / 30 j)",
        null=True,
        blank=True,
        help_text="Tranche d'énergie : borne haute, vide = sans limite.",
    )
    vat_applies = models.BooleanField("soumis à TVA", default=False)
    zone = models.CharField(
        "zone", max_length=4, choices=Zone.choices, blank=True, help_text="Vide : toutes zones."
    )

    class Meta:
        triggers = [tariff_in_force_frozen()]
        verbose_name = "article tarifaire"
        verbose_name_plural = "articles tarifaires"
        ordering = ["category", "code", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "code", "valid_from"], name="tariff_item_unique_version"
            ),
            models.CheckConstraint(
                condition=~Q(kind=TariffItemKind.ENERGY) | Q(from_kwh__isnull=False),
                name="tariff_energy_has_lower_bound",
            ),
            models.CheckConstraint(
                condition=Q(to_kwh__isnull=True) | Q(to_kwh__gt=models.F("from_kwh")),
                name="tariff_tranche_bounds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category.code} {self.label} ({self.valid_from:%d/%m/%Y})"


class Invoice(models.Model):
    """An invoice of the account. Termination invoices (balance, subscription, complementary)
    start as drafts, then are validated: numbered, immutable (a database trigger refuses any
    change to a validated invoice's amounts and lines), and entered into the account."""

    contract = models.ForeignKey(
        "contracts.Contract",
        on_delete=models.PROTECT,
        related_name="invoices",
        verbose_name="contrat",
    )
    request = models.ForeignKey(
        "contracts.TerminationRequest",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        verbose_name="demande de résiliation",
    )
    # Its request's agency (its contract's without one): written by the database on insert
    # (billing/triggers.py), read by the dashboards' money lines through invoice_agency_state.
    agency = models.ForeignKey(
        "contracts.Agency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name="agence",
        db_index=False,
    )
    kind = models.CharField("nature", max_length=16, choices=InvoiceKind.choices)
    state = models.CharField(
        "état", max_length=12, choices=InvoiceState.choices, default=InvoiceState.DRAFT
    )
    number = models.CharField("numéro", max_length=40, unique=True, null=True, blank=True)
    issued_on = models.DateField("émise le", null=True, blank=True)
    period_start = models.DateField("début de période", null=True, blank=True)
    period_end = models.DateField("fin de période", null=True, blank=True)
    old_index = models.PositiveIntegerField("ancien index", null=True, blank=True)
    new_index = models.PositiveIntegerField("nouvel index", null=True, blank=True)
    rollover = models.BooleanField("passage par zéro", default=False)
    consumption = models.PositiveIntegerField("consommation (kWh)", default=0)
    days = models.PositiveIntegerField("jours", default=0)
    vat_rate = models.PositiveSmallIntegerField("taux de TVA (%)", default=0)
    vat_base = models.PositiveIntegerField("base TVA", default=0)
    vat_amount = models.PositiveIntegerField("TVA", default=0)
    total = models.PositiveIntegerField("montant TTC (FCFA)", default=0)
    # Balance invoice: what else the account holds at termination.
    unpaid_total = models.PositiveIntegerField("factures impayées", default=0)
    advances_total = models.PositiveIntegerField("avances en compte", default=0)
    deposit_amount = models.PositiveIntegerField("dépôt de garantie", default=0)
    balance = models.IntegerField(
        "solde", default=0, help_text="Positif : à payer ; négatif : à rembourser."
    )
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    validated_at = models.DateTimeField("validée le", null=True, blank=True)

    class Meta:
        triggers = [invoice_agency(), *kept(INVOICE_KEPT)]
        verbose_name = "facture"
        constraints = [
            models.CheckConstraint(
                condition=Q(state=InvoiceState.DRAFT, number__isnull=True)
                | (~Q(state=InvoiceState.DRAFT) & Q(number__isnull=False, issued_on__isnull=False)),
                name="invoice_number_iff_not_draft",
            ),
            # One per request and kind; an invoice cancelled by a credit note stays beside the
            # one that replaces it, under its own number.
            models.UniqueConstraint(
                fields=["request", "kind"],
                condition=Q(request__isnull=False) & ~Q(state=InvoiceState.CANCELLED),
                name="invoice_one_per_request_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["contract", "state"], name="invoice_contract_state"),
            # The invoices in a state (the national money lines summed from the index alone).
            models.Index(
                fields=["state", "kind"],
                include=["balance", "request"],
                name="invoice_state_kind",
            ),
            # An agency's (or a DR's) invoices in a state, summed from the index alone.
            models.Index(
                fields=["agency", "state"],
                include=["kind", "balance", "request"],
                name="invoice_agency_state",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Brouillon {self.get_kind_display().lower()}"

    @property
    def to_refund(self) -> int:
        return max(-self.balance, 0)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=40)
    label = models.CharField("libellé", max_length=150)
    quantity = models.PositiveIntegerField("quantité")
    unit = models.CharField("unité", max_length=10)
    unit_price = models.PositiveIntegerField("prix unitaire")
    amount = models.PositiveIntegerField("montant")
    vat_applies = models.BooleanField("soumis à TVA")
    basis = models.CharField(
        "calcul", max_length=120, blank=True, help_text="Ce qui fait le montant, tel qu'imprimé."
    )

    class Meta:
        triggers = kept(
            INVOICE_LINE_KEPT, operation=INVOICE_LINE_OPERATIONS, declare=INVOICE_LINE_DECLARE
        )
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position")
        ]

    def __str__(self) -> str:
        return self.label


class RefundAuthorisation(models.Model):
    """The supervisor's word that a refund may go to someone other than the deposit's payer (a
    renewed ID card, an heir, a company's representative), or when no payer is recorded. The
    one who authorises never pays. The latest authorisation of an invoice is the one in force."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="refund_authorisations"
    )
    beneficiary_name = models.CharField("bénéficiaire", max_length=150)
    beneficiary_id_document_type = models.CharField(
        "pièce du bénéficiaire", max_length=16, choices=IdDocumentType.choices
    )
    beneficiary_id_document_number = models.CharField("numéro de pièce", max_length=40)
    quality = models.CharField("qualité", max_length=16, choices=BeneficiaryQuality.choices)
    proof_reference = models.CharField("référence du justificatif", max_length=120)
    authorised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="par"
    )
    authorised_at = models.DateTimeField("le", auto_now_add=True)

    class Meta:
        triggers = append_only()
        verbose_name = "autorisation de remboursement"
        verbose_name_plural = "autorisations de remboursement"
        ordering = ["authorised_at", "id"]

    def __str__(self) -> str:
        return f"{self.invoice} → {self.beneficiary_name}"


class Settlement(models.Model):
    """A movement at the cash desk, with its numbered receipt: the settlement of an invoice
    (exactly one per invoice: collection, refund or zero balance), or an advance into an account
    (no invoice). A form sent twice carries the same idempotency key: one settlement."""

    invoice = models.OneToOneField(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settlement",
        verbose_name="facture",
    )
    contract = models.ForeignKey(
        "contracts.Contract",
        on_delete=models.PROTECT,
        related_name="settlements",
        verbose_name="contrat",
    )
    agency = models.ForeignKey("contracts.Agency", on_delete=models.PROTECT)
    kind = models.CharField("nature", max_length=10, choices=SettlementKind.choices)
    number = models.CharField("numéro de reçu", max_length=40, unique=True)
    amount = models.PositiveIntegerField("montant (FCFA)")
    mode = models.CharField("mode", max_length=12, choices=PaymentMode.choices, blank=True)
    reference = models.CharField("référence", max_length=80, blank=True)
    beneficiary_name = models.CharField("bénéficiaire", max_length=150, blank=True)
    beneficiary_id_document_type = models.CharField(
        "pièce présentée", max_length=16, choices=IdDocumentType.choices, blank=True
    )
    beneficiary_id_document_number = models.CharField("numéro de pièce", max_length=40, blank=True)
    refund_authorisation = models.ForeignKey(
        RefundAuthorisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="autorisation d'exception",
    )
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="caissier",
    )
    idempotency_key = models.UUIDField("clé d'envoi", null=True, blank=True, unique=True)
    created_at = models.DateTimeField("le", auto_now_add=True)

    class Meta:
        triggers = append_only()
        verbose_name = "règlement"
        indexes = [
            models.Index(fields=["agency", "created_at"], name="settlement_agency_day"),
            models.Index(fields=["cashier", "created_at"], name="settlement_cashier_day"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind=SettlementKind.ADVANCE) & Q(invoice__isnull=True))
                | (~Q(kind=SettlementKind.ADVANCE) & Q(invoice__isnull=False)),
                name="settlement_invoice_unless_advance",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_advance(self) -> bool:
        return self.kind == SettlementKind.ADVANCE


class BilledReading(models.Model):
    """One billed period of a contract, from the billing system: its closing reading and what
    was billed for it. The last twelve are the contract's usual consumption (the 3× check)."""

    # Indexed by billed_reading_one_per_day (contract first): no index of its own.
    contract = models.ForeignKey(
        "contracts.Contract",
        on_delete=models.PROTECT,
        related_name="billed_readings",
        db_index=False,
    )
    period_end = models.DateField("relevé du")
    index = models.PositiveIntegerField("index")
    days = models.PositiveIntegerField("jours de la période")
    consumption = models.PositiveIntegerField("consommation facturée (kWh)")

    class Meta:
        verbose_name = "relevé facturé"
        verbose_name_plural = "relevés facturés"
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "period_end"], name="billed_reading_one_per_day"
            ),
            models.CheckConstraint(condition=models.Q(days__gte=1), name="billed_reading_days"),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} au {self.period_end:%d/%m/%Y} : {self.consumption} kWh"


class AccountEntry(models.Model):
    """The customer account ledger of a contract: append-only movements, debit or credit.
    The balance is what the customer owes: sum of debits minus sum of credits."""

    contract = models.ForeignKey(
        "contracts.Contract",
        on_delete=models.PROTECT,
        related_name="account_entries",
        verbose_name="contrat",
    )
    kind = models.CharField("nature", max_length=16, choices=EntryKind.choices)
    posted_on = models.DateField("date")
    label = models.CharField("libellé", max_length=150)
    debit = models.PositiveIntegerField("débit (FCFA)", default=0)
    credit = models.PositiveIntegerField("crédit (FCFA)", default=0)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    settlement = models.ForeignKey(
        Settlement, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    credit_note = models.ForeignKey(
        "CreditNote", on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    created_at = models.DateTimeField("enregistré le", auto_now_add=True)
    # The billing system's own reference of a movement taken from it (an advance's receipt):
    # what makes a second import of the same extraction add nothing.
    source_reference = models.CharField("référence d'origine", max_length=60, blank=True)

    class Meta:
        triggers = append_only()
        verbose_name = "mouvement de compte"
        verbose_name_plural = "mouvements de compte"
        ordering = ["posted_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(debit__gt=0, credit=0) | Q(debit=0, credit__gt=0),
                name="account_entry_one_side",
            ),
            models.UniqueConstraint(
                fields=["contract", "source_reference"],
                condition=~Q(source_reference=""),
                name="account_entry_source_once",
            ),
        ]
        indexes = [models.Index(fields=["contract", "posted_on"], name="entry_contract_date")]

    def __str__(self) -> str:
        return self.label


class CreditNote(models.Model):
    """An avoir: cancels a validated, unsettled invoice for its full amount, under its own
    number (AV-<agence>-<année>-n). Its lines are the exact negatives of the invoice's."""

    invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, related_name="credit_note", verbose_name="facture"
    )
    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="+", verbose_name="contrat"
    )
    request = models.ForeignKey(
        "contracts.TerminationRequest",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
    )
    number = models.CharField("numéro", max_length=40, unique=True)
    issued_on = models.DateField("émis le")
    reason = models.CharField("motif", max_length=255)
    total = models.IntegerField("montant (FCFA)", help_text="Négatif : l'opposé de la facture.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="par"
    )
    created_at = models.DateTimeField("le", auto_now_add=True)

    class Meta:
        triggers = append_only()
        verbose_name = "avoir"
        constraints = [
            models.CheckConstraint(condition=Q(total__lte=0), name="credit_note_negative"),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    label = models.CharField("libellé", max_length=150)
    basis = models.CharField("calcul", max_length=120, blank=True)
    amount = models.IntegerField("montant")
    vat_applies = models.BooleanField("soumis à TVA")

    class Meta:
        triggers = append_only()
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_note", "position"], name="credit_note_line_position"
            ),
            models.CheckConstraint(condition=Q(amount__lte=0), name="credit_note_line_negative"),
        ]

    def __str__(self) -> str:
        return self.label


class AccountTransfer(models.Model):
    """A balance handed to the downstream "apurement de compte client" by the daily task: a
    debt still unpaid after its délai (to recovery), or a refund never claimed (a credit left
    on the account). The ledger is unchanged: the debt or the credit stays where it is."""

    invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, related_name="transfer", verbose_name="facture"
    )
    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="+", verbose_name="contrat"
    )
    agency = models.ForeignKey("contracts.Agency", on_delete=models.PROTECT)
    kind = models.CharField("nature", max_length=10, choices=TransferKind.choices)
    amount = models.PositiveIntegerField("montant (FCFA)")
    since = models.DateField("en attente depuis")
    transferred_on = models.DateField("transféré le")
    delay_days = models.PositiveSmallIntegerField("délai appliqué (jours)")

    class Meta:
        triggers = append_only()
        verbose_name = "transfert à l'apurement"
        verbose_name_plural = "transferts à l'apurement"
        indexes = [models.Index(fields=["agency", "transferred_on"], name="transfer_agency_day")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.invoice}"


class CashClosing(models.Model):
    """The arrêté de caisse of one cashier for one day: its totals per mode, signed by the
    cashier, then countersigned by the supervisor. Once closed, that cashier records nothing
    more at the desk that day."""

    agency = models.ForeignKey("contracts.Agency", on_delete=models.PROTECT)
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="caissier",
    )
    day = models.DateField("journée")
    number = models.CharField("numéro", max_length=40, unique=True)
    totals = models.JSONField("totaux par mode")
    collected = models.PositiveIntegerField("encaissé (FCFA)")
    refunded = models.PositiveIntegerField("remboursé (FCFA)")
    advances = models.PositiveIntegerField("avances (FCFA)")
    count = models.PositiveIntegerField("mouvements")
    closed_at = models.DateTimeField("arrêté le", auto_now_add=True)
    countersigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="contresigné par",
    )
    countersigned_at = models.DateTimeField("contresigné le", null=True, blank=True)

    class Meta:
        triggers = kept(CASH_CLOSING_KEPT)
        verbose_name = "arrêté de caisse"
        verbose_name_plural = "arrêtés de caisse"
        constraints = [
            models.UniqueConstraint(fields=["cashier", "day"], name="cash_closing_one_per_day"),
            models.CheckConstraint(
                condition=Q(countersigned_by__isnull=True, countersigned_at__isnull=True)
                | Q(countersigned_by__isnull=False, countersigned_at__isnull=False),
                name="cash_closing_countersignature_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class Attestation(models.Model):
    """The attestation de résiliation handed to the customer at closure. Its QR code leads to a
    public verification page found only through `token` (unguessable), which shows no personal
    data."""

    request = models.OneToOneField(
        "contracts.TerminationRequest",
        on_delete=models.PROTECT,
        related_name="attestation",
        verbose_name="demande",
    )
    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="+", verbose_name="contrat"
    )
    number = models.CharField("numéro", max_length=40, unique=True)
    token = models.CharField("jeton de vérification", max_length=64, unique=True)
    issued_on = models.DateField("émise le")
    closed_on = models.DateField("contrat résilié le")
    final_index = models.PositiveIntegerField("index final")

    class Meta:
        triggers = append_only()
        verbose_name = "attestation de résiliation"
        verbose_name_plural = "attestations de résiliation"

    def __str__(self) -> str:
        return self.number


class AttestationCheck(models.Model):
    """A file presented on the public verification page: when, from which address, and what it
    was found to be. The page counts them per address to throttle uploads. Append-only."""

    attestation = models.ForeignKey(
        Attestation, on_delete=models.PROTECT, related_name="checks", verbose_name="attestation"
    )
    at = models.DateTimeField("le", default=timezone.now)
    ip_address = models.GenericIPAddressField("adresse IP", null=True, blank=True)
    sha256 = models.CharField("empreinte du fichier", max_length=64)
    copy = models.SmallIntegerField(
        "exemplaire reconnu", null=True, blank=True, help_text="0 : l'original ; vide : aucun."
    )

    class Meta:
        triggers = append_only()
        verbose_name = "vérification d'attestation"
        verbose_name_plural = "vérifications d'attestation"
        indexes = [models.Index(fields=["ip_address", "at"], name="attestationcheck_ip_at")]

    def __str__(self) -> str:
        return f"{self.attestation_id} {self.at:%d/%m/%Y %H:%M}"


class Document(models.Model):
    """A printed document, rendered once when issued; every print serves these same bytes."""

    kind = models.CharField("nature", max_length=20, choices=DocumentKind.choices)
    number = models.CharField("numéro", max_length=40)
    request = models.ForeignKey(
        "contracts.TerminationRequest",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
    )
    order = models.OneToOneField(
        "interventions.InterventionOrder",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="document",
    )
    invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="document"
    )
    settlement = models.OneToOneField(
        Settlement, on_delete=models.PROTECT, null=True, blank=True, related_name="document"
    )
    contract = models.OneToOneField(
        "contracts.Contract",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subscription_document",
    )
    attestation = models.OneToOneField(
        Attestation, on_delete=models.PROTECT, null=True, blank=True, related_name="document"
    )
    credit_note = models.OneToOneField(
        CreditNote, on_delete=models.PROTECT, null=True, blank=True, related_name="document"
    )
    cash_closing = models.OneToOneField(
        CashClosing, on_delete=models.PROTECT, null=True, blank=True, related_name="document"
    )
    status = models.CharField(
        "état", max_length=14, choices=DocumentStatus.choices, default=DocumentStatus.PENDING
    )
    created_at = models.DateTimeField("créé le", default=timezone.now)
    content = models.BinaryField("PDF", blank=True, default=b"")
    sha256 = models.CharField("SHA-256", max_length=64, blank=True)
    issued_at = models.DateTimeField("émis le", null=True, blank=True)
    error = models.TextField("erreur de rendu", blank=True)

    class Meta:
        triggers = kept(DOCUMENT_KEPT)
        verbose_name = "document"
        constraints = [
            models.UniqueConstraint(fields=["kind", "number"], name="document_one_per_number"),
            models.CheckConstraint(
                condition=~Q(status=DocumentStatus.READY) | ~Q(sha256=""),
                name="document_ready_has_hash",
            ),
        ]
        indexes = [
            # The health page and the stalled-document sweep look for what is not ready.
            models.Index(
                fields=["created_at"],
                name="document_not_ready",
                condition=~Q(status=DocumentStatus.READY),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    STALLED_AFTER = dt.timedelta(minutes=15)

    @property
    def stalled(self) -> bool:
        """Still "en cours de production" a quarter of an hour later: the workers are down or
        its job failed. The issuing roles may then render it themselves ("Régénérer")."""
        return (
            self.status == DocumentStatus.PENDING
            and timezone.now() - self.created_at > self.STALLED_AFTER
        )

    @property
    def filename(self) -> str:
        return f"{self.number}.pdf"


class DocumentPrint(models.Model):
    """One print of a stored document: copy 0 is the original, copy k the "DUPLICATA n° k".
    Prints are not steps of the procedure: they are listed apart from the request's events."""

    document = models.ForeignKey(
        Document, on_delete=models.PROTECT, related_name="prints", verbose_name="document"
    )
    copy = models.PositiveSmallIntegerField("exemplaire", help_text="0 : l'original.")
    printed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="par"
    )
    printed_at = models.DateTimeField("imprimé le", auto_now_add=True)

    class Meta:
        triggers = append_only()
        verbose_name = "impression"
        ordering = ["printed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["document", "copy"], name="document_print_copy")
        ]

    def __str__(self) -> str:
        return f"{self.document} ({self.copy})"

    @property
    def is_duplicate(self) -> bool:
        return self.copy > 0
