"""The termination procedure's steps. One function per step: atomic, locks the request, checks
the actor's role and agency, applies the @transition, saves, and writes the TerminationEvent in
the same transaction (contracts.rules.apply_transition)."""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import services as billing
from billing.documents import issue_after_commit
from billing.enums import DocumentKind
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
    Timing,
    Voltage,
)
from contracts.models import (
    Contract,
    Customer,
    NumberSequence,
    TerminationRequest,
    User,
)
from contracts.phone import normalize_phone
from contracts.rules import (
    StepRefused,
    apply_transition,
    begin_step,
    check_agency,
    check_role,
    record_event,
)
from interventions import services as interventions
from interventions.enums import OrderKind, OrderStatus

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
SUCCESSOR_IS_HOLDER = "Le successeur doit être une autre personne que le titulaire."
COMPANY_NEEDS_RCCM = "Une entreprise s'identifie par son RCCM."
PERSON_NO_RCCM = (
    "Une personne s'identifie par une CNI, un CIP, un passeport ou une carte consulaire."
)


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
    apply_transition(
        request,
        "issue_order",
        actor=actor,
        data={"order": order.number, "timing": timing, "cut_date": cut_date.isoformat()},
    )
    return order


@transaction.atomic
def termination_request_report_field(request: TerminationRequest, *, actor: User, **report):
    """Steps 4-5: the reader enters the report of the intervention."""
    request = begin_step(
        request.pk, actor=actor, role=Role.READER, states=[RequestState.ORDER_ISSUED]
    )
    return interventions.field_report_enter(request, actor=actor, **report)


@transaction.atomic
def termination_request_approve_report(request: TerminationRequest, *, actor: User):
    """Step 5: the chef de section recouvrement checks and signs the cut order."""
    request = begin_step(
        request.pk, actor=actor, role=Role.SUPERVISOR, states=[RequestState.FIELD_REPORTED]
    )
    order = request.orders.get(kind=OrderKind.INTERRUPTION_READING)
    apply_transition(request, "approve_report", actor=actor, data={"order": order.number})
    return interventions.report_sign(order, actor=actor)


def _field_report(request: TerminationRequest):
    order = request.orders.select_related("report").get(
        kind__in=[OrderKind.INTERRUPTION_READING, OrderKind.READING]
    )
    return order.report


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
    interventions.check_reading(
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


@transaction.atomic
def termination_request_report_removal(request: TerminationRequest, *, actor: User, **report):
    """Step 9: the ARPNT crew's removal (or final interruption) report."""
    request = begin_step(
        request.pk, actor=actor, role=Role.ARPNT, states=[RequestState.REMOVAL_ORDERED]
    )
    return interventions.removal_report_enter(request, actor=actor, **report)


@transaction.atomic
def termination_request_sign_removal(request: TerminationRequest, *, actor: User):
    """Step 9: the responsable hiérarchique checks and signs the removal report."""
    request = begin_step(
        request.pk, actor=actor, role=Role.SUPERVISOR, states=[RequestState.METER_REMOVED]
    )
    order = request.orders.get(kind__in=[OrderKind.REMOVAL, OrderKind.FINAL_INTERRUPTION])
    if order.status == OrderStatus.SIGNED:
        raise StepRefused("Ce compte-rendu est déjà signé.")
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
        order = request.orders.select_related("report").get(
            kind__in=[OrderKind.REMOVAL, OrderKind.FINAL_INTERRUPTION]
        )
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
