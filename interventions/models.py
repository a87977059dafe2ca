import math

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from contracts.triggers import append_only, kept
from interventions.enums import (
    OrderKind,
    OrderStatus,
    Remark,
    SignedVia,
    SubmissionKind,
    SubmissionOutcome,
    VisitFailure,
)
from interventions.triggers import REPORT_KEPT, VISIT_KEPT


class InterventionOrder(models.Model):
    """An order printed for the field: taken by a reader (steps 4-5) or an ARPNT crew (8-9).
    Its visits (failed ones included) and its reports (superseded ones included) are kept."""

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
    due_on = models.DateField(
        "à exécuter le", help_text="Reportée après une visite infructueuse, avec son historique."
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="agent désigné",
    )
    assigned_at = models.DateTimeField("désigné le", null=True, blank=True)
    reassignments = models.PositiveSmallIntegerField("réaffectations", default=0)
    status = models.CharField(
        "état", max_length=16, choices=OrderStatus.choices, default=OrderStatus.ISSUED
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="émis par",
    )
    # Step 3: the requester signs the printed order; reception records it.
    requester_signed_at = models.DateTimeField("signé par le demandeur le", null=True, blank=True)
    requester_signature_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="signature constatée par",
    )
    # Filed (classé) once its report is done with: the reading order at its report, the
    # interruption order at the supervisor's signature, the removal order at the codification.
    filed_at = models.DateTimeField("classé le", null=True, blank=True)
    # Closed without a report: the intervention is impossible, the supply cut at the connection.
    closure_reason = models.CharField("motif de clôture", max_length=255, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="clos par",
    )
    closed_at = models.DateTimeField("clos le", null=True, blank=True)

    class Meta:
        verbose_name = "ordre d'intervention"
        verbose_name_plural = "ordres d'intervention"
        constraints = [
            # Step 8 runs on several workers at once: a second order of a kind is impossible.
            models.UniqueConstraint(fields=["request", "kind"], name="order_one_per_request_kind"),
            models.CheckConstraint(
                condition=Q(requester_signed_at__isnull=True)
                | Q(requester_signature_recorded_by__isnull=False),
                name="order_signature_recorded_by_someone",
            ),
            models.CheckConstraint(
                condition=~Q(status=OrderStatus.IMPOSSIBLE)
                | (Q(closed_at__isnull=False, closed_by__isnull=False) & ~Q(closure_reason="")),
                name="order_impossible_has_reason",
            ),
        ]
        # The work queues ask "has this request an order of this kind, in this status, for this
        # agent?" of an agency's open orders: answered from the index alone.
        indexes = [
            models.Index(
                fields=["agency", "status"],
                include=["kind", "assignee", "request"],
                name="order_agency_status",
            )
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_field_order(self) -> bool:
        """Step 3's order (interruption and reading, or reading only)."""
        return self.kind in (OrderKind.INTERRUPTION_READING, OrderKind.READING)

    @property
    def report(self) -> "InterventionReport | None":
        """The report in force (not superseded). Prefetch `reports` to read it without a
        query per order."""
        return next((r for r in self.reports.all() if r.superseded_at is None), None)

    @property
    def superseded_reports(self) -> list["InterventionReport"]:
        return [r for r in self.reports.all() if r.superseded_at is not None]

    @property
    def is_signed_by_requester(self) -> bool:
        return self.requester_signed_at is not None


class VisitAttempt(models.Model):
    """A visit that could not be done (visite infructueuse), and the new date set afterwards.
    Append-only: the database refuses any change but setting the new date, once."""

    order = models.ForeignKey(
        InterventionOrder, on_delete=models.PROTECT, related_name="attempts", verbose_name="ordre"
    )
    visited_on = models.DateField("date de la visite")
    reason = models.CharField("motif", max_length=24, choices=VisitFailure.choices)
    reason_detail = models.CharField("précision", max_length=255, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="par"
    )
    entered_at = models.DateTimeField("saisie le", auto_now_add=True)
    rescheduled_to = models.DateField("nouvelle date d'exécution", null=True, blank=True)
    rescheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="reprogrammée par",
    )
    rescheduled_at = models.DateTimeField("reprogrammée le", null=True, blank=True)

    class Meta:
        triggers = kept(VISIT_KEPT)
        verbose_name = "visite infructueuse"
        verbose_name_plural = "visites infructueuses"
        ordering = ["entered_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=VisitFailure.OTHER) | ~Q(reason_detail=""),
                name="visit_other_has_detail",
            ),
            models.CheckConstraint(
                condition=Q(rescheduled_to__isnull=True, rescheduled_by__isnull=True)
                | Q(rescheduled_to__isnull=False, rescheduled_by__isnull=False),
                name="visit_rescheduling_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.number} {self.visited_on:%d/%m/%Y}"


class InterventionReport(models.Model):
    """The compte-rendu d'intervention (CRI) of an order, as entered from the paper order. A
    report sent back for correction is kept, marked superseded; the corrected one follows it.
    The database refuses any change to what was reported (only the signature and the
    superseding are recorded on it, once)."""

    order = models.ForeignKey(
        InterventionOrder, on_delete=models.PROTECT, related_name="reports", verbose_name="ordre"
    )
    index_read = models.PositiveIntegerField("index relevé")
    read_on = models.DateField("date du relevé")
    cut_done = models.BooleanField("coupure effectuée", default=False)
    cut_index = models.PositiveIntegerField("index de coupure", null=True, blank=True)
    seal_number = models.CharField("numéro de scellé", max_length=40, blank=True)
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
    # The field agent who did the work and signs the report as theirs: the one who entered it,
    # or, entered on their behalf from the paper, the order's agent, whose signature is awaited.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="agent de l'intervention",
    )
    agent_signed_at = models.DateTimeField("signé par l'agent le", null=True, blank=True)
    agent_signed_via = models.CharField(
        "signé par l'agent", max_length=8, choices=SignedVia.choices, blank=True
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="signé par",
    )
    signed_at = models.DateTimeField("signé le", null=True, blank=True)
    superseded_at = models.DateTimeField("renvoyé pour correction le", null=True, blank=True)
    superseded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="renvoyé par",
    )
    superseded_reason = models.CharField("motif du renvoi", max_length=255, blank=True)

    class Meta:
        triggers = kept(REPORT_KEPT)
        verbose_name = "compte-rendu d'intervention"
        verbose_name_plural = "comptes-rendus d'intervention"
        ordering = ["entered_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cut_done=False) | Q(cut_index__isnull=False),
                name="report_cut_has_index",
            ),
            models.CheckConstraint(
                condition=Q(cut_index__isnull=True) | Q(cut_index__gte=models.F("index_read")),
                name="report_cut_index_not_below_reading",
                violation_error_message="L'index de coupure ne peut pas être inférieur à "
                "l'index relevé.",
            ),
            models.CheckConstraint(
                condition=Q(signed_by__isnull=True, signed_at__isnull=True)
                | Q(signed_by__isnull=False, signed_at__isnull=False),
                name="report_signature_complete",
            ),
            # Separation of duties, in the database too: who entered a report, or did the work,
            # never signs it as the responsable.
            models.CheckConstraint(
                condition=Q(signed_by__isnull=True) | ~Q(signed_by=F("entered_by")),
                name="report_signer_not_author",
                violation_error_message="Le compte-rendu est signé par un autre que celui qui "
                "l'a saisi.",
            ),
            models.CheckConstraint(
                condition=Q(signed_by__isnull=True) | ~Q(signed_by=F("agent")),
                name="report_signer_not_agent",
                violation_error_message="Le compte-rendu est signé par un autre que l'agent de "
                "l'intervention.",
            ),
            models.CheckConstraint(
                condition=Q(agent_signed_at__isnull=True, agent_signed_via="")
                | (Q(agent_signed_at__isnull=False) & ~Q(agent_signed_via="")),
                name="report_agent_signature_complete",
            ),
            # The responsable signs after the agent.
            models.CheckConstraint(
                condition=Q(signed_at__isnull=True) | Q(agent_signed_at__isnull=False),
                name="report_agent_signs_first",
            ),
            models.CheckConstraint(
                condition=Q(superseded_at__isnull=True, superseded_by__isnull=True)
                | (
                    Q(superseded_at__isnull=False, superseded_by__isnull=False)
                    & ~Q(superseded_reason="")
                ),
                name="report_superseding_complete",
            ),
            # One report in force per order; the superseded ones stay beside it.
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(superseded_at__isnull=True),
                name="report_one_in_force_per_order",
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

    @property
    def is_superseded(self) -> bool:
        return self.superseded_at is not None


class OrderSignature(models.Model):
    """The requester's signature drawn on the agent's screen or a tablet (step 3): the drawing
    as it was made (PNG), its SHA-256, the SHA-256 of the exact order it signs (the stored PDF),
    and the agent who witnessed it. Append-only; paper stays possible (no row then)."""

    order = models.OneToOneField(
        InterventionOrder,
        on_delete=models.PROTECT,
        related_name="drawn_signature",
        verbose_name="ordre",
    )
    drawing = models.BinaryField("signature dessinée (PNG)")
    drawing_sha256 = models.CharField("empreinte de la signature", max_length=64)
    document_sha256 = models.CharField("empreinte de l'ordre signé", max_length=64)
    signer_name = models.CharField("signataire", max_length=150)
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="agent témoin",
    )
    signed_at = models.DateTimeField("signé le", auto_now_add=True)

    class Meta:
        verbose_name = "signature dessinée d'un ordre"
        verbose_name_plural = "signatures dessinées des ordres"
        triggers = append_only()

    def __str__(self) -> str:
        return f"{self.order.number} – {self.signer_name}"


class FieldSubmission(models.Model):
    """A report sent from the field app, by the identifier the phone made for it (a UUID): the
    same identifier with the same content is the same submission (its first answer is given
    again, never a second report); with other content it is refused. What was sent is kept as
    it came, with its outcome: accepted (the report or visit it made), refused (the reason, to
    correct on the phone), or in conflict (the order was reassigned, cancelled or reported
    meanwhile: shown to the crew and the supervisor, never dropped). Append-only."""

    client_id = models.UUIDField("identifiant fait sur le téléphone", unique=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="agent"
    )
    order = models.ForeignKey(
        InterventionOrder,
        on_delete=models.PROTECT,
        related_name="submissions",
        verbose_name="ordre",
    )
    kind = models.CharField("nature", max_length=8, choices=SubmissionKind.choices)
    payload = models.JSONField("contenu envoyé")
    payload_sha256 = models.CharField("empreinte du contenu", max_length=64)
    made_at = models.DateTimeField("fait sur le téléphone le", null=True, blank=True)
    received_at = models.DateTimeField("reçu le", auto_now_add=True)
    latitude = models.FloatField("latitude", null=True, blank=True)
    longitude = models.FloatField("longitude", null=True, blank=True)
    accuracy_m = models.PositiveIntegerField("précision (m)", null=True, blank=True)
    outcome = models.CharField("résultat", max_length=8, choices=SubmissionOutcome.choices)
    message = models.CharField("motif", max_length=500, blank=True)
    report = models.OneToOneField(
        InterventionReport,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="submission",
        verbose_name="compte-rendu enregistré",
    )
    # A signature sent from the phone: the report (entered from the paper) it signed.
    signed_report = models.OneToOneField(
        InterventionReport,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="phone_signature",
        verbose_name="compte-rendu signé",
    )
    attempt = models.OneToOneField(
        VisitAttempt,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="submission",
        verbose_name="visite infructueuse enregistrée",
    )

    class Meta:
        verbose_name = "envoi du terrain"
        verbose_name_plural = "envois du terrain"
        triggers = append_only()
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome=SubmissionOutcome.ACCEPTED)
                | Q(report__isnull=False)
                | Q(attempt__isnull=False)
                | Q(signed_report__isnull=False),
                name="submission_accepted_made_something",
            ),
            models.CheckConstraint(
                condition=(Q(latitude__isnull=True) & Q(longitude__isnull=True))
                | (Q(latitude__range=(-90, 90)) & Q(longitude__range=(-180, 180))),
                name="submission_position_on_earth",
            ),
        ]
        indexes = [
            models.Index(
                fields=["order", "outcome"],
                name="submission_conflicts",
                condition=Q(outcome="conflict"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} – {self.order.number} ({self.client_id})"

    @property
    def distance_m(self) -> int | None:
        """How far from the delivery point the report was made (great-circle), when both
        positions are known."""
        point = self.order.request.contract.delivery_point
        if None in (self.latitude, self.longitude, point.latitude, point.longitude):
            return None
        lat1, lon1, lat2, lon2 = map(
            math.radians, (self.latitude, self.longitude, point.latitude, point.longitude)
        )
        a = (
            math.sin((lat2 - lat1) / 2) ** 2
            + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        )
        return round(2 * 6_371_000 * math.asin(math.sqrt(a)))


class PhotoRule(models.Model):
    """Per kind of report sent from the field: whether a photo of the meter's display is
    required (the admin decides; otherwise the crew may add one)."""

    kind = models.CharField("nature", max_length=8, choices=SubmissionKind.choices, unique=True)
    required = models.BooleanField("photo de l'index exigée", default=False)

    class Meta:
        verbose_name = "photo exigée"
        verbose_name_plural = "photos exigées"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} : {'exigée' if self.required else 'facultative'}"


class IndexPhoto(models.Model):
    """The photo of the meter's display sent with a report (compressed on the phone, its date
    and position metadata kept): the bytes as received and their SHA-256. Append-only."""

    submission = models.OneToOneField(
        FieldSubmission, on_delete=models.PROTECT, related_name="photo", verbose_name="envoi"
    )
    content = models.BinaryField("photo")
    content_type = models.CharField("type", max_length=40)
    sha256 = models.CharField("empreinte SHA-256", max_length=64)
    size = models.PositiveIntegerField("taille (octets)")
    received_at = models.DateTimeField("reçue le", auto_now_add=True)

    class Meta:
        verbose_name = "photo de l'index"
        verbose_name_plural = "photos de l'index"
        triggers = append_only()

    def __str__(self) -> str:
        return f"Photo {self.sha256[:12]}…"


class ConflictReview(models.Model):
    """The supervisor has seen a report that came from the field in conflict, and says what was
    done with it (the report itself stays as it came). Append-only."""

    submission = models.OneToOneField(
        FieldSubmission, on_delete=models.PROTECT, related_name="review", verbose_name="envoi"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="par"
    )
    reviewed_at = models.DateTimeField("le", auto_now_add=True)
    note = models.CharField("suite donnée", max_length=500)

    class Meta:
        verbose_name = "conflit du terrain examiné"
        verbose_name_plural = "conflits du terrain examinés"
        triggers = append_only()

    def __str__(self) -> str:
        return f"Conflit {self.submission.order.number} examiné"
