from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F, Func, Q

from contracts.enums import (
    PERSON_ID_TYPES,
    ContractStatus,
    CustomerKind,
    DeliveryPointStatus,
    DepositStatus,
    IdDocumentType,
    MeterStatus,
    Role,
    Voltage,
    Zone,
)


class Normalize(Func):
    """sbee_normalize(text): unaccented and upper-case; an IMMUTABLE SQL function (migration 0001),
    so that it can feed a stored generated column and a trigram index."""

    function = "sbee_normalize"
    output_field = models.TextField()


class Agency(models.Model):
    code = models.CharField("code", max_length=10, unique=True)
    name = models.CharField("nom", max_length=100)
    zone = models.CharField("zone", max_length=4, choices=Zone.choices)

    class Meta:
        verbose_name = "agence"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StaffManager(UserManager):
    def get_queryset(self):
        # Every page shows the user's agency in its header.
        return super().get_queryset().select_related("agency")


class User(AbstractUser):
    """An SBEE staff member. Roles are the Django groups named after contracts.enums.Role."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, verbose_name="agence")
    is_demo = models.BooleanField(
        "compte de démonstration",
        default=False,
        help_text="Accepte le mot de passe de démonstration, seulement quand DEBUG est actif.",
    )

    REQUIRED_FIELDS = ["agency"]

    objects = StaffManager()

    class Meta:
        verbose_name = "utilisateur"

    @property
    def roles(self) -> frozenset[str]:
        """The user's role codes, read once per request."""
        if not hasattr(self, "_roles"):
            self._roles = frozenset(self.groups.values_list("name", flat=True))
        return self._roles

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def role_labels(self) -> list[str]:
        return [label for value, label in Role.choices if value in self.roles]

    @property
    def sees_all_agencies(self) -> bool:
        return self.has_role(Role.AUDITOR)


class Customer(models.Model):
    kind = models.CharField("type", max_length=8, choices=CustomerKind.choices)
    name = models.CharField(
        "nom", max_length=150, help_text="NOM et prénoms, ou raison sociale pour une entreprise."
    )
    name_normalized = models.GeneratedField(
        expression=Normalize(F("name")),
        # Byte order: a plain B-tree then serves both LIKE 'PREFIX%' and ORDER BY.
        output_field=models.TextField(db_collation="C"),
        db_persist=True,
        verbose_name="nom normalisé",
    )
    id_document_type = models.CharField(
        "type de pièce", max_length=16, choices=IdDocumentType.choices
    )
    id_document_number = models.CharField("numéro de pièce", max_length=40)
    phone = models.CharField("téléphone", max_length=10, db_index=True)
    address = models.CharField("adresse", max_length=255)

    class Meta:
        verbose_name = "client"
        constraints = [
            models.UniqueConstraint(
                fields=["id_document_type", "id_document_number"],
                name="customer_unique_id_document",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=CustomerKind.COMPANY, id_document_type=IdDocumentType.RCCM)
                    | Q(kind=CustomerKind.PERSON, id_document_type__in=PERSON_ID_TYPES)
                ),
                name="customer_id_document_fits_kind",
                violation_error_message=(
                    "Une entreprise s'identifie par son RCCM ; une personne par une CNI, un CIP, "
                    "un passeport ou une carte consulaire."
                ),
            ),
            models.CheckConstraint(
                condition=Q(phone__regex=r"^[0-9]{8,10}$"), name="customer_phone_digits"
            ),
        ]
        indexes = [
            # "HOUNK" -> names starting so (a B-tree range scan); "Clarisse" -> names containing it.
            models.Index(fields=["name_normalized"], name="customer_name_prefix"),
            GinIndex(OpClass(F("name_normalized"), name="gin_trgm_ops"), name="customer_name_trgm"),
        ]

    def __str__(self) -> str:
        return self.name


class DeliveryPoint(models.Model):
    reference = models.CharField("référence", max_length=20, unique=True)
    address = models.CharField("adresse", max_length=255)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, verbose_name="agence")
    voltage = models.CharField("tension", max_length=2, choices=Voltage.choices)
    status = models.CharField(
        "état",
        max_length=8,
        choices=DeliveryPointStatus.choices,
        default=DeliveryPointStatus.ACTIVE,
    )

    class Meta:
        verbose_name = "point de livraison"
        verbose_name_plural = "points de livraison"

    def __str__(self) -> str:
        return self.reference


class Meter(models.Model):
    serial = models.CharField("numéro de série", max_length=30, unique=True)
    digits = models.PositiveSmallIntegerField("nombre de chiffres")
    status = models.CharField(
        "état", max_length=10, choices=MeterStatus.choices, default=MeterStatus.INSTALLED
    )

    class Meta:
        verbose_name = "compteur"
        constraints = [
            models.CheckConstraint(
                condition=Q(digits__gte=4, digits__lte=9), name="meter_digits_4_to_9"
            ),
        ]

    def __str__(self) -> str:
        return self.serial


class Contract(models.Model):
    number = models.CharField("numéro de contrat", max_length=20, unique=True)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, verbose_name="agence")
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="contracts", verbose_name="client"
    )
    delivery_point = models.ForeignKey(
        DeliveryPoint,
        on_delete=models.PROTECT,
        related_name="contracts",
        verbose_name="point de livraison",
    )
    meter = models.ForeignKey(
        Meter, on_delete=models.PROTECT, related_name="contracts", verbose_name="compteur"
    )
    tariff_category = models.ForeignKey(
        "billing.TariffCategory", on_delete=models.PROTECT, verbose_name="catégorie tarifaire"
    )
    subscribed_power_kva = models.PositiveSmallIntegerField("puissance souscrite (kVA)")
    start_date = models.DateField("date d'effet")
    end_date = models.DateField("date de résiliation", null=True, blank=True)
    status = models.CharField(
        "état", max_length=10, choices=ContractStatus.choices, default=ContractStatus.ACTIVE
    )
    last_billed_index = models.PositiveIntegerField("dernier index facturé")
    last_billed_date = models.DateField("date du dernier index facturé")

    class Meta:
        verbose_name = "contrat"
        constraints = [
            models.UniqueConstraint(
                fields=["delivery_point"],
                condition=Q(status=ContractStatus.ACTIVE),
                name="contract_one_active_per_delivery_point",
                violation_error_message="Ce point de livraison a déjà un contrat actif.",
            ),
            models.UniqueConstraint(
                fields=["meter"],
                condition=Q(status=ContractStatus.ACTIVE),
                name="contract_one_active_per_meter",
                violation_error_message="Ce compteur est déjà attaché à un contrat actif.",
            ),
            models.CheckConstraint(
                condition=Q(subscribed_power_kva__gt=0), name="contract_power_positive"
            ),
            models.CheckConstraint(
                condition=Q(status=ContractStatus.ACTIVE, end_date__isnull=True)
                | Q(status=ContractStatus.TERMINATED, end_date__isnull=False),
                name="contract_end_date_iff_terminated",
            ),
        ]
        indexes = [models.Index(fields=["agency", "status"], name="contract_agency_status")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_active(self) -> bool:
        return self.status == ContractStatus.ACTIVE


class Deposit(models.Model):
    """The avance sur consommation paid at subscription; refunded only to the person who paid it."""

    contract = models.OneToOneField(
        Contract, on_delete=models.PROTECT, related_name="deposit", verbose_name="contrat"
    )
    amount = models.PositiveIntegerField("montant (FCFA)")
    paid_on = models.DateField("versé le")
    payer_name = models.CharField("nom du déposant", max_length=150)
    payer_id_document_type = models.CharField(
        "type de pièce du déposant", max_length=16, choices=IdDocumentType.choices
    )
    payer_id_document_number = models.CharField("numéro de pièce du déposant", max_length=40)
    status = models.CharField(
        "état", max_length=10, choices=DepositStatus.choices, default=DepositStatus.HELD
    )

    class Meta:
        verbose_name = "dépôt de garantie"
        verbose_name_plural = "dépôts de garantie"

    def __str__(self) -> str:
        return f"Dépôt {self.contract.number}"
