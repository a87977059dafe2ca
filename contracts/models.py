import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.functions import Now
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from contracts.enums import (
    DEFAULT_DELAYS,
    NOT_TERMINATED,
    OPEN_REQUEST_STATES,
    OPERATIONAL_ROLES,
    PERSON_ID_TYPES,
    ContractStatus,
    CustomerKind,
    DelayKind,
    DeliveryPointStatus,
    DepositStatus,
    IdDocumentType,
    MeterStatus,
    RequesterQuality,
    RequestState,
    Role,
    SecurityEventKind,
    TerminationKind,
    Timing,
    Voltage,
    Zone,
)
from contracts.phone import E164_PATTERN, PHONE_E164_MESSAGE
from contracts.triggers import append_only, counter_only_grows, state_has_event


class Normalize(Func):
    """sbee_normalize(text): unaccented and upper-case; an IMMUTABLE SQL function (migration 0001),
    so that it can feed a stored generated column and a trigram index."""

    function = "sbee_normalize"
    output_field = models.TextField()


class Direction(models.Model):
    """A Direction régionale (DR): the agencies it groups are supervised together."""

    code = models.CharField("code", max_length=10, unique=True)
    name = models.CharField("nom", max_length=100)

    class Meta:
        verbose_name = "direction régionale"
        verbose_name_plural = "directions régionales"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Agency(models.Model):
    code = models.CharField("code", max_length=10, unique=True)
    name = models.CharField("nom", max_length=100)
    zone = models.CharField("zone", max_length=4, choices=Zone.choices)
    # Empty only for an agency recorded before the directions were (the admin asks for one).
    direction = models.ForeignKey(
        Direction,
        on_delete=models.PROTECT,
        null=True,
        related_name="agencies",
        verbose_name="direction régionale",
    )

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
    def display_name(self) -> str:
        """How pages, documents and the journal name a person: full name, else user name."""
        return self.get_full_name() or self.username

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

    @property
    def supervises(self) -> bool:
        """Reads the dashboards, searches and exports: the auditors (every agency) and the chef
        d'agence (his own)."""
        return self.has_role(Role.AUDITOR, Role.MANAGER)

    @property
    def acts_in_procedure(self) -> bool:
        """Holds a role that acts on requests (not only the auditor's or the admin's)."""
        return self.has_role(*OPERATIONAL_ROLES)


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
    phone = models.CharField("téléphone", max_length=16, help_text="format E.164 (+229…)")
    address = models.CharField("adresse", max_length=255)

    class Meta:
        verbose_name = "client"
        constraints = [
            models.UniqueConstraint(
                fields=["id_document_type", "id_document_number"],
                name="customer_unique_id_document",
                violation_error_message="Un client porte déjà cette pièce d'identité.",
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
                condition=Q(phone__regex=E164_PATTERN),
                name="customer_phone_e164",
                violation_error_message=PHONE_E164_MESSAGE,
            ),
        ]
        # One index per searched text column: pattern_ops serves both = and LIKE 'prefix%'
        # (Django's db_index made a plain twin beside it, 41 MB on 1 000 000 customers, unused).
        indexes = [
            models.Index(
                fields=["phone"], name="customer_phone", opclasses=["varchar_pattern_ops"]
            ),
            # "HOUNK" -> names starting so (a B-tree range scan); "Clarisse" -> names containing it.
            models.Index(fields=["name_normalized"], name="customer_name_prefix"),
            GinIndex(OpClass(F("name_normalized"), name="gin_trgm_ops"), name="customer_name_trgm"),
        ]

    def __str__(self) -> str:
        return self.name


class DeliveryPoint(models.Model):
    reference = models.CharField("référence", max_length=20)
    address = models.CharField("adresse", max_length=255)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, verbose_name="agence")
    voltage = models.CharField("tension", max_length=2, choices=Voltage.choices)
    # What the connection can carry: a successor chooses a subscribed power up to it. Unknown
    # (an import from the billing system does not say): up to the power subscribed today.
    max_power_kva = models.PositiveSmallIntegerField(
        "puissance maximale du branchement (kVA)",
        null=True,
        blank=True,
        help_text="Ce que le branchement permet de souscrire. Vide : pas au-delà de la "
        "puissance du contrat en cours.",
    )
    status = models.CharField(
        "état",
        max_length=8,
        choices=DeliveryPointStatus.choices,
        default=DeliveryPointStatus.ACTIVE,
    )
    # Where it is, when known (the field app's reports are shown with their distance to it).
    latitude = models.FloatField("latitude", null=True, blank=True)
    longitude = models.FloatField("longitude", null=True, blank=True)

    class Meta:
        verbose_name = "point de livraison"
        verbose_name_plural = "points de livraison"
        # A constraint rather than unique=True: no "_like" twin index (never searched by prefix).
        constraints = [
            models.UniqueConstraint(
                fields=["reference"],
                name="deliverypoint_unique_reference",
                violation_error_message="Un point de livraison porte déjà cette référence.",
            ),
            models.CheckConstraint(
                condition=Q(max_power_kva__isnull=True) | Q(max_power_kva__gt=0),
                name="deliverypoint_max_power_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class Meter(models.Model):
    serial = models.CharField("numéro de série", max_length=30)
    digits = models.PositiveSmallIntegerField("nombre de chiffres")
    status = models.CharField(
        "état", max_length=16, choices=MeterStatus.choices, default=MeterStatus.INSTALLED
    )

    class Meta:
        verbose_name = "compteur"
        constraints = [
            # One index for uniqueness, = and LIKE 'prefix%' (unique=True made two of 36 MB).
            models.UniqueConstraint(
                fields=["serial"],
                name="meter_unique_serial",
                opclasses=["varchar_pattern_ops"],
                violation_error_message="Un compteur porte déjà ce numéro de série.",
            ),
            models.CheckConstraint(
                condition=Q(digits__gte=4, digits__lte=9), name="meter_digits_4_to_9"
            ),
        ]

    def __str__(self) -> str:
        return self.serial


class Contract(models.Model):
    number = models.CharField("numéro de contrat", max_length=20)
    # Indexed by contract_agency_status (agency first): no index of its own.
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, verbose_name="agence", db_index=False
    )
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
            # One index for uniqueness, = and LIKE 'prefix%' (unique=True made two of 30 MB).
            models.UniqueConstraint(
                fields=["number"],
                name="contract_unique_number",
                opclasses=["varchar_pattern_ops"],
                violation_error_message="Un contrat porte déjà ce numéro.",
            ),
            models.UniqueConstraint(
                fields=["delivery_point"],
                condition=Q(status__in=NOT_TERMINATED),
                name="contract_one_active_per_delivery_point",
                violation_error_message="Ce point de livraison a déjà un contrat actif.",
            ),
            models.UniqueConstraint(
                fields=["meter"],
                condition=Q(status__in=NOT_TERMINATED),
                name="contract_one_active_per_meter",
                violation_error_message="Ce compteur est déjà attaché à un contrat actif.",
            ),
            models.CheckConstraint(
                condition=Q(subscribed_power_kva__gt=0), name="contract_power_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=NOT_TERMINATED, end_date__isnull=True)
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

    @property
    def is_ending(self) -> bool:
        return self.status == ContractStatus.ENDING

    # --- Its status changes, each written once. The caller holds the contract's row (or its
    # request's lock) in the step's transaction; the audit event is the step's.

    def stop_billing(self) -> None:
        """The balance invoice is validated: the contract is no longer billed and takes no
        advance (active → ending)."""
        if self.status == ContractStatus.ACTIVE:
            Contract.objects.filter(pk=self.pk).update(status=ContractStatus.ENDING)
            self.status = ContractStatus.ENDING

    def resume_billing(self) -> None:
        """The balance invoice is cancelled by a credit note: billed again (ending → active)."""
        if self.status == ContractStatus.ENDING:
            Contract.objects.filter(pk=self.pk).update(status=ContractStatus.ACTIVE)
            self.status = ContractStatus.ACTIVE

    def terminate(self, end_date: dt.date) -> None:
        """Terminated on `end_date` (the codification, or the reprise's mutation)."""
        self.status = ContractStatus.TERMINATED
        self.end_date = end_date
        self.save(update_fields=["status", "end_date"])

    def void(self) -> None:
        """A successor's contract that never started: it ends on the day it was to begin."""
        self.terminate(self.start_date)

    def reopen(self) -> None:
        """The reprise is cancelled: the outgoing contract is active again."""
        self.status = ContractStatus.ACTIVE
        self.end_date = None
        self.save(update_fields=["status", "end_date"])


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


class Delay(models.Model):
    """A délai of the procedure (DESIGN §10): in force from valid_from until a later row of the
    same kind replaces it. Rows in force are not edited: a new value is a new row."""

    kind = models.CharField("délai", max_length=24, choices=DelayKind.choices)
    days = models.PositiveSmallIntegerField("jours calendaires")
    valid_from = models.DateField("en vigueur à partir du")

    class Meta:
        verbose_name = "délai"
        ordering = ["kind", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "valid_from"], name="delay_one_per_day"),
            models.CheckConstraint(condition=Q(days__gte=1), name="delay_at_least_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} : {self.days} j (dès le {self.valid_from:%d/%m/%Y})"

    @classmethod
    def days_on(cls, kind: str, on: dt.date) -> int:
        """The délai in force on that day; the procedure's default when none was entered."""
        row = cls.objects.filter(kind=kind, valid_from__lte=on).order_by("-valid_from").first()
        return row.days if row is not None else DEFAULT_DELAYS[kind]

    @classmethod
    def all_on(cls, on: dt.date) -> dict[str, int]:
        """Every délai in force on that day, in one query."""
        rows = (
            cls.objects.filter(valid_from__lte=on)
            .order_by("kind", "-valid_from")
            .distinct("kind")
            .values_list("kind", "days")
        )
        return {**DEFAULT_DELAYS, **dict(rows)}


class NumberSequence(models.Model):
    """Gapless numbering per prefix, agency and year (orders, invoices, receipts). A number is
    taken inside the transaction that issues the document, under this row's lock: a rollback
    gives it back, and two issuers take two consecutive numbers."""

    prefix = models.CharField(max_length=10)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        triggers = [counter_only_grows()]
        constraints = [
            models.UniqueConstraint(fields=["prefix", "agency", "year"], name="number_sequence_key")
        ]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.agency_id}-{self.year}: {self.last}"

    @classmethod
    def take(cls, prefix: str, agency: Agency, year: int, count: int = 1) -> list[str]:
        """The next `count` numbers, in order, under the sequence row's lock."""
        cls.objects.bulk_create(
            [cls(prefix=prefix, agency=agency, year=year)], ignore_conflicts=True
        )
        seq = cls.objects.select_for_update().get(prefix=prefix, agency=agency, year=year)
        first = seq.last + 1
        seq.last += count
        seq.save(update_fields=["last"])
        return [f"{prefix}-{agency.code}-{year}-{n:06d}" for n in range(first, seq.last + 1)]

    @classmethod
    def next(cls, prefix: str, agency: Agency, year: int) -> str:
        return cls.take(prefix, agency, year, 1)[0]


# An MT meter stays in place: its step 8 is a final interruption, not a removal.
MT_STATE_LABELS = {
    RequestState.REMOVAL_ORDERED: "Ordre de coupure définitive émis",
    RequestState.METER_REMOVED: "Coupure définitive effectuée",
    RequestState.REMOVAL_IMPOSSIBLE: "Coupure définitive impossible (coupure au branchement)",
}


def by_role(*roles: str):
    """A transition's permission: the acting user holds one of the roles. `.roles` names them
    for the tests and the README's table."""

    def permission(instance, user) -> bool:
        return user is not None and user.has_role(*roles)

    permission.roles = roles
    return permission


def by_system(instance, user) -> bool:
    """Step 8: the system issues the removal order on the date, nobody asks for it."""
    return user is None


by_system.roles = ("system",)


def is_with_takeover(request: "TerminationRequest") -> bool:
    return request.kind == TerminationKind.WITH_TAKEOVER


def is_without_takeover(request: "TerminationRequest") -> bool:
    return request.kind == TerminationKind.WITHOUT_TAKEOVER


def needs_field_visit(request: "TerminationRequest") -> bool:
    """After settlement, a crew still goes on site (step 8): every BT request (removal), and an
    MT anticipated one whose supply was not cut yet (final interruption)."""
    return not (request.is_mt and request.timing == Timing.CLASSIC)


def closes_after_settlement(request: "TerminationRequest") -> bool:
    """MT classic: the supply is already cut and no meter is removed; the ACFF confirms."""
    return request.is_mt and request.timing == Timing.CLASSIC


# The request's columns that procedure/ writes from its rules, in the events' transactions.
WRITTEN_BY_PROCEDURE = frozenset({"deadline", "queue_task", "queue_holder_id", "queue_agent_id"})


class TerminationRequest(ConcurrentTransitionMixin, models.Model):
    """A customer's request to terminate a contract, driven through the procedure's steps.

    The @transition methods only change fields in memory; procedure/ locks the row,
    checks the actor, calls them, saves, and writes the TerminationEvent.
    """

    contract = models.ForeignKey(
        Contract,
        on_delete=models.PROTECT,
        related_name="termination_requests",
        verbose_name="contrat",
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, verbose_name="agence")
    kind = models.CharField("type", max_length=20, choices=TerminationKind.choices)
    state = FSMField(
        "état", default=RequestState.RECEIVED, choices=RequestState.choices, protected=True
    )
    timing = models.CharField("résiliation", max_length=12, choices=Timing.choices, blank=True)
    cut_date = models.DateField("date de coupure", null=True, blank=True)
    # Step 1: who asks (the procedure: "l'identité du demandeur doit être relevée").
    requester_name = models.CharField("nom du demandeur", max_length=150)
    requester_id_document_type = models.CharField(
        "pièce du demandeur", max_length=16, choices=IdDocumentType.choices
    )
    requester_id_document_number = models.CharField("numéro de pièce", max_length=40)
    requester_phone = models.CharField(
        "téléphone du demandeur", max_length=16, help_text="format E.164 (+229…)"
    )
    requester_quality = models.CharField("qualité", max_length=8, choices=RequesterQuality.choices)
    proxy_reference = models.CharField("référence de la procuration", max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="créée par",
    )
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    # Step 2 (reprise).
    successor = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="successeur",
    )
    successor_contract = models.ForeignKey(
        Contract,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="contrat du successeur",
    )
    mutation_index = models.PositiveIntegerField("index de mutation", null=True, blank=True)
    cancel_reason = models.CharField("motif d'annulation", max_length=255, blank=True)
    closed_at = models.DateTimeField("clôturée le", null=True, blank=True)
    # When the request entered its state: the work queues' age and order, through an index.
    state_since = models.DateTimeField("dans cet état depuis", default=timezone.now)
    # When the délai that runs in its state ends (None where none runs): written by
    # procedure/deadlines.py in the transaction of each event, never by a save().
    deadline = models.DateTimeField("fin du délai", null=True, blank=True, editable=False)
    # What it waits for in the work queues (procedure/queues.py), written in the transaction of
    # each event like the deadline, never by a save(): the task ("": nothing), the agent it
    # is reserved to (the agent of its order; None: anyone of the role), and the agent of the
    # order its field work is about.
    queue_task = models.CharField(
        "tâche en attente", max_length=32, blank=True, default="", editable=False
    )
    queue_holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name="tâche réservée à",
        db_index=False,  # read through request_work_queue; users are never deleted
    )
    queue_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name="agent de l'ordre en cours",
        db_index=False,  # read through request_work_queue; users are never deleted
    )

    class Meta:
        triggers = [state_has_event()]
        verbose_name = "demande de résiliation"
        verbose_name_plural = "demandes de résiliation"
        constraints = [
            models.UniqueConstraint(
                fields=["contract"],
                condition=Q(state__in=OPEN_REQUEST_STATES),
                name="request_one_open_per_contract",
                violation_error_message="Ce contrat a déjà une demande de résiliation en cours.",
            ),
            models.CheckConstraint(
                condition=~Q(requester_quality=RequesterQuality.PROXY) | ~Q(proxy_reference=""),
                name="request_proxy_has_reference",
            ),
            models.CheckConstraint(
                condition=Q(requester_phone__regex=E164_PATTERN),
                name="request_requester_phone_e164",
                violation_error_message=PHONE_E164_MESSAGE,
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "state", "state_since"], name="request_queue"),
            # The dashboards' weeks: requests deposited, and closed, since a date.
            models.Index(fields=["created_at"], name="request_created"),
            models.Index(
                fields=["closed_at"], name="request_closed", condition=Q(closed_at__isnull=False)
            ),
            # The open requests by deadline (those without a délai last), national and in an
            # agency: lateness, "trier par échéance", the queues; with their state and its date
            # so that the dashboards count them from the index alone.
            models.Index(
                fields=["deadline", "id"],
                include=["state", "state_since", "agency"],
                name="request_open_deadline",
                condition=Q(state__in=OPEN_REQUEST_STATES),
            ),
            models.Index(
                fields=["agency", "deadline", "id"],
                include=["state", "state_since"],
                name="request_open_agency_deadline",
                condition=Q(state__in=OPEN_REQUEST_STATES),
            ),
            # A work queue: in an agency and a state, the most urgent first.
            models.Index(
                fields=["agency", "state", "deadline", "state_since", "id"],
                name="request_open_queue",
                condition=Q(state__in=OPEN_REQUEST_STATES),
            ),
            # A work queue: in an agency, the requests waiting for one task, for anyone of the
            # role or for one agent, the most urgent first (two indexes: an IS NULL condition
            # does not give an index's order).
            models.Index(
                fields=["agency", "queue_task", "deadline", "state_since", "id"],
                name="request_work_queue",
                condition=~Q(queue_task="") & Q(queue_holder__isnull=True),
            ),
            models.Index(
                fields=["agency", "queue_task", "queue_holder", "deadline", "state_since", "id"],
                name="request_work_queue_agent",
                condition=~Q(queue_task="") & Q(queue_holder__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Résiliation {self.contract.number}"

    def save(self, *args, **kwargs):
        """A request saved again leaves its deadline and queue task as procedure/ wrote them
        (an instance read before that would otherwise write back their old values)."""
        if not self._state.adding and kwargs.get("update_fields") is None:
            deferred = self.get_deferred_fields()
            kwargs["update_fields"] = [
                f.attname
                for f in self._meta.concrete_fields
                if not f.primary_key
                and f.attname not in WRITTEN_BY_PROCEDURE
                and f.attname not in deferred
            ]
        super().save(*args, **kwargs)

    @property
    def is_mt(self) -> bool:
        return self.contract.tariff_category.voltage == Voltage.MT

    @property
    def is_anticipated(self) -> bool:
        return self.timing == Timing.ANTICIPATED

    def removal_due(self, today: dt.date) -> bool:
        return self.cut_date is not None and self.cut_date <= today

    @property
    def state_label(self) -> str:
        """The state in the request's own words: an MT meter is never removed, its supply is
        cut for good (coupure définitive)."""
        if self.is_mt and self.state in MT_STATE_LABELS:
            return MT_STATE_LABELS[self.state]
        return self.get_state_display()

    # Step 2: reprise — the successor's contract is opened, both invoices validated.
    @transition(
        field=state,
        source=RequestState.RECEIVED,
        target=RequestState.TAKEOVER_INVOICED,
        conditions=[is_with_takeover],
        permission=by_role(Role.RECEPTION),
        custom={"step": 2},
    )
    def take_over(self):
        pass

    # Step 3: the intervention order is issued and signed by the requester.
    @transition(
        field=state,
        source=RequestState.RECEIVED,
        target=RequestState.ORDER_ISSUED,
        conditions=[is_without_takeover],
        permission=by_role(Role.RECEPTION),
        custom={"step": 3},
    )
    def issue_order(self):
        pass

    # Steps 4-5: the report of the reader, or of the ARPNT agent the procedure also names at
    # step 5. Classic: the cut order waits for the supervisor's signature; anticipated: the
    # reading report alone, the order is filed.
    @transition(
        field=state,
        source=RequestState.ORDER_ISSUED,
        target=RETURN_VALUE(RequestState.FIELD_REPORTED, RequestState.REPORT_APPROVED),
        permission=by_role(Role.READER, Role.ARPNT),
        custom={"step": 5},
    )
    def report_field(self):
        return RequestState.REPORT_APPROVED if self.is_anticipated else RequestState.FIELD_REPORTED

    # Step 5: the chef de section recouvrement signs the cut order.
    @transition(
        field=state,
        source=RequestState.FIELD_REPORTED,
        target=RequestState.REPORT_APPROVED,
        permission=by_role(Role.SUPERVISOR),
        custom={"step": 5},
    )
    def approve_report(self):
        pass

    # Step 5: instead of signing, the supervisor sends the report back to its agent; the report
    # is kept, marked superseded, and the same order returns to the agent's queue.
    @transition(
        field=state,
        source=RequestState.FIELD_REPORTED,
        target=RequestState.ORDER_ISSUED,
        permission=by_role(Role.SUPERVISOR),
        custom={"step": 5},
    )
    def send_back_field_report(self):
        pass

    # Step 6: the balance invoice is validated.
    @transition(
        field=state,
        source=RequestState.REPORT_APPROVED,
        target=RequestState.INVOICED,
        permission=by_role(Role.RECEPTION),
        custom={"step": 6},
    )
    def invoice(self):
        pass

    # Step 6, corrected: before settlement, the supervisor cancels the balance invoice by a
    # credit note; the request returns to the invoice step, or further back to the field with
    # its report sent back.
    @transition(
        field=state,
        source=RequestState.INVOICED,
        target=RequestState.REPORT_APPROVED,
        permission=by_role(Role.SUPERVISOR),
        custom={"step": 6},
    )
    def cancel_balance_invoice(self):
        pass

    @transition(
        field=state,
        source=RequestState.INVOICED,
        target=RequestState.ORDER_ISSUED,
        permission=by_role(Role.SUPERVISOR),
        custom={"step": 6},
    )
    def cancel_balance_invoice_and_send_back(self):
        pass

    # Step 2, corrected: the reprise's invoices are cancelled by credit notes; the reprise is
    # reopened (the outgoing contract active again, the successor's contract void).
    @transition(
        field=state,
        source=RequestState.TAKEOVER_INVOICED,
        target=RequestState.RECEIVED,
        conditions=[is_with_takeover],
        permission=by_role(Role.SUPERVISOR),
        custom={"step": 2},
    )
    def cancel_takeover_invoices(self):
        pass

    # Step 7 without reprise: the balance is collected or refunded.
    @transition(
        field=state,
        source=RequestState.INVOICED,
        target=RequestState.SETTLED,
        permission=by_role(Role.CASHIER),
        custom={"step": 7},
    )
    def settle(self):
        pass

    # Step 7 by the system, after its délai: a balance still to collect goes to recovery, a
    # refund never claimed stays as a credit on the account; both are listed for apurement.
    @transition(
        field=state,
        source=RequestState.INVOICED,
        target=RequestState.SETTLED,
        permission=by_system,
        custom={"step": 7},
    )
    def transfer_to_recovery(self):
        pass

    @transition(
        field=state,
        source=RequestState.INVOICED,
        target=RequestState.SETTLED,
        permission=by_system,
        custom={"step": 7},
    )
    def leave_refund_as_credit(self):
        pass

    # Step 7 with reprise: both invoices settled, end of the procedure.
    @transition(
        field=state,
        source=RequestState.TAKEOVER_INVOICED,
        target=RequestState.CLOSED,
        conditions=[is_with_takeover],
        permission=by_role(Role.CASHIER),
        custom={"step": 7},
    )
    def close_takeover(self):
        pass

    # Step 8: on the date, the removal (BT) or final interruption (MT) order, by the system.
    @transition(
        field=state,
        source=RequestState.SETTLED,
        target=RequestState.REMOVAL_ORDERED,
        conditions=[needs_field_visit],
        permission=by_system,
        custom={"step": 8},
    )
    def order_removal(self):
        pass

    # Step 9: the ARPNT's removal report.
    @transition(
        field=state,
        source=RequestState.REMOVAL_ORDERED,
        target=RequestState.METER_REMOVED,
        permission=by_role(Role.ARPNT),
        custom={"step": 9},
    )
    def report_removal(self):
        pass

    # Step 9: instead of signing, the supervisor sends the removal report back to the crew.
    @transition(
        field=state,
        source=RequestState.METER_REMOVED,
        target=RequestState.REMOVAL_ORDERED,
        permission=by_role(Role.SUPERVISOR),
        custom={"step": 9},
    )
    def send_back_removal_report(self):
        pass

    # Step 9: after repeated failed visits, the supervisor closes the removal as impossible;
    # the supply is cut at the connection (coupure au branchement).
    @transition(
        field=state,
        source=RequestState.REMOVAL_ORDERED,
        target=RequestState.REMOVAL_IMPOSSIBLE,
        permission=by_role(Role.SUPERVISOR),
        custom={"step": 9},
    )
    def declare_removal_impossible(self):
        pass

    # Step 9: the ACFF confirms the codification (contract terminated, delivery point freed).
    @transition(
        field=state,
        source=[RequestState.METER_REMOVED, RequestState.REMOVAL_IMPOSSIBLE],
        target=RequestState.CLOSED,
        permission=by_role(Role.ACFF),
        custom={"step": 9},
    )
    def confirm_codification(self):
        pass

    # MT classic: nothing to remove; the ACFF confirms right after settlement.
    @transition(
        field=state,
        source=RequestState.SETTLED,
        target=RequestState.CLOSED,
        conditions=[closes_after_settlement],
        permission=by_role(Role.ACFF),
        custom={"step": 9},
    )
    def confirm_codification_without_removal(self):
        pass

    @transition(
        field=state,
        source=[RequestState.RECEIVED, RequestState.ORDER_ISSUED],
        target=RequestState.CANCELLED,
        permission=by_role(Role.RECEPTION),
        custom={"step": 0},
    )
    def cancel(self):
        pass


class TerminationEvent(models.Model):
    """The request's audit trail: one row per step, in the step's transaction. Append-only: the
    database refuses UPDATE, DELETE and TRUNCATE on this table (its Meta.triggers)."""

    request = models.ForeignKey(TerminationRequest, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_role = models.CharField("rôle", max_length=20)
    step = models.PositiveSmallIntegerField("étape")
    action = models.CharField("action", max_length=50)
    from_state = models.CharField("de", max_length=20, choices=RequestState.choices)
    to_state = models.CharField("à", max_length=20, choices=RequestState.choices)
    at = models.DateTimeField("le", default=timezone.now)
    data = models.JSONField("données", default=dict, blank=True)
    # The request's audit chain (contracts.audit): the previous event's hash, and this one's.
    prev_hash = models.CharField("empreinte précédente", max_length=64, blank=True)
    hash = models.CharField("empreinte", max_length=64, blank=True)

    class Meta:
        triggers = append_only()
        verbose_name = "événement"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["request", "at"], name="event_request_at")]

    def __str__(self) -> str:
        return f"{self.action} ({self.at:%d/%m/%Y %H:%M})"


class SecurityEvent(models.Model):
    """What happened to accounts: logins, failures, roles granted, passwords reset. Append-only
    (the database refuses UPDATE, DELETE and TRUNCATE), and chained: each row stores the hash
    of the previous one, so that `manage.py verify_audit` finds the first broken link."""

    at = models.DateTimeField("le", default=timezone.now)
    kind = models.CharField("nature", max_length=32, choices=SecurityEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="par",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="compte concerné",
    )
    username = models.CharField("identifiant saisi", max_length=150, blank=True)
    ip_address = models.GenericIPAddressField("adresse", null=True, blank=True)
    data = models.JSONField("détails", default=dict, blank=True)
    prev_hash = models.CharField("empreinte précédente", max_length=64, blank=True)
    hash = models.CharField("empreinte", max_length=64, unique=True)

    class Meta:
        triggers = append_only()
        verbose_name = "événement de sécurité"
        verbose_name_plural = "événements de sécurité"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["kind", "at"], name="security_kind_at"),
            models.Index(fields=["user", "at"], name="security_user_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.at:%d/%m/%Y %H:%M})"


class PasswordReset(models.Model):
    """An admin's reset of someone's password takes effect only once a second admin approves
    it (neither the requester nor the account's owner): until then the new password is only a
    hash waiting here."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="compte",
    )
    password = models.CharField("nouveau mot de passe (empreinte)", max_length=256)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="demandée par",
    )
    requested_at = models.DateTimeField("demandée le", auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="approuvée par",
    )
    approved_at = models.DateTimeField("approuvée le", null=True, blank=True)

    class Meta:
        verbose_name = "réinitialisation de mot de passe"
        verbose_name_plural = "réinitialisations de mot de passe"
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | (~Q(approved_by=F("requested_by")) & ~Q(approved_by=F("user"))),
                name="password_reset_second_admin",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.requested_at:%d/%m/%Y %H:%M})"


class DataChange(models.Model):
    """A change the database recorded itself, by trigger, on what must leave a trace whoever
    makes it (the application, its role used by hand, any account): deposits, users and their
    roles, second-factor devices, lockouts. Secrets (a password, a device's key) are masked.
    Append-only."""

    table = models.CharField("table", max_length=63)
    operation = models.CharField("opération", max_length=6)
    row_id = models.CharField("ligne", max_length=40)
    old = models.JSONField("avant", null=True, blank=True)
    new = models.JSONField("après", null=True, blank=True)
    db_user = models.CharField("rôle PostgreSQL", max_length=63)
    at = models.DateTimeField("le", db_default=Now())

    class Meta:
        triggers = append_only()
        verbose_name = "modification enregistrée par la base"
        verbose_name_plural = "modifications enregistrées par la base"
        ordering = ["-id"]
        indexes = [models.Index(fields=["table", "at"], name="datachange_table_at")]

    def __str__(self) -> str:
        return f"{self.operation} {self.table} {self.row_id}"


class EnrolmentCode(models.Model):
    """The one-time code a person types at the first enrolment of their second factor, so that
    a stolen password alone does not enrol: asked for by one admin, issued (and shown once) by
    another who is not the account's owner; only its hash is kept. `manage.py enrolment_code`
    issues one from the server's console (the first administrator's)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="compte"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="demandé par",
        help_text="Vide : émis depuis la console du serveur.",
    )
    requested_at = models.DateTimeField("demandé le", auto_now_add=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="émis par",
    )
    issued_at = models.DateTimeField("émis le", null=True, blank=True)
    code_hash = models.CharField("empreinte du code", max_length=64, blank=True)
    used_at = models.DateTimeField("utilisé le", null=True, blank=True)

    class Meta:
        verbose_name = "code d'enrôlement du second facteur"
        verbose_name_plural = "codes d'enrôlement du second facteur"
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(issued_by__isnull=True)
                | (~Q(issued_by=F("requested_by")) & ~Q(issued_by=F("user"))),
                name="enrolment_code_second_admin",
            ),
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(issued_at__isnull=False),
                name="enrolment_code_used_once_issued",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.requested_at:%d/%m/%Y %H:%M})"
