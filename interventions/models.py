from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from interventions.enums import OrderKind, OrderStatus, Remark


class InterventionOrder(models.Model):
    """An order printed for the field: taken by a reader (steps 4-5) or an ARPNT crew (8-9)."""

    request = models.ForeignKey(
        "contracts.TerminationRequest",
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name="demande",
    )
    agency = models.ForeignKey("contracts.Agency", on_delete=models.PROTECT)
    kind = models.CharField("nature", max_length=24, choices=OrderKind.choices)
    number = models.CharField("numéro", max_length=40, unique=True)
    issued_on = models.DateField("émis le")
    due_on = models.DateField("à exécuter le")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="agent désigné",
    )
    status = models.CharField(
        "état", max_length=10, choices=OrderStatus.choices, default=OrderStatus.ISSUED
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="émis par",
    )

    class Meta:
        verbose_name = "ordre d'intervention"
        verbose_name_plural = "ordres d'intervention"
        constraints = [
            # Step 8 runs on several workers at once: a second order of a kind is impossible.
            models.UniqueConstraint(fields=["request", "kind"], name="order_one_per_request_kind")
        ]
        indexes = [models.Index(fields=["agency", "status"], name="order_agency_status")]

    def __str__(self) -> str:
        return self.number


class InterventionReport(models.Model):
    """The compte-rendu d'intervention (CRI) of an order, as entered from the paper order."""

    order = models.OneToOneField(
        InterventionOrder, on_delete=models.PROTECT, related_name="report", verbose_name="ordre"
    )
    index_read = models.PositiveIntegerField("index relevé")
    read_on = models.DateField("date du relevé")
    cut_done = models.BooleanField("coupure effectuée", default=False)
    cut_index = models.PositiveIntegerField("index de coupure", null=True, blank=True)
    rollover_confirmed = models.BooleanField("passage par zéro confirmé", default=False)
    high_consumption_confirmed = models.BooleanField("forte consommation confirmée", default=False)
    remarks = ArrayField(
        models.CharField(max_length=20, choices=Remark.choices),
        default=list,
        blank=True,
        verbose_name="remarques sur le point de livraison",
    )
    remarks_other = models.CharField("autre remarque", max_length=255, blank=True)
    safety_steps_confirmed = ArrayField(
        models.PositiveSmallIntegerField(),
        default=list,
        blank=True,
        verbose_name="étapes du mode opératoire confirmées",
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="saisi par",
    )
    entered_at = models.DateTimeField("saisi le", auto_now_add=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="signé par",
    )
    signed_at = models.DateTimeField("signé le", null=True, blank=True)

    class Meta:
        verbose_name = "compte-rendu d'intervention"
        verbose_name_plural = "comptes-rendus d'intervention"
        constraints = [
            models.CheckConstraint(
                condition=Q(cut_done=False) | Q(cut_index__isnull=False),
                name="report_cut_has_index",
            ),
            models.CheckConstraint(
                condition=Q(signed_by__isnull=True, signed_at__isnull=True)
                | Q(signed_by__isnull=False, signed_at__isnull=False),
                name="report_signature_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"CRI {self.order.number}"

    @property
    def remark_labels(self) -> list[str]:
        labels = dict(Remark.choices)
        return [labels.get(r, r) for r in self.remarks]

    @property
    def final_index(self) -> int:
        """The index the invoice is computed on: the cut index when the supply was cut."""
        return self.cut_index if self.cut_done and self.cut_index is not None else self.index_read
