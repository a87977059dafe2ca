"""The termination procedure's steps. One function per action: atomic, locks the request,
checks the actor's role and agency, asks billing and interventions to write their own records,
applies the @transition, saves, and writes the TerminationEvent in the same transaction."""

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.rules import DraftChanged, StepRefused, check_agency, check_role
from billing import services as billing
from billing.documents import document_enqueue, documents_enqueue, verification_url
from billing.enums import DocumentKind, InvoiceKind, InvoiceState, TariffItemKind, TransferKind
from billing.models import (
    CreditNote,
    Document,
    Invoice,
    RefundAuthorisation,
    Settlement,
    TariffCategory,
)
from billing.selectors import tariff_items_in_force
from contracts.enums import (
    OPEN_REQUEST_STATES,
    ContractStatus,
    CustomerKind,
    DelayKind,
    DeliveryPointStatus,
    IdDocumentType,
    MeterStatus,
    RequesterQuality,
    RequestState,
    Role,
    TerminationKind,
    Timing,
    Voltage,
)
from contracts.models import (
    Contract,
    Customer,
    Delay,
    NumberSequence,
    TerminationRequest,
    User,
    needs_field_visit,
)
from contracts.money import format_fcfa
from contracts.phone import normalize_phone
from contracts.tracking import tracking_code
from handoff.enums import RecordKind
from handoff.services import outbox_write
from interventions import services as interventions
from interventions.enums import (
    AWAITING_AGENT,
    FIELD_ORDER_KINDS,
    REMOVAL_ORDER_KINDS,
    OrderKind,
    OrderStatus,
    SignedVia,
    SubmissionOutcome,
)
from interventions.models import (
    ConflictReview,
    FieldSubmission,
    InterventionOrder,
    InterventionReport,
    VisitAttempt,
)
from notifications.enums import NotificationKind
from notifications.services import notify, notify_many, preference_record, site_url
from procedure.rules import act_roles
from procedure.transitions import (
    apply_transition,
    apply_transition_many,
    begin_step,
    lock_request,
    record_event,
)

logger = logging.getLogger(__name__)

CONTRACT_NOT_ACTIVE = "Ce contrat est résilié : il ne peut pas l'être une seconde fois."
OPEN_REQUEST_EXISTS = "Ce contrat a déjà une demande de résiliation en cours."
PROXY_REFERENCE_REQUIRED = "Un mandataire doit présenter sa procuration : indiquez sa référence."
PHONE_INVALID = (
    "Numéro de téléphone attendu : 10 chiffres (ex. 01 97 12 34 56), un ancien numéro à "
    "8 chiffres, ou un numéro étranger avec son indicatif (ex. +228 90 12 34 56)."
)
CUT_DATE_PAST = "La date de coupure ne peut pas être dans le passé."
CUT_DATE_ANTICIPATED = (
    "Une résiliation anticipée fixe une date de coupure ultérieure à aujourd'hui."
)
REASON_REQUIRED = "Indiquez le motif de l'annulation."
REPORT_NOT_SIGNED = "Le compte-rendu de dépose doit d'abord être signé par le responsable."
ALREADY_SIGNED = "Ce compte-rendu est déjà signé."
SUCCESSOR_IS_HOLDER = "Le successeur doit être une autre personne que le titulaire."
CATEGORY_VOLTAGE = (
    "Le point de livraison {point} est en {voltage} : la catégorie tarifaire du successeur doit "
    "être une catégorie {voltage}."
)
POWER_POSITIVE = "La puissance souscrite est d'au moins 1 kVA."
POWER_ABOVE_POINT = (
    "Le branchement du point de livraison {point} permet au plus {limit} kVA : une puissance "
    "supérieure passe par une modification du branchement."
)
POWER_ABOVE_CURRENT = (
    "La capacité du branchement du point de livraison {point} n'est pas connue : la puissance "
    "ne peut pas dépasser celle du contrat en cours ({limit} kVA). Une puissance supérieure "
    "demande que la capacité du branchement soit renseignée (administrateur DCC)."
)
NO_SUBSCRIPTION_GRID = (
    "La catégorie {category} n'a pas de grille d'abonnement (avance sur consommation par kVA) "
    "en vigueur au {date} : choisissez-en une autre ou faites compléter les tarifs."
)
TAKEOVER_CHANGED = (
    "Les données ont changé depuis le calcul des factures : vérifiez les nouveaux montants "
    "ci-dessous, puis validez-les."
)
DRAFT_CHANGED = (
    "Les montants ont changé depuis l'affichage de la facture (une avance, un impayé, le dépôt, "
    "le compte-rendu ou un tarif) : rien n'a été validé. Vérifiez la facture recalculée "
    "ci-dessous, puis validez-la."
)
COMPLEMENTARY_CHANGED = (
    "La facture complémentaire a changé depuis son affichage (un tarif, le compte-rendu) : rien "
    "n'a été confirmé. Vérifiez la facture ci-dessous, puis confirmez."
)
INVOICES_CHANGED = (
    "La facture a changé depuis l'affichage de la page (une autre a été émise, réglée ou "
    "annulée entre-temps) : rien n'a été fait. Vérifiez la facture ci-dessous, puis confirmez."
)
COMPANY_NEEDS_RCCM = "Une entreprise s'identifie par son RCCM."
PERSON_NO_RCCM = (
    "Une personne s'identifie par une CNI, un CIP, un passeport ou une carte consulaire."
)


# --- Step 1 ----------------------------------------------------------------------------------


@transaction.atomic
def termination_request_create(
    contract: Contract,
    *,
    actor: User,
    kind: str,
    requester_name: str,
    requester_id_document_type: str,
    requester_id_document_number: str,
    requester_phone: str,
    requester_quality: str,
    proxy_reference: str = "",
) -> TerminationRequest:
    """Step 1: the agent d'accueil records who asks, and whether a successor takes over."""
    check_role(actor, Role.RECEPTION)
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    check_agency(actor, contract.agency_id)
    if contract.status != ContractStatus.ACTIVE:
        raise StepRefused(CONTRACT_NOT_ACTIVE)
    if TerminationRequest.objects.filter(contract=contract, state__in=OPEN_REQUEST_STATES).exists():
        raise StepRefused(OPEN_REQUEST_EXISTS)
    if requester_quality == RequesterQuality.PROXY and not proxy_reference.strip():
        raise StepRefused(PROXY_REFERENCE_REQUIRED, field="proxy_reference")
    phone = normalize_phone(requester_phone)
    if phone is None:
        raise StepRefused(PHONE_INVALID, field="requester_phone")
    try:
        with transaction.atomic():
            request = TerminationRequest.objects.create(
                contract=contract,
                agency=contract.agency,
                kind=kind,
                requester_name=requester_name.strip(),
                requester_id_document_type=requester_id_document_type,
                requester_id_document_number=requester_id_document_number.strip(),
                requester_phone=phone,
                requester_quality=requester_quality,
                proxy_reference=proxy_reference.strip(),
                created_by=actor,
            )
    except IntegrityError:
        raise StepRefused(OPEN_REQUEST_EXISTS) from None
    record_event(
        request,
        "create",
        actor=actor,
        from_state="",
        step=1,
        data={"kind": kind, "requester": request.requester_name, "quality": requester_quality},
    )
    _tell_registered(request)
    return request


ORDER_NOT_RENDERED = (
    "L'ordre n'est pas encore produit : sa signature à l'écran attend son PDF (quelques "
    "secondes) ; rechargez la page."
)


# --- What the customer is told (notifications/): in the step's transaction, once per fact ---

VISIT_WORK = {
    OrderKind.INTERRUPTION_READING: "relève et coupure",
    OrderKind.READING: "relève de l'index",
    OrderKind.REMOVAL: "dépose du compteur",
    OrderKind.FINAL_INTERRUPTION: "coupure définitive",
}


def _tell_registered(request: TerminationRequest) -> None:
    notify(
        request,
        NotificationKind.REGISTERED,
        fact=str(request.pk),
        context={
            "demande": request.pk,
            "contrat": request.contract.number,
            "code": tracking_code(request.pk),
            "suivi": site_url("/suivi/"),
        },
        asked_at_counter=True,  # told at the counter: sent even after hours
    )


def _visit_fact(
    request: TerminationRequest, order: InterventionOrder, *, after: VisitAttempt | None = None
) -> tuple:
    """The visit's date; after a failed visit, the new date is a new fact even when it is the
    same day."""
    return (
        request,
        NotificationKind.VISIT,
        f"{order.number}:{order.due_on:%Y-%m-%d}" + (f":après-{after.pk}" if after else ""),
        {
            "contrat": request.contract.number,
            "date": f"{order.due_on:%d/%m/%Y}",
            "creneau": settings.VISIT_WINDOW,
            "travaux": VISIT_WORK[order.kind],
        },
    )


def _tell_visit(
    request: TerminationRequest, order: InterventionOrder, *, after: VisitAttempt | None = None
) -> None:
    notify_many([_visit_fact(request, order, after=after)])


def balance_limit(invoice, known: dict | None = None) -> dt.date:
    """The day after which a balance goes to recovery, or a refund stays as a credit: its
    issue date plus the délai in force then. `known`: délais already read, for a loop."""
    kind = DelayKind.REFUND_CLAIM if invoice.balance < 0 else DelayKind.SETTLEMENT
    known = {} if known is None else known
    if (kind, invoice.issued_on) not in known:
        known[kind, invoice.issued_on] = Delay.days_on(kind, invoice.issued_on)
    return invoice.issued_on + dt.timedelta(days=known[kind, invoice.issued_on])


def _balance_context(request: TerminationRequest, invoice, limit: dt.date) -> dict:
    return {
        "contrat": request.contract.number,
        "facture": invoice.number,
        "montant": format_fcfa(abs(invoice.balance)),
        "agence": request.agency.name,
        "limite": f"{limit:%d/%m/%Y}",
    }


def _tell_balance(request: TerminationRequest, invoice) -> None:
    """The balance invoice: what to pay and until when, or what is refunded and until when."""
    if invoice.balance == 0:
        return
    notify(
        request,
        NotificationKind.REFUND_READY if invoice.balance < 0 else NotificationKind.BALANCE,
        fact=invoice.number,
        context=_balance_context(request, invoice, balance_limit(invoice)),
    )


def _tell_terminated(request: TerminationRequest, attestation) -> None:
    notify(
        request,
        NotificationKind.TERMINATED,
        fact=str(request.pk),
        context={
            "contrat": request.contract.number,
            "attestation": attestation.number,
            "verification": verification_url(attestation),
        },
    )


# --- Step 2 (reprise) ------------------------------------------------------------------------


def _successor(data: dict) -> Customer:
    """The successor: an existing customer found by identity document, or a new one (not saved
    yet: a preview creates nothing)."""
    id_type = data["id_document_type"]
    number = data["id_document_number"].strip()
    existing = Customer.objects.filter(id_document_type=id_type, id_document_number=number).first()
    if existing is not None:
        return existing
    kind = data.get("kind") or (
        CustomerKind.COMPANY if id_type == IdDocumentType.RCCM else CustomerKind.PERSON
    )
    if kind == CustomerKind.COMPANY and id_type != IdDocumentType.RCCM:
        raise StepRefused(COMPANY_NEEDS_RCCM, field="successor_id_document_type")
    if kind == CustomerKind.PERSON and id_type == IdDocumentType.RCCM:
        raise StepRefused(PERSON_NO_RCCM, field="successor_id_document_type")
    phone = normalize_phone(data.get("phone", ""))
    if phone is None:
        raise StepRefused(PHONE_INVALID, field="successor_phone")
    return Customer(
        kind=kind,
        name=data["name"].strip(),
        id_document_type=id_type,
        id_document_number=number,
        phone=phone,
        address=data["address"].strip(),
    )


@dataclass(frozen=True)
class TakeOverPreview:
    """Step 2's two invoices as drafts, shown before they are validated together, and the
    successor's contract as chosen (category and power)."""

    successor: Customer
    tariff_category: TariffCategory
    subscribed_power_kva: int
    balance: billing.InvoicePreview
    subscription: billing.InvoicePreview
    digest: str


def successor_contract_limit(contract: Contract) -> int:
    """The highest power a successor may subscribe on this delivery point: what its
    connection allows, or, when that is not known, what is subscribed today."""
    return contract.delivery_point.max_power_kva or contract.subscribed_power_kva


def _successor_contract_check(
    contract: Contract, category: TariffCategory, power: int, on: dt.date
) -> None:
    """As in a contract creation: a category of the delivery point's voltage (an MT point
    stays MT), a power the connection allows, a subscription grid in force."""
    point = contract.delivery_point
    if category.voltage != point.voltage:
        raise StepRefused(
            CATEGORY_VOLTAGE.format(point=point.reference, voltage=point.voltage.upper()),
            field="tariff_category",
        )
    if power < 1:
        raise StepRefused(POWER_POSITIVE, field="subscribed_power_kva")
    limit = successor_contract_limit(contract)
    if power > limit:
        message = POWER_ABOVE_POINT if point.max_power_kva else POWER_ABOVE_CURRENT
        raise StepRefused(
            message.format(point=point.reference, limit=limit), field="subscribed_power_kva"
        )
    if not any(
        item.kind == TariffItemKind.DEPOSIT_PER_KVA for item in tariff_items_in_force(category, on)
    ):
        raise StepRefused(
            NO_SUBSCRIPTION_GRID.format(category=category.code, date=f"{on:%d/%m/%Y}"),
            field="tariff_category",
        )


def _take_over_preview(
    request: TerminationRequest,
    contract: Contract,
    *,
    successor: dict,
    mutation_index: int,
    mutation_date: dt.date,
    rollover_confirmed: bool,
    high_consumption_confirmed: bool,
    tariff_category: TariffCategory | None,
    subscribed_power_kva: int | None,
) -> TakeOverPreview:
    billing.reading_check(
        contract,
        index=mutation_index,
        read_on=mutation_date,
        rollover_confirmed=rollover_confirmed,
        high_consumption_confirmed=high_consumption_confirmed,
        field="mutation_index",
    )
    customer = _successor(successor)
    if customer.pk is not None and customer.pk == contract.customer_id:
        raise StepRefused(SUCCESSOR_IS_HOLDER, field="successor_id_document_number")
    category = tariff_category or contract.tariff_category
    power = contract.subscribed_power_kva if subscribed_power_kva is None else subscribed_power_kva
    _successor_contract_check(contract, category, power, mutation_date)
    balance = billing.balance_invoice_preview(
        request, final_index=mutation_index, final_date=mutation_date, rollover=rollover_confirmed
    )
    subscription = billing.subscription_invoice_preview(
        request, start_date=mutation_date, category=category, power_kva=power
    )
    seen = [
        [customer.pk, customer.kind, customer.name, customer.id_document_type],
        [customer.id_document_number, customer.phone, customer.address],
        [mutation_index, str(mutation_date), rollover_confirmed],
        [category.code, power],
        balance.fingerprint(),
        subscription.fingerprint(),
    ]
    digest = hashlib.sha256(json.dumps(seen, ensure_ascii=False).encode()).hexdigest()
    return TakeOverPreview(customer, category, power, balance, subscription, digest)


@transaction.atomic
def termination_request_preview_take_over(
    request: TerminationRequest,
    *,
    actor: User,
    successor: dict,
    mutation_index: int,
    mutation_date: dt.date,
    rollover_confirmed: bool = False,
    high_consumption_confirmed: bool = False,
    tariff_category: TariffCategory | None = None,
    subscribed_power_kva: int | None = None,
) -> TakeOverPreview:
    """Step 2, first half: both invoices computed as drafts and shown; nothing is written.
    The successor's category and power are those of the outgoing contract unless chosen."""
    request = begin_step(request.pk, actor=actor, act="request_take_over")
    return _take_over_preview(
        request,
        request.contract,
        successor=successor,
        mutation_index=mutation_index,
        mutation_date=mutation_date,
        rollover_confirmed=rollover_confirmed,
        high_consumption_confirmed=high_consumption_confirmed,
        tariff_category=tariff_category,
        subscribed_power_kva=subscribed_power_kva,
    )


@transaction.atomic
def termination_request_take_over(
    request: TerminationRequest,
    *,
    actor: User,
    successor: dict,
    mutation_index: int,
    mutation_date: dt.date,
    preview_digest: str,
    rollover_confirmed: bool = False,
    high_consumption_confirmed: bool = False,
    tariff_category: TariffCategory | None = None,
    subscribed_power_kva: int | None = None,
):
    """Step 2 (reprise): the two invoices shown in the preview are validated together: the
    outgoing customer's balance invoice and the successor's subscription invoice; the
    successor's contract opens on the same delivery point and meter, from the mutation index,
    in the category and at the power chosen for it (as in a contract creation). If anything
    changed since the preview (the form, the account, a tariff), nothing is validated and the
    agent sees the new figures."""
    request = begin_step(request.pk, actor=actor, act="request_take_over")
    contract = Contract.objects.select_for_update().get(pk=request.contract_id)
    preview = _take_over_preview(
        request,
        contract,
        successor=successor,
        mutation_index=mutation_index,
        mutation_date=mutation_date,
        rollover_confirmed=rollover_confirmed,
        high_consumption_confirmed=high_consumption_confirmed,
        tariff_category=tariff_category,
        subscribed_power_kva=subscribed_power_kva,
    )
    if preview.digest != preview_digest:
        raise StepRefused(TAKEOVER_CHANGED)
    customer = preview.successor
    if customer.pk is None:
        customer.save()
    request.successor = customer
    request.mutation_index = mutation_index
    request.cut_date = mutation_date
    apply_transition(
        request,
        "take_over",
        actor=actor,
        data={
            "successor": customer.name,
            "mutation_index": mutation_index,
            "tariff_category": preview.tariff_category.code,
            "subscribed_power_kva": preview.subscribed_power_kva,
            "contract_changed": [preview.tariff_category.pk, preview.subscribed_power_kva]
            != [contract.tariff_category_id, contract.subscribed_power_kva],
        },
    )
    balance_invoice = billing.invoice_validate(
        billing.balance_invoice_draft(
            request,
            final_index=mutation_index,
            final_date=mutation_date,
            rollover=rollover_confirmed,
        ),
        actor=actor,
    )
    contract.terminate(mutation_date)
    successor_contract = Contract.objects.create(
        number=NumberSequence.next("CT", contract.agency, mutation_date.year),
        agency=contract.agency,
        customer=customer,
        delivery_point=contract.delivery_point,
        meter=contract.meter,
        tariff_category=preview.tariff_category,
        subscribed_power_kva=preview.subscribed_power_kva,
        start_date=mutation_date,
        last_billed_index=mutation_index,
        last_billed_date=mutation_date,
    )
    request.successor_contract = successor_contract
    request.save(update_fields=["successor_contract"])
    subscription = billing.subscription_invoice_create(
        request, successor_contract=successor_contract, actor=actor
    )
    document_enqueue(DocumentKind.SUCCESSOR_CONTRACT, request)
    _tell_registered(request)  # the successor now: the request's number and tracking code
    _tell_balance(request, balance_invoice)
    record_event(
        request,
        "takeover_invoiced",
        actor=actor,
        from_state=request.state,
        step=2,
        data={
            "balance_invoice": balance_invoice.number,
            "subscription_invoice": subscription.number,
            "successor_contract": successor_contract.number,
        },
    )
    return successor_contract


# --- Steps 3 to 5 ----------------------------------------------------------------------------


def _field_order(request: TerminationRequest, *, lock: bool = False) -> InterventionOrder:
    orders = request.orders.filter(kind__in=FIELD_ORDER_KINDS)
    if lock:
        orders = orders.select_for_update()
    return orders.prefetch_related("reports").get()


def _removal_order(request: TerminationRequest, *, lock: bool = False) -> InterventionOrder:
    orders = request.orders.filter(kind__in=REMOVAL_ORDER_KINDS)
    if lock:
        orders = orders.select_for_update()
    return orders.prefetch_related("reports").get()


def _visit_order(request: TerminationRequest, *, lock: bool = False) -> InterventionOrder:
    """The order the field is working on: step 3's while the request waits for its field
    report, step 8's while it waits for the removal."""
    if request.state in (RequestState.REMOVAL_ORDERED, RequestState.METER_REMOVED):
        return _removal_order(request, lock=lock)
    return _field_order(request, lock=lock)


def _visit_step(order: InterventionOrder) -> int:
    return 4 if order.is_field_order else 8


@transaction.atomic
def termination_request_issue_order(
    request: TerminationRequest,
    *,
    actor: User,
    timing: str,
    cut_date: dt.date | None,
    assignee: User | None = None,
) -> InterventionOrder:
    """Step 3: classic or anticipated; the order is issued with the requester's identity, to be
    printed and signed by the requester (termination_request_record_signature)."""
    request = begin_step(request.pk, actor=actor, act="request_issue_order")
    today = timezone.localdate()
    if timing == Timing.CLASSIC:
        cut_date = today
    elif cut_date is None or cut_date <= today:
        raise StepRefused(
            CUT_DATE_PAST if cut_date and cut_date < today else CUT_DATE_ANTICIPATED,
            field="cut_date",
        )
    request.timing = timing
    request.cut_date = cut_date
    order = interventions.field_order_issue(request, actor=actor, assignee=assignee)
    document_enqueue(DocumentKind.ORDER, order)
    data = {"order": order.number, "timing": timing, "cut_date": cut_date.isoformat()}
    if assignee is not None:
        data["assignee"] = assignee.display_name
    apply_transition(request, "issue_order", actor=actor, data=data)
    _tell_visit(request, order)
    return order


@transaction.atomic
def termination_request_record_signature(
    request: TerminationRequest, *, actor: User, drawing: bytes | None = None
) -> InterventionOrder:
    """Step 3, second half: the requester signed the printed order, on paper or (`drawing`, a
    PNG) on the agent's screen; a drawn signature is kept with the SHA-256 of the stored order
    it signs, and both hashes go into the request's audit chain. Only then does the order reach
    the reader's queue."""
    request = begin_step(request.pk, actor=actor, act="request_signature")
    order = _field_order(request, lock=True)
    document = Document.objects.filter(order=order).first()
    printed = document is not None and document.prints.exists()
    # Signed on the screen, the order is read there: it need not be printed first.
    interventions.order_record_requester_signature(
        order, actor=actor, printed=printed or drawing is not None
    )
    data = {"order": order.number, "requester": request.requester_name, "drawn": False}
    if drawing is not None:
        if document is None or not document.sha256:
            raise StepRefused(ORDER_NOT_RENDERED)
        signature = interventions.order_signature_record(
            order,
            drawing=drawing,
            document_sha256=document.sha256,
            signer=request.requester_name,
            actor=actor,
        )
        data.update(
            drawn=True,
            drawing_sha256=signature.drawing_sha256,
            document_sha256=signature.document_sha256,
        )
    record_event(
        request, "requester_signed", actor=actor, from_state=request.state, step=3, data=data
    )
    return order


@transaction.atomic
def termination_request_record_failed_visit(
    request: TerminationRequest,
    *,
    actor: User,
    visited_on: dt.date,
    reason: str,
    reason_detail: str = "",
) -> VisitAttempt:
    """A visit that could not be done (step 4 for step 3's order, step 8 for the removal):
    the order keeps the attempt and waits for a new date, set by reception (step 3's order)
    or the supervisor (removal)."""
    request = begin_step(request.pk, actor=actor, act="failed_visit")
    order = _visit_order(request, lock=True)
    check_role(actor, *interventions.agent_roles(order))
    attempt = interventions.visit_failure_record(
        order, actor=actor, visited_on=visited_on, reason=reason, reason_detail=reason_detail
    )
    record_event(
        request,
        "visit_failed",
        actor=actor,
        from_state=request.state,
        step=_visit_step(order),
        data={
            "order": order.number,
            "visited_on": visited_on.isoformat(),
            "reason": reason,
            "reason_detail": attempt.reason_detail,
            "attempt": order.attempts.count(),
        },
    )
    notify(
        request,
        NotificationKind.VISIT_FAILED,
        fact=f"{order.number}:{attempt.pk}",
        context={"contrat": request.contract.number, "date": f"{visited_on:%d/%m/%Y}"},
    )
    return attempt


def rescheduler_role(order: InterventionOrder) -> str:
    """Reception sets a new date for step 3's order, the supervisor for the removal."""
    return Role.RECEPTION if order.is_field_order else Role.SUPERVISOR


@transaction.atomic
def termination_request_reschedule_visit(
    request: TerminationRequest, *, actor: User, due_on: dt.date
) -> VisitAttempt:
    """After a failed visit, a new execution date: the same order returns to its agent."""
    request = begin_step(request.pk, actor=actor, act="request_reschedule")
    order = _visit_order(request, lock=True)
    check_role(actor, rescheduler_role(order))
    attempt = interventions.visit_reschedule(order, actor=actor, due_on=due_on)
    record_event(
        request,
        "visit_rescheduled",
        actor=actor,
        from_state=request.state,
        step=_visit_step(order),
        data={"order": order.number, "due_on": due_on.isoformat()},
    )
    order.refresh_from_db(fields=["due_on"])
    _tell_visit(request, order, after=attempt)
    return attempt


@transaction.atomic
def termination_request_reassign_order(
    request: TerminationRequest, *, actor: User, assignee: User
) -> InterventionOrder:
    """The supervisor or the chef d'agence hands the open order to another agent of the agency."""
    request = begin_step(request.pk, actor=actor, act="request_reassign")
    order = _visit_order(request, lock=True)
    previous = interventions.order_reassign(order, assignee=assignee)
    record_event(
        request,
        "order_reassigned",
        actor=actor,
        from_state=request.state,
        step=_visit_step(order),
        data={
            "order": order.number,
            "from": previous.display_name if previous else "",
            "to": assignee.display_name,
        },
    )
    return order


@transaction.atomic
def termination_request_report_field(
    request: TerminationRequest,
    *,
    actor: User,
    index_read: int,
    read_on: dt.date,
    cut_done: bool,
    cut_index: int | None,
    remarks: list[str],
    remarks_other: str = "",
    rollover_confirmed: bool = False,
    high_consumption_confirmed: bool = False,
    agent: User | None = None,
    via: str = SignedVia.WEB,
) -> InterventionReport:
    """Steps 4-5: the reader or ARPNT agent enters the report of the intervention (the visit is
    step 4, the report step 5), as its author (their signature), or on behalf of the agent
    who did it, from the signed paper order (the agent then signs it as theirs). Classic: the
    cut order waits for the supervisor's signature; anticipated: the reading report alone."""
    request = begin_step(request.pk, actor=actor, act="request_field_report")
    order = _field_order(request, lock=True)
    interventions.field_report_check(
        order,
        index_read=index_read,
        read_on=read_on,
        cut_done=cut_done,
        cut_index=cut_index,
        remarks=remarks,
        remarks_other=remarks_other,
    )
    # The invoice is computed on the cut index when the supply was cut.
    final_index = cut_index if cut_done and cut_index is not None else index_read
    kwh = billing.reading_check(
        request.contract,
        index=final_index,
        read_on=read_on,
        rollover_confirmed=rollover_confirmed,
        high_consumption_confirmed=high_consumption_confirmed,
        field="cut_index" if cut_done else "index_read",
    )
    corrected = bool(order.superseded_reports)
    report = interventions.field_report_enter(
        order,
        actor=actor,
        index_read=index_read,
        read_on=read_on,
        cut_done=cut_done,
        cut_index=cut_index,
        remarks=remarks,
        remarks_other=remarks_other,
        rollover_confirmed=rollover_confirmed,
        high_consumption_confirmed=high_consumption_confirmed,
        agent=agent,
        via=via,
    )
    record_event(
        request,
        "field_visit",
        actor=actor,
        from_state=request.state,
        step=4,
        data={"order": order.number, "visited_on": read_on.isoformat(), "cut_done": cut_done},
    )
    data = {
        "order": order.number,
        "index_read": index_read,
        "index": final_index,
        "consumption": kwh,
        "cut_done": cut_done,
        "remarks": remarks,
        **_authorship(report),
    }
    if corrected:
        data["corrected"] = True
    apply_transition(request, "report_field", actor=actor, data=data)
    return report


def _authorship(report: InterventionReport) -> dict:
    """Who did the work and signed the report, and who entered it when it was someone else."""
    data = {"agent": report.agent.display_name}
    if report.entered_by_id != report.agent_id:
        data["entered_by"] = report.entered_by.display_name
    data["agent_signed"] = report.agent_signed_at is not None
    if report.agent_signed_via:
        data["signed_via"] = report.agent_signed_via
    return data


def _agent_sign_order(request: TerminationRequest) -> InterventionOrder:
    if request.state == RequestState.METER_REMOVED:
        return _removal_order(request, lock=True)
    return _field_order(request, lock=True)


@transaction.atomic
def termination_request_agent_sign_report(
    request: TerminationRequest, *, actor: User, via: str = SignedVia.WEB
) -> InterventionReport:
    """Steps 5 and 9: the field agent signs, as theirs, the report entered on their behalf
    from the paper order; the supervisor may then sign it."""
    request = begin_step(request.pk, actor=actor, act="request_agent_sign")
    order = _agent_sign_order(request)
    report = interventions.report_agent_sign(order, actor=actor, via=via)
    record_event(
        request,
        "agent_sign_report",
        actor=actor,
        from_state=request.state,
        step=9 if order.kind in REMOVAL_ORDER_KINDS else 5,
        data={"order": order.number, **_authorship(report)},
    )
    return report


@transaction.atomic
def termination_request_approve_report(request: TerminationRequest, *, actor: User):
    """Step 5: the chef de section recouvrement checks and signs the cut order, once its agent
    has signed the report; the order is then filed (classé)."""
    request = begin_step(request.pk, actor=actor, act="approve_report")
    order = _field_order(request, lock=True)
    report = interventions.report_sign(order, actor=actor)
    apply_transition(
        request,
        "approve_report",
        actor=actor,
        data={"order": order.number, "filed": order.status == OrderStatus.FILED},
    )
    return report


@transaction.atomic
def termination_request_send_back_field_report(
    request: TerminationRequest, *, actor: User, reason: str
) -> InterventionReport:
    """Step 5, instead of signing: the report goes back to its reader for correction. It is
    kept, marked superseded; the request returns to "order issued"."""
    request = begin_step(request.pk, actor=actor, act="send_back_field_report")
    order = _field_order(request, lock=True)
    report = interventions.report_send_back(order, actor=actor, reason=reason)
    apply_transition(
        request,
        "send_back_field_report",
        actor=actor,
        data={"order": order.number, "reason": report.superseded_reason},
    )
    return report


# --- Step 6 ----------------------------------------------------------------------------------


def _field_report(request: TerminationRequest) -> InterventionReport:
    return _field_order(request).report


@transaction.atomic
def termination_request_compute_invoice(request: TerminationRequest, *, actor: User):
    """Step 6, first half: compute (or recompute) the balance invoice as a draft to view."""
    request = begin_step(request.pk, actor=actor, act="request_invoice")
    report = _field_report(request)
    return billing.balance_invoice_draft(
        request,
        final_index=report.final_index,
        final_date=report.read_on,
        rollover=report.rollover_confirmed,
    )


@transaction.atomic
def termination_request_invoice(request: TerminationRequest, *, actor: User, draft_digest: str):
    """Step 6: validate the balance invoice the agent was shown. It is recomputed from the
    report, so that what is validated is what the rules give today; when that differs from the
    draft shown (`draft_digest`: an advance recorded, an unpaid invoice settled, the deposit, the
    report, a tariff changed meanwhile), nothing is validated: `DraftChanged`, and the page
    shows the new draft to be checked again."""
    request = begin_step(request.pk, actor=actor, act="request_invoice")
    report = _field_report(request)
    draft = billing.balance_invoice_draft(
        request,
        final_index=report.final_index,
        final_date=report.read_on,
        rollover=report.rollover_confirmed,
    )
    if billing.invoice_digest(draft) != draft_digest:
        raise DraftChanged(DRAFT_CHANGED)
    invoice = billing.invoice_validate(draft, actor=actor)
    apply_transition(
        request,
        "invoice",
        actor=actor,
        data={"invoice": invoice.number, "total": invoice.total, "balance": invoice.balance},
    )
    _tell_balance(request, invoice)
    return invoice


# --- Step 7 ----------------------------------------------------------------------------------


@transaction.atomic
def termination_request_settle(invoice: Invoice, *, actor: User, **settlement) -> Settlement:
    """Step 7: the cashier collects or refunds the balance. Without reprise the request is
    settled (and step 8 follows at once if the cut date has come); with reprise it closes once
    both invoices are settled. A complementary invoice is settled without touching its closed
    request."""
    check_role(actor, *act_roles("invoice_settle"))
    request = None
    if invoice.request_id and invoice.kind in (InvoiceKind.BALANCE, InvoiceKind.SUBSCRIPTION):
        # The request first, then the invoice: every step locks in this order. The invoice's
        # own checks come first, so that a second cashier hears "already settled".
        request = lock_request(invoice.request_id)
        check_agency(actor, request.agency_id)
    result = billing.invoice_settle(invoice, actor=actor, **settlement)
    if request is None or getattr(result, "replayed", False):
        return result  # a form sent twice: the first send did the step
    data = {
        "invoice": result.invoice.number,
        "receipt": result.number,
        "amount": result.amount,
        "kind": result.kind,
    }
    if request.kind == TerminationKind.WITHOUT_TAKEOVER:
        apply_transition(request, "settle", actor=actor, data=data)
        # Settled on or after the cut date: step 8 need not wait for tomorrow morning.
        if request.removal_due(timezone.localdate()) and needs_field_visit(request):
            _issue_removal_orders([request])
        return result
    pending = request.invoices.filter(state=InvoiceState.VALIDATED).exclude(pk=invoice.pk)
    if pending.exists():
        record_event(
            request, "settle_invoice", actor=actor, from_state=request.state, step=7, data=data
        )
    else:
        attestation = billing.attestation_issue(
            request, closed_on=request.cut_date, final_index=request.mutation_index
        )
        data["attestation"] = attestation.number
        request.closed_at = timezone.now()
        apply_transition(request, "close_takeover", actor=actor, data=data)
        _tell_terminated(request, attestation)
        successor = request.successor_contract
        _tell_billing_system(
            request,
            end_date=request.cut_date,
            final_index=request.mutation_index,
            attestation=attestation.number,
            contrat_du_repreneur=successor.number if successor else "",
        )
    return result


def _tell_billing_system(request, *, end_date, final_index, attestation, **details) -> None:
    """The closure for the billing system (its "mutation codification"), in the closing
    transaction: one record per request (handoff)."""
    contract = request.contract
    outbox_write(
        RecordKind.CLOSURE,
        key=f"closure:{request.pk}",
        agency_id=request.agency_id,
        contract_number=contract.number,
        payload={
            "demande": request.pk,
            "contrat": contract.number,
            "type": request.kind,
            "date_de_fin": end_date.isoformat(),
            "index_final": final_index,
            "attestation": attestation,
            **details,
        },
    )


# --- Step 8 ----------------------------------------------------------------------------------


def _issue_removal_orders(
    requests: list[TerminationRequest],
) -> list[InterventionOrder]:
    """Step 8 for requests the caller has locked: the removal (BT) or final interruption (MT)
    order of each, issued by the system."""
    orders = interventions.removal_orders_create(requests)
    apply_transition_many(
        requests, "order_removal", actor=None, data=[{"order": o.number} for o in orders]
    )
    documents_enqueue(DocumentKind.ORDER, orders)
    notify_many([_visit_fact(r, o) for r, o in zip(requests, orders, strict=True)])
    return orders


def due_requests(today: dt.date):
    """Settled requests whose cut date has come and that still need a crew on site."""
    return TerminationRequest.objects.filter(
        state=RequestState.SETTLED, cut_date__lte=today
    ).exclude(Q(contract__tariff_category__voltage=Voltage.MT) & Q(timing=Timing.CLASSIC))


def issue_due_orders(today: dt.date | None = None, *, batch_size: int = 200) -> int:
    """Step 8, run every morning (and by `manage.py issue_due_orders`): issue the removal or
    final interruption order of every due request. Several workers may run it at once: each
    claims a batch with SKIP LOCKED, and the (request, kind) constraint forbids a second order.
    Returns how many orders this run issued."""
    today = today or timezone.localdate()
    issued = 0
    while True:
        with transaction.atomic():
            batch = list(
                due_requests(today)
                .select_for_update(of=("self",), skip_locked=True)
                .select_related("contract__tariff_category", "agency")
                .order_by("cut_date", "id")[:batch_size]
            )
            if batch:
                _issue_removal_orders(batch)
            issued += len(batch)
        if len(batch) < batch_size:
            break
    if issued:
        logger.info("step 8: %s order(s) issued for %s", issued, today)
    return issued


# --- Step 9 ----------------------------------------------------------------------------------


@transaction.atomic
def termination_request_report_removal(
    request: TerminationRequest,
    *,
    actor: User,
    index_read: int,
    read_on: dt.date,
    cut_done: bool,
    remarks: list[str],
    remarks_other: str = "",
    safety_steps_confirmed: list[int] | None = None,
    seal_number: str = "",
    rollover_confirmed: bool = False,
    agent: User | None = None,
    via: str = SignedVia.WEB,
) -> InterventionReport:
    """Steps 8-9: the ARPNT crew's report of the removal (BT) or of the final interruption (MT,
    with the seal it put on the cut), by its agent or on their behalf from the paper."""
    request = begin_step(request.pk, actor=actor, act="request_removal_report")
    order = _removal_order(request, lock=True)
    balance_invoice = _balance_invoice(request)
    billed = balance_invoice.new_index if balance_invoice else request.contract.last_billed_index
    corrected = bool(order.superseded_reports)
    report = interventions.removal_report_enter(
        order,
        actor=actor,
        billed_index=billed,
        index_read=index_read,
        read_on=read_on,
        cut_done=cut_done,
        remarks=remarks,
        remarks_other=remarks_other,
        safety_steps_confirmed=safety_steps_confirmed,
        seal_number=seal_number,
        rollover_confirmed=rollover_confirmed,
        agent=agent,
        via=via,
    )
    record_event(
        request,
        "removal_visit",
        actor=actor,
        from_state=request.state,
        step=8,
        data={"order": order.number, "visited_on": read_on.isoformat()},
    )
    data = {
        "order": order.number,
        "index": report.index_read,
        "remarks": report.remarks,
        **_authorship(report),
    }
    if report.seal_number:
        data["seal_number"] = report.seal_number
    if corrected:
        data["corrected"] = True
    apply_transition(request, "report_removal", actor=actor, data=data)
    return report


@transaction.atomic
def termination_request_sign_removal(request: TerminationRequest, *, actor: User):
    """Step 9: the responsable hiérarchique checks and signs the removal report."""
    request = begin_step(request.pk, actor=actor, act="request_sign_removal")
    order = _removal_order(request, lock=True)
    if order.status == OrderStatus.SIGNED:
        raise StepRefused(ALREADY_SIGNED)
    report = interventions.report_sign(order, actor=actor)
    record_event(
        request,
        "sign_removal_report",
        actor=actor,
        from_state=request.state,
        step=9,
        data={"order": order.number},
    )
    return report


@transaction.atomic
def termination_request_send_back_removal_report(
    request: TerminationRequest, *, actor: User, reason: str
) -> InterventionReport:
    """Step 9, instead of signing: the removal report goes back to the crew for correction. It
    is kept, marked superseded; the request returns to "removal ordered"."""
    request = begin_step(request.pk, actor=actor, act="send_back_removal_report")
    order = _removal_order(request, lock=True)
    report = interventions.report_send_back(order, actor=actor, reason=reason)
    apply_transition(
        request,
        "send_back_removal_report",
        actor=actor,
        data={"order": order.number, "reason": report.superseded_reason},
    )
    return report


@transaction.atomic
def termination_request_declare_removal_impossible(
    request: TerminationRequest, *, actor: User, reason: str
) -> InterventionOrder:
    """Step 9 after repeated failed visits: the supervisor closes the removal (or the final
    interruption) as impossible, the supply being cut at the connection (coupure au
    branchement). The ACFF then codifies as usual."""
    request = begin_step(request.pk, actor=actor, act="request_removal_impossible")
    order = _removal_order(request, lock=True)
    interventions.order_close_impossible(order, actor=actor, reason=reason)
    apply_transition(
        request,
        "declare_removal_impossible",
        actor=actor,
        data={
            "order": order.number,
            "reason": order.closure_reason,
            "attempts": order.attempts.count(),
            "cut_at_connection": True,
        },
    )
    return order


def _balance_invoice(request: TerminationRequest) -> Invoice | None:
    """The balance invoice in force (one cancelled by a credit note stays aside)."""
    return request.invoices.filter(
        kind=InvoiceKind.BALANCE, state__in=billing.BILLED_STATES
    ).first()


def _closing_index(request: TerminationRequest) -> int:
    """The last index billed on the contract: the balance invoice's."""
    return _balance_invoice(request).new_index


def complementary_digest(preview) -> str:
    return billing.digest_of(preview.fingerprint())


def termination_request_codification_preview(request: TerminationRequest):
    """What the ACFF's confirmation will issue besides the attestation: an anticipated
    termination's complementary invoice, unsaved (None when there is none, or not yet)."""
    if not request.is_anticipated or request.state != RequestState.METER_REMOVED:
        return None
    report = _removal_order(request).report
    if report is None:
        return None
    return billing.complementary_invoice_preview(
        request,
        final_index=report.index_read,
        final_date=report.read_on,
        rollover=report.rollover_confirmed,
    )


@transaction.atomic
def termination_request_confirm_codification(
    request: TerminationRequest, *, actor: User, shown: str = ""
):
    """Step 9, the end: the ACFF confirms the codification. The contract is terminated (no more
    maintenance invoices), the meter removed (BT) or left in place, and the delivery point
    freed; the attestation de résiliation is issued. An anticipated termination's complementary
    invoice, when there is one, is the one the ACFF was shown (`shown`, its digest): computed
    otherwise now, nothing is written (`DraftChanged`)."""
    request = begin_step(request.pk, actor=actor, act="request_confirm")
    contract = (
        Contract.objects.select_for_update()
        .select_related("meter", "delivery_point", "tariff_category")
        .get(pk=request.contract_id)
    )
    closing = _closing(request, actor=actor, shown=shown)
    end_date = max(closing.end_date, contract.start_date)
    attestation = billing.attestation_issue(
        request, closed_on=end_date, final_index=closing.final_index
    )
    data = {**closing.data, "attestation": attestation.number}
    request.closed_at = timezone.now()
    apply_transition(request, closing.action, actor=actor, data=data)
    _end_contract(contract, end_date, closing.meter_status)
    _tell_terminated(request, attestation)
    bt = contract.tariff_category.voltage == Voltage.BT
    _tell_billing_system(
        request,
        end_date=end_date,
        final_index=closing.final_index,
        attestation=attestation.number,
        compteur=contract.meter.serial if contract.meter_id else "",
        # An MT meter stays where it is (the supply is sealed at the final interruption).
        compteur_etat=closing.meter_status if bt else MeterStatus.LEFT_IN_PLACE,
        point_de_livraison=contract.delivery_point.reference,
        **(
            {"facture_complementaire": data["complementary_invoice"]}
            if "complementary_invoice" in data
            else {}
        ),
    )
    return request


@dataclass(frozen=True)
class Closing:
    """How a request ends at its codification: the transition, the contract's end date and
    final index, what becomes of the meter, and what the event records."""

    action: str
    end_date: dt.date
    final_index: int
    meter_status: str = MeterStatus.REMOVED
    data: dict = field(default_factory=dict)


def _closing(request: TerminationRequest, *, actor: User, shown: str) -> Closing:
    if request.state == RequestState.SETTLED:  # MT classic: cut at step 5, nothing removed
        return Closing(
            "confirm_codification_without_removal", request.cut_date, _closing_index(request)
        )
    order = _removal_order(request, lock=True)
    if request.state == RequestState.REMOVAL_IMPOSSIBLE:  # cut at the connection
        return Closing(
            "confirm_codification",
            timezone.localtime(order.closed_at).date(),
            _closing_index(request),
            MeterStatus.LEFT_IN_PLACE,
            {"cut_at_connection": True},
        )
    if order.status != OrderStatus.SIGNED:
        raise StepRefused(REPORT_NOT_SIGNED)
    report = order.report
    data = {}
    if request.is_anticipated and (extra := _complementary_invoice(request, report, actor, shown)):
        data["complementary_invoice"] = extra.number
    order.status = OrderStatus.FILED
    order.filed_at = timezone.now()
    order.save(update_fields=["status", "filed_at"])
    return Closing("confirm_codification", report.read_on, report.index_read, data=data)


def _complementary_invoice(request, report, actor: User, shown: str):
    """Anticipated: what ran between the reading and the removal (BT) or the final
    interruption (MT), invoiced as the ACFF was shown it, or nothing written."""
    arguments = {
        "final_index": report.index_read,
        "final_date": report.read_on,
        "rollover": report.rollover_confirmed,
    }
    preview = billing.complementary_invoice_preview(request, **arguments)
    if preview is not None and complementary_digest(preview) != shown:
        raise DraftChanged(COMPLEMENTARY_CHANGED)
    return billing.complementary_invoice_create(request, actor=actor, **arguments)


def _end_contract(contract: Contract, end_date: dt.date, meter_status: str) -> None:
    """The contract terminated, its meter removed or left (BT), its delivery point freed."""
    contract.terminate(end_date)
    if contract.tariff_category.voltage == Voltage.BT:
        contract.meter.status = meter_status
        contract.meter.save(update_fields=["status"])
    contract.delivery_point.status = DeliveryPointStatus.FREE
    contract.delivery_point.save(update_fields=["status"])


# --- Money corrections (DESIGN §9) ----------------------------------------------------------


def credit_note_shown(request: TerminationRequest) -> list[Invoice]:
    """The invoices the credit-note page shows, to be cancelled together."""
    return list(
        request.invoices.filter(state=InvoiceState.VALIDATED)
        .select_related("contract__customer")
        .prefetch_related("lines")
        .order_by("id")
    )


def _check_shown(invoices: list[Invoice], shown: str) -> None:
    """The invoices about to be cancelled or refunded are those the page showed (one no longer
    validated gets its own refusal further on)."""
    validated = all(i.state == InvoiceState.VALIDATED for i in invoices)
    if validated and billing.invoices_digest(invoices) != shown:
        raise DraftChanged(INVOICES_CHANGED)


@transaction.atomic
def termination_request_cancel_balance_invoice(
    request: TerminationRequest,
    *,
    actor: User,
    reason: str,
    shown: str,
    send_back_report: bool = False,
) -> CreditNote:
    """Before settlement, the supervisor cancels the balance invoice by a credit note. The
    request returns to step 6 (a new balance invoice, under a new number), or, when the report
    itself was wrong, to the field: the report is sent back to its agent. The invoice cancelled
    is the one the page showed (`shown`, its digest), never another validated meanwhile."""
    request = begin_step(request.pk, actor=actor, act="cancel_balance_invoice")
    invoice = _balance_invoice(request)
    _check_shown([invoice], shown)
    note = billing.credit_note_issue(invoice, actor=actor, reason=reason)
    data = {"invoice": invoice.number, "credit_note": note.number, "reason": note.reason}
    if send_back_report:
        order = _field_order(request, lock=True)
        interventions.report_reopen(order, actor=actor, reason=note.reason)
        data["order"] = order.number
        apply_transition(request, "cancel_balance_invoice_and_send_back", actor=actor, data=data)
    else:
        apply_transition(request, "cancel_balance_invoice", actor=actor, data=data)
    return note


@transaction.atomic
def termination_request_cancel_takeover_invoices(
    request: TerminationRequest, *, actor: User, reason: str, shown: str
) -> list[CreditNote]:
    """Before either is settled, the supervisor cancels the reprise's two invoices by credit
    notes: the reprise is reopened (the outgoing contract active again, the successor's contract
    void, never started) and step 2 is done again."""
    request = begin_step(request.pk, actor=actor, act="cancel_takeover_invoices")
    invoices = list(
        request.invoices.filter(state__in=billing.BILLED_STATES).select_for_update().order_by("id")
    )
    if any(invoice.state != InvoiceState.VALIDATED for invoice in invoices):
        raise StepRefused(billing.CREDIT_AFTER_SETTLEMENT)
    _check_shown(invoices, shown)
    notes = [billing.credit_note_issue(i, actor=actor, reason=reason) for i in invoices]
    outgoing = Contract.objects.select_for_update().get(pk=request.contract_id)
    successor = Contract.objects.select_for_update().get(pk=request.successor_contract_id)
    # The successor's contract never started: it ends on the day it was to begin. Then the
    # delivery point and the meter are the outgoing contract's again.
    successor.void()
    outgoing.reopen()
    apply_transition(
        request,
        "cancel_takeover_invoices",
        actor=actor,
        data={
            "invoices": [i.number for i in invoices],
            "credit_notes": [n.number for n in notes],
            "successor_contract": successor.number,
            "reason": notes[0].reason,
        },
    )
    return notes


@transaction.atomic
def termination_request_authorise_refund(
    invoice: Invoice, *, actor: User, shown: str, **beneficiary
) -> RefundAuthorisation:
    """Step 7, the exception: the presented ID is not the deposit payer's (renewed ID card,
    heir, company representative) or no payer is recorded; the supervisor names who may be
    refunded, with a proof. The cashier then pays that beneficiary; the one who authorises
    never pays. The refund authorised is the one the page showed (`shown`, its digest)."""
    request = begin_step(invoice.request_id, actor=actor, act="request_refund_authorisation")
    _check_shown([Invoice.objects.select_for_update().get(pk=invoice.pk)], shown)
    authorisation = billing.refund_authorise(invoice, actor=actor, **beneficiary)
    record_event(
        request,
        "refund_authorised",
        actor=actor,
        from_state=request.state,
        step=7,
        data={
            "invoice": invoice.number,
            "beneficiary": authorisation.beneficiary_name,
            "quality": authorisation.quality,
            "proof": authorisation.proof_reference,
        },
    )
    return authorisation


def overdue_balances(today: dt.date):
    """Balance invoices validated and still unsettled past their délai (settlement for a sum
    to collect or a zero balance, refund claim for a sum to refund)."""
    settlement = dt.timedelta(days=Delay.days_on(DelayKind.SETTLEMENT, today))
    refund = dt.timedelta(days=Delay.days_on(DelayKind.REFUND_CLAIM, today))
    return TerminationRequest.objects.filter(
        Q(invoices__balance__gte=0, invoices__issued_on__lte=today - settlement)
        | Q(invoices__balance__lt=0, invoices__issued_on__lte=today - refund),
        state=RequestState.INVOICED,
        invoices__kind=InvoiceKind.BALANCE,
        invoices__state=InvoiceState.VALIDATED,
    )


def transfer_overdue_balances(today: dt.date | None = None, *, batch_size: int = 200) -> int:
    """Every morning, before step 8: a balance still to collect after its délai goes to
    recovery, a refund never claimed stays as a credit on the account; both are listed for the
    apurement, and the request moves on to step 8. System events. Returns how many."""
    today = today or timezone.localdate()
    done = 0
    while True:
        with transaction.atomic():
            batch = list(
                overdue_balances(today)
                .select_for_update(of=("self",), skip_locked=True)
                .select_related("contract__tariff_category", "agency")
                .order_by("state_since", "id")[:batch_size]
            )
            due_now = []
            for request in batch:
                invoice = _balance_invoice(request)
                kind = DelayKind.REFUND_CLAIM if invoice.balance < 0 else DelayKind.SETTLEMENT
                transfer = billing.balance_transfer(
                    invoice, today=today, delay_days=Delay.days_on(kind, today)
                )
                action = (
                    "leave_refund_as_credit"
                    if transfer.kind == TransferKind.CREDIT
                    else "transfer_to_recovery"
                )
                apply_transition(
                    request,
                    action,
                    actor=None,
                    data={
                        "invoice": invoice.number,
                        "amount": transfer.amount,
                        "since": transfer.since.isoformat(),
                        "delay": transfer.delay_days,
                    },
                )
                if request.removal_due(today) and needs_field_visit(request):
                    due_now.append(request)
            if due_now:
                _issue_removal_orders(due_now)
            done += len(batch)
        if len(batch) < batch_size:
            break
    if done:
        logger.info("%s balance(s) transferred to the apurement on %s", done, today)
    return done


# --- Cancellation ----------------------------------------------------------------------------


@transaction.atomic
def termination_request_cancel(request: TerminationRequest, *, actor: User, reason: str):
    """Cancellation, with a reason, until the field intervention is reported. Its orders are
    cancelled too (their reprints say "ANNULÉ")."""
    request = begin_step(request.pk, actor=actor, act="request_cancel")
    if not reason.strip():
        raise StepRefused(REASON_REQUIRED, field="reason")
    request.cancel_reason = reason.strip()
    request.closed_at = timezone.now()
    apply_transition(request, "cancel", actor=actor, data={"reason": reason.strip()})
    request.orders.exclude(status=OrderStatus.CANCELLED).update(status=OrderStatus.CANCELLED)
    return request


@transaction.atomic
def termination_request_record_sms_choice(
    request: TerminationRequest, *, actor: User, language: str, opted_out: bool
):
    """At the counter: the requester's language for the SMS, or their refusal of them, recorded
    with its date for their number (the agence's reception), and in the request's journal."""
    check_role(actor, Role.RECEPTION)
    request = lock_request(request.pk)
    check_agency(actor, request.agency_id)
    choice = preference_record(
        request.requester_phone, actor=actor, language=language, opted_out=opted_out
    )
    record_event(
        request,
        "sms_choice",
        actor=actor,
        from_state=request.state,
        step=1,
        data={"language": language, "opted_out": opted_out},
    )
    return choice


# --- Reminders, every evening (procedure/tasks.py) -------------------------------------------

REMIND_BEFORE = dt.timedelta(days=7)  # before a balance goes to recovery, a refund expires


def send_reminders(today: dt.date | None = None) -> int:
    """The evening's reminders: a crew's visit tomorrow; a balance a week before it goes to
    recovery; a refund a week before its délai ends. Each fact is told once (its key), however
    often this runs. Returns how many messages were written."""
    today = today or timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    written = 0
    visits = InterventionOrder.objects.filter(
        status__in=AWAITING_AGENT, due_on=tomorrow, request__state__in=OPEN_REQUEST_STATES
    ).values_list("request_id", "pk")
    for request_id, order_id in visits:
        with transaction.atomic():
            request = lock_request(request_id)
            order = InterventionOrder.objects.get(pk=order_id)
            written += len(
                notify(
                    request,
                    NotificationKind.VISIT_REMINDER,
                    fact=f"{order.number}:{order.due_on:%Y-%m-%d}",
                    context={
                        "contrat": request.contract.number,
                        "date": f"{order.due_on:%d/%m/%Y}",
                        "creneau": settings.VISIT_WINDOW,
                    },
                )
            )
    balances = Invoice.objects.filter(
        kind=InvoiceKind.BALANCE,
        state=InvoiceState.VALIDATED,
        request__state=RequestState.INVOICED,
    ).exclude(balance=0)
    known: dict = {}  # the délais in force, read once per kind and issue date
    for invoice in balances.only("id", "request_id", "number", "balance", "issued_on"):
        limit = balance_limit(invoice, known)
        if not limit - REMIND_BEFORE <= today < limit:
            continue
        kind = (
            NotificationKind.REFUND_REMINDER
            if invoice.balance < 0
            else NotificationKind.RECOVERY_REMINDER
        )
        with transaction.atomic():
            request = lock_request(invoice.request_id)
            written += len(
                notify(
                    request,
                    kind,
                    fact=invoice.number,
                    context=_balance_context(request, invoice, limit),
                )
            )
    return written


# --- From the field app ----------------------------------------------------------------------


@transaction.atomic
def termination_request_record_field_conflict(
    request: TerminationRequest, *, actor: User, order: InterventionOrder, message: str
) -> None:
    """A report from the field came for an order that had changed meanwhile (reassigned,
    cancelled, already reported): it is kept as it came (field/), and the request's journal
    says so."""
    request = lock_request(request.pk)
    record_event(
        request,
        "field_conflict",
        actor=actor,
        from_state=request.state,
        data={"order": order.number, "message": message},
    )


@transaction.atomic
def termination_request_review_field_conflict(
    submission: FieldSubmission, *, actor: User, note: str
) -> ConflictReview:
    """The supervisor says what was done with a report that came in conflict (entered again
    from its content, or set aside, and why)."""
    if not note.strip():
        raise StepRefused("Indiquez la suite donnée au compte-rendu.", field="note")
    request = lock_request(submission.order.request_id)
    check_role(actor, Role.SUPERVISOR)
    check_agency(actor, request.agency_id)
    submission = FieldSubmission.objects.select_for_update().get(pk=submission.pk)
    if submission.outcome != SubmissionOutcome.CONFLICT:
        raise StepRefused("Cet envoi n'est pas en conflit.")
    if ConflictReview.objects.filter(submission=submission).exists():
        raise StepRefused("Ce conflit a déjà été examiné.")
    review = ConflictReview.objects.create(
        submission=submission, reviewed_by=actor, note=note.strip()
    )
    record_event(
        request,
        "field_conflict_reviewed",
        actor=actor,
        from_state=request.state,
        data={"order": submission.order.number, "note": review.note},
    )
    return review
