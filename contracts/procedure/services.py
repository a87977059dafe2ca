"""The termination procedure's steps. One function per action: atomic, locks the request,
checks the actor's role and agency, asks billing and interventions to write their own records,
applies the @transition, saves, and writes the TerminationEvent in the same transaction."""

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing import services as billing
from billing.documents import issue_after_commit, issue_in_background
from billing.enums import DocumentKind, InvoiceKind, InvoiceState
from billing.models import Invoice, Settlement
from contracts.enums import (
    OPEN_REQUEST_STATES,
    ContractStatus,
    CustomerKind,
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
    NumberSequence,
    TerminationRequest,
    User,
    needs_field_visit,
)
from contracts.phone import normalize_phone
from contracts.procedure.transitions import (
    apply_transition,
    apply_transition_many,
    begin_step,
    lock_request,
    record_event,
)
from contracts.rules import StepRefused, check_agency, check_role
from interventions import services as interventions
from interventions.enums import FIELD_ORDER_KINDS, REMOVAL_ORDER_KINDS, OrderKind, OrderStatus
from interventions.models import InterventionOrder, InterventionReport

logger = logging.getLogger(__name__)

CONTRACT_NOT_ACTIVE = "Ce contrat est résilié : il ne peut pas l'être une seconde fois."
OPEN_REQUEST_EXISTS = "Ce contrat a déjà une demande de résiliation en cours."
PROXY_REFERENCE_REQUIRED = "Un mandataire doit présenter sa procuration : indiquez sa référence."
PHONE_INVALID = "Numéro de téléphone béninois attendu (10 chiffres, ex. 01 97 12 34 56)."
CUT_DATE_PAST = "La date de coupure ne peut pas être dans le passé."
CUT_DATE_ANTICIPATED = (
    "Une résiliation anticipée fixe une date de coupure ultérieure à aujourd'hui."
)
SIGNATURE_REQUIRED = "Le demandeur doit signer l'ordre d'intervention (procédure, étape 3)."
REASON_REQUIRED = "Indiquez le motif de l'annulation."
REPORT_NOT_SIGNED = "Le compte-rendu de dépose doit d'abord être signé par le responsable."
ALREADY_SIGNED = "Ce compte-rendu est déjà signé."
SUCCESSOR_IS_HOLDER = "Le successeur doit être une autre personne que le titulaire."
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
    return request


# --- Step 2 (reprise) ------------------------------------------------------------------------


def _successor(data: dict) -> Customer:
    """The successor: an existing customer found by identity document, or a new one."""
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
    return Customer.objects.create(
        kind=kind,
        name=data["name"].strip(),
        id_document_type=id_type,
        id_document_number=number,
        phone=phone,
        address=data["address"].strip(),
    )


@transaction.atomic
def termination_request_take_over(
    request: TerminationRequest,
    *,
    actor: User,
    successor: dict,
    mutation_index: int,
    mutation_date: dt.date,
    rollover_confirmed: bool = False,
    high_consumption_confirmed: bool = False,
):
    """Step 2 (reprise): the outgoing customer's balance invoice and the successor's
    subscription invoice are validated, and the successor's contract opens on the same
    delivery point and meter, from the mutation index."""
    request = begin_step(
        request.pk, actor=actor, role=Role.RECEPTION, states=[RequestState.RECEIVED]
    )
    contract = Contract.objects.select_for_update().get(pk=request.contract_id)
    billing.reading_check(
        contract,
        index=mutation_index,
        read_on=mutation_date,
        rollover_confirmed=rollover_confirmed,
        high_consumption_confirmed=high_consumption_confirmed,
        field="mutation_index",
    )
    customer = _successor(successor)
    if customer.pk == contract.customer_id:
        raise StepRefused(SUCCESSOR_IS_HOLDER, field="successor_id_document_number")
    request.successor = customer
    request.mutation_index = mutation_index
    request.cut_date = mutation_date
    apply_transition(
        request,
        "take_over",
        actor=actor,
        data={"successor": customer.name, "mutation_index": mutation_index},
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
    contract.status = ContractStatus.TERMINATED
    contract.end_date = mutation_date
    contract.save(update_fields=["status", "end_date"])
    successor_contract = Contract.objects.create(
        number=NumberSequence.next("CT", contract.agency, mutation_date.year),
        agency=contract.agency,
        customer=customer,
        delivery_point=contract.delivery_point,
        meter=contract.meter,
        tariff_category=contract.tariff_category,
        subscribed_power_kva=contract.subscribed_power_kva,
        start_date=mutation_date,
        last_billed_index=mutation_index,
        last_billed_date=mutation_date,
    )
    request.successor_contract = successor_contract
    request.save(update_fields=["successor_contract"])
    subscription = billing.subscription_invoice_create(
        request, successor_contract=successor_contract, actor=actor
    )
    issue_after_commit(DocumentKind.SUCCESSOR_CONTRACT, request.pk)
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
    return (orders.select_for_update() if lock else orders).get()


@transaction.atomic
def termination_request_issue_order(
    request: TerminationRequest,
    *,
    actor: User,
    timing: str,
    cut_date: dt.date | None,
    requester_signed: bool,
    assignee: User | None = None,
):
    """Step 3: classic or anticipated; the order is issued and signed by the requester."""
    request = begin_step(
        request.pk, actor=actor, role=Role.RECEPTION, states=[RequestState.RECEIVED]
    )
    today = timezone.localdate()
    if timing == Timing.CLASSIC:
        cut_date = today
    elif cut_date is None or cut_date <= today:
        raise StepRefused(
            CUT_DATE_PAST if cut_date and cut_date < today else CUT_DATE_ANTICIPATED,
            field="cut_date",
        )
    if not requester_signed:
        raise StepRefused(SIGNATURE_REQUIRED, field="requester_signed")
    request.timing = timing
    request.cut_date = cut_date
    request.requester_signed = True
    order = interventions.field_order_issue(request, actor=actor, assignee=assignee)
    issue_after_commit(DocumentKind.ORDER, order.pk)
    apply_transition(
        request,
        "issue_order",
        actor=actor,
        data={"order": order.number, "timing": timing, "cut_date": cut_date.isoformat()},
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
) -> InterventionReport:
    """Steps 4-5: the reader enters the report of the intervention. Classic: the cut order
    waits for the supervisor's signature; anticipated: the reading report alone."""
    request = begin_step(
        request.pk, actor=actor, role=Role.READER, states=[RequestState.ORDER_ISSUED]
    )
    order = _field_order(request, lock=True)
    interventions.field_report_check(
        order, cut_done=cut_done, cut_index=cut_index, remarks=remarks, remarks_other=remarks_other
    )
    final_index = cut_index if cut_done and cut_index is not None else index_read
    kwh = billing.reading_check(
        request.contract,
        index=final_index,
        read_on=read_on,
        rollover_confirmed=rollover_confirmed,
        high_consumption_confirmed=high_consumption_confirmed,
        field="cut_index" if cut_done else "index_read",
    )
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
    )
    apply_transition(
        request,
        "report_field",
        actor=actor,
        data={
            "order": order.number,
            "index": final_index,
            "consumption": kwh,
            "cut_done": cut_done,
        },
    )
    return report


@transaction.atomic
def termination_request_approve_report(request: TerminationRequest, *, actor: User):
    """Step 5: the chef de section recouvrement checks and signs the cut order."""
    request = begin_step(
        request.pk, actor=actor, role=Role.SUPERVISOR, states=[RequestState.FIELD_REPORTED]
    )
    order = request.orders.get(kind=OrderKind.INTERRUPTION_READING)
    apply_transition(request, "approve_report", actor=actor, data={"order": order.number})
    return interventions.report_sign(order, actor=actor)


# --- Step 6 ----------------------------------------------------------------------------------


def _field_report(request: TerminationRequest) -> InterventionReport:
    return _field_order(request).report


@transaction.atomic
def termination_request_compute_invoice(request: TerminationRequest, *, actor: User):
    """Step 6, first half: compute (or recompute) the balance invoice as a draft to view."""
    request = begin_step(
        request.pk, actor=actor, role=Role.RECEPTION, states=[RequestState.REPORT_APPROVED]
    )
    report = _field_report(request)
    return billing.balance_invoice_draft(
        request,
        final_index=report.final_index,
        final_date=report.read_on,
        rollover=report.rollover_confirmed,
    )


@transaction.atomic
def termination_request_invoice(request: TerminationRequest, *, actor: User):
    """Step 6: validate the balance invoice (recomputed from the report, so that what is
    validated is what the rules give today)."""
    request = begin_step(
        request.pk, actor=actor, role=Role.RECEPTION, states=[RequestState.REPORT_APPROVED]
    )
    report = _field_report(request)
    draft = billing.balance_invoice_draft(
        request,
        final_index=report.final_index,
        final_date=report.read_on,
        rollover=report.rollover_confirmed,
    )
    invoice = billing.invoice_validate(draft, actor=actor)
    apply_transition(
        request,
        "invoice",
        actor=actor,
        data={"invoice": invoice.number, "total": invoice.total, "balance": invoice.balance},
    )
    return invoice


# --- Step 7 ----------------------------------------------------------------------------------


@transaction.atomic
def termination_request_settle(invoice: Invoice, *, actor: User, **settlement) -> Settlement:
    """Step 7: the cashier collects or refunds the balance. Without reprise the request is
    settled (and step 8 follows at once if the cut date has come); with reprise it closes once
    both invoices are settled. A complementary invoice is settled without touching its closed
    request."""
    check_role(actor, Role.CASHIER)
    request = None
    if invoice.request_id and invoice.kind in (InvoiceKind.BALANCE, InvoiceKind.SUBSCRIPTION):
        # The request first, then the invoice: every step locks in this order. The invoice's
        # own checks come first, so that a second cashier hears "already settled".
        request = lock_request(invoice.request_id)
        check_agency(actor, request.agency_id)
    result = billing.invoice_settle(invoice, actor=actor, **settlement)
    if request is None:
        return result
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
        request.closed_at = timezone.now()
        apply_transition(request, "close_takeover", actor=actor, data=data)
    return result


# --- Step 8 ----------------------------------------------------------------------------------


def _issue_removal_orders(
    requests: list[TerminationRequest], *, render_in_background: bool = False
) -> list[InterventionOrder]:
    """Step 8 for requests the caller has locked: the removal (BT) or final interruption (MT)
    order of each, issued by the system."""
    orders = interventions.removal_orders_create(requests)
    apply_transition_many(
        requests, "order_removal", actor=None, data=[{"order": o.number} for o in orders]
    )
    if render_in_background:
        issue_in_background(DocumentKind.ORDER, [o.pk for o in orders])
    else:
        for order in orders:
            issue_after_commit(DocumentKind.ORDER, order.pk)
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
                _issue_removal_orders(batch, render_in_background=True)
            issued += len(batch)
        if len(batch) < batch_size:
            break
    if issued:
        logger.info("step 8: %s order(s) issued for %s", issued, today)
    return issued


# --- Step 9 ----------------------------------------------------------------------------------


def _removal_order(request: TerminationRequest, *, lock: bool = False) -> InterventionOrder:
    orders = request.orders.filter(kind__in=REMOVAL_ORDER_KINDS)
    return (orders.select_for_update() if lock else orders).get()


@transaction.atomic
def termination_request_report_removal(
    request: TerminationRequest, *, actor: User, **report
) -> InterventionReport:
    """Step 9: the ARPNT crew's removal (or final interruption) report."""
    request = begin_step(
        request.pk, actor=actor, role=Role.ARPNT, states=[RequestState.REMOVAL_ORDERED]
    )
    order = _removal_order(request, lock=True)
    balance_invoice = request.invoices.filter(kind=InvoiceKind.BALANCE).first()
    billed = balance_invoice.new_index if balance_invoice else request.contract.last_billed_index
    entered = interventions.removal_report_enter(order, actor=actor, billed_index=billed, **report)
    apply_transition(
        request,
        "report_removal",
        actor=actor,
        data={"order": order.number, "index": entered.index_read, "remarks": entered.remarks},
    )
    return entered


@transaction.atomic
def termination_request_sign_removal(request: TerminationRequest, *, actor: User):
    """Step 9: the responsable hiérarchique checks and signs the removal report."""
    request = begin_step(
        request.pk, actor=actor, role=Role.SUPERVISOR, states=[RequestState.METER_REMOVED]
    )
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
def termination_request_confirm_codification(request: TerminationRequest, *, actor: User):
    """Step 9, the end: the ACFF confirms the codification. The contract is terminated (no more
    maintenance invoices), the meter removed (BT) and the delivery point freed."""
    request = begin_step(
        request.pk,
        actor=actor,
        role=Role.ACFF,
        states=[RequestState.METER_REMOVED, RequestState.SETTLED],
    )
    contract = (
        Contract.objects.select_for_update()
        .select_related("meter", "delivery_point")
        .get(pk=request.contract_id)
    )
    data: dict = {}
    if request.state == RequestState.SETTLED:
        action, end_date = "confirm_codification_without_removal", request.cut_date
    else:
        action = "confirm_codification"
        order = _removal_order(request, lock=True)
        if order.status != OrderStatus.SIGNED:
            raise StepRefused(REPORT_NOT_SIGNED)
        report = order.report
        end_date = report.read_on
        if request.is_anticipated and order.kind == OrderKind.REMOVAL:
            extra = billing.complementary_invoice_create(
                request, removal_index=report.index_read, removal_date=report.read_on, actor=actor
            )
            if extra is not None:
                data["complementary_invoice"] = extra.number
        order.status = OrderStatus.FILED
        order.save(update_fields=["status"])
    request.closed_at = timezone.now()
    apply_transition(request, action, actor=actor, data=data)
    contract.status = ContractStatus.TERMINATED
    contract.end_date = max(end_date, contract.start_date)
    contract.save(update_fields=["status", "end_date"])
    if contract.tariff_category.voltage == Voltage.BT:
        contract.meter.status = MeterStatus.REMOVED
        contract.meter.save(update_fields=["status"])
    contract.delivery_point.status = DeliveryPointStatus.FREE
    contract.delivery_point.save(update_fields=["status"])
    return request


# --- Cancellation ----------------------------------------------------------------------------


@transaction.atomic
def termination_request_cancel(request: TerminationRequest, *, actor: User, reason: str):
    """Cancellation, with a reason, until the field intervention is reported."""
    request = begin_step(
        request.pk,
        actor=actor,
        role=Role.RECEPTION,
        states=[RequestState.RECEIVED, RequestState.ORDER_ISSUED],
    )
    if not reason.strip():
        raise StepRefused(REASON_REQUIRED, field="reason")
    request.cancel_reason = reason.strip()
    request.closed_at = timezone.now()
    apply_transition(request, "cancel", actor=actor, data={"reason": reason.strip()})
    request.orders.exclude(status=OrderStatus.CANCELLED).update(status=OrderStatus.CANCELLED)
    return request
