"""Writes on intervention orders and reports. Each function runs inside the step's transaction
(the caller, a contracts service, holds the request's lock), except issue_due_orders, the
periodic step 8, which claims its requests itself."""

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.computation import ComputationError, consumption_kwh, period_days
from billing.documents import issue_after_commit, issue_in_background
from billing.enums import DocumentKind, InvoiceKind
from billing.selectors import usual_consumption
from contracts.enums import RequestState, Role, Timing, Voltage
from contracts.models import Contract, NumberSequence, TerminationRequest, User
from contracts.rules import StepRefused, apply_transition, apply_transition_many
from interventions.enums import SAFETY_STEPS, OrderKind, OrderStatus, Remark
from interventions.models import InterventionOrder, InterventionReport

logger = logging.getLogger(__name__)

HIGH_CONSUMPTION = (
    "Consommation de {kwh} kWh, plus de trois fois l'habituel ({usual} kWh sur la période) : "
    "vérifiez l'index, puis confirmez-le."
)
READ_IN_FUTURE = "La date du relevé ne peut pas être dans le futur."
CUT_REQUIRED = "Résiliation classique : la coupure doit être effectuée et son index saisi."
CUT_INDEX_REQUIRED = "Saisissez l'index de coupure."
OTHER_REMARK_TEXT = "Précisez la remarque « Autre »."
SAFETY_STEPS_REQUIRED = "Confirmez chacune des 8 étapes du mode opératoire de dépose."
ASSIGNEE_REFUSED = "L'agent désigné doit appartenir à votre agence et avoir le rôle requis."


def check_reading(
    contract: Contract,
    *,
    index: int,
    read_on: dt.date,
    rollover_confirmed: bool,
    high_consumption_confirmed: bool,
    field: str = "index_read",
) -> int:
    """The consumption since the last billed index, once the reading passes the procedure's
    checks: not below the last index unless a rollover is confirmed, not more than 3 times the
    usual consumption unless confirmed."""
    if read_on > timezone.localdate():
        raise StepRefused(READ_IN_FUTURE, field="read_on")
    try:
        days = period_days(contract.last_billed_date, read_on)
        kwh = consumption_kwh(
            last_index=contract.last_billed_index,
            final_index=index,
            digits=contract.meter.digits,
            rollover=rollover_confirmed,
        )
    except ComputationError as error:
        raise StepRefused(str(error), field=field) from None
    usual = usual_consumption(contract, days)
    if usual and kwh > 3 * usual and not high_consumption_confirmed:
        raise StepRefused(HIGH_CONSUMPTION.format(kwh=kwh, usual=usual), field=field)
    return kwh


def _check_assignee(assignee: User | None, agency_id: int, *roles: str) -> None:
    if assignee is not None and (assignee.agency_id != agency_id or not assignee.has_role(*roles)):
        raise StepRefused(ASSIGNEE_REFUSED, field="assignee")


def order_issue(
    request: TerminationRequest,
    *,
    kind: str,
    due_on: dt.date,
    actor: User | None,
    assignee: User | None = None,
) -> InterventionOrder:
    """A numbered order (gapless per agency and year), in the caller's transaction."""
    today = timezone.localdate()
    order = InterventionOrder.objects.create(
        request=request,
        agency=request.agency,
        kind=kind,
        number=NumberSequence.next("OI", request.agency, today.year),
        issued_on=today,
        due_on=due_on,
        assignee=assignee,
        issued_by=actor,
    )
    issue_after_commit(DocumentKind.ORDER, order.pk)
    return order


def field_order_issue(
    request: TerminationRequest, *, actor: User, assignee: User | None
) -> InterventionOrder:
    """Step 3's order: interruption and reading (classic) or reading only (anticipated)."""
    _check_assignee(assignee, request.agency_id, Role.READER)
    kind = (
        OrderKind.READING
        if request.timing == Timing.ANTICIPATED
        else OrderKind.INTERRUPTION_READING
    )
    return order_issue(
        request, kind=kind, due_on=timezone.localdate(), actor=actor, assignee=assignee
    )


def _check_remarks(remarks: list[str], remarks_other: str) -> None:
    if Remark.OTHER in remarks and not remarks_other.strip():
        raise StepRefused(OTHER_REMARK_TEXT, field="remarks_other")


def field_report_enter(
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
    """Steps 4-5: the reader's report on the step-3 order."""
    order = request.orders.select_for_update().get(
        kind__in=[OrderKind.INTERRUPTION_READING, OrderKind.READING]
    )
    if order.kind == OrderKind.INTERRUPTION_READING:
        if not cut_done:
            raise StepRefused(CUT_REQUIRED, field="cut_done")
        if cut_index is None:
            raise StepRefused(CUT_INDEX_REQUIRED, field="cut_index")
    _check_remarks(remarks, remarks_other)
    final_index = cut_index if cut_done and cut_index is not None else index_read
    kwh = check_reading(
        request.contract,
        index=final_index,
        read_on=read_on,
        rollover_confirmed=rollover_confirmed,
        high_consumption_confirmed=high_consumption_confirmed,
        field="cut_index" if cut_done else "index_read",
    )
    report = InterventionReport.objects.create(
        order=order,
        index_read=index_read,
        read_on=read_on,
        cut_done=cut_done,
        cut_index=cut_index if cut_done else None,
        rollover_confirmed=rollover_confirmed,
        high_consumption_confirmed=high_consumption_confirmed,
        remarks=remarks,
        remarks_other=remarks_other,
        entered_by=actor,
    )
    # Anticipated: the reading report alone, the order is filed. Classic: it awaits signature.
    order.status = OrderStatus.FILED if order.kind == OrderKind.READING else OrderStatus.REPORTED
    order.save(update_fields=["status"])
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


def report_sign(order: InterventionOrder, *, actor: User) -> InterventionReport:
    """The responsable hiérarchique checks and signs the order's report."""
    report = InterventionReport.objects.select_for_update().get(order=order)
    report.signed_by = actor
    report.signed_at = timezone.now()
    report.save(update_fields=["signed_by", "signed_at"])
    order.status = OrderStatus.SIGNED
    order.save(update_fields=["status"])
    return report


def removal_report_enter(
    request: TerminationRequest,
    *,
    actor: User,
    index_read: int,
    read_on: dt.date,
    cut_done: bool,
    safety_steps_confirmed: list[int],
    remarks: list[str],
    remarks_other: str = "",
    rollover_confirmed: bool = False,
) -> InterventionReport:
    """Step 9: the crew's report on the removal (or final interruption) order."""
    order = request.orders.select_for_update().get(
        kind__in=[OrderKind.REMOVAL, OrderKind.FINAL_INTERRUPTION]
    )
    if order.kind == OrderKind.REMOVAL and sorted(set(safety_steps_confirmed)) != list(
        range(1, len(SAFETY_STEPS) + 1)
    ):
        raise StepRefused(SAFETY_STEPS_REQUIRED, field="safety_steps_confirmed")
    if not cut_done:
        raise StepRefused(
            "La dépose suppose la coupure : cochez « Coupure effectuée ».", field="cut_done"
        )
    _check_remarks(remarks, remarks_other)
    if read_on > timezone.localdate():
        raise StepRefused(READ_IN_FUTURE, field="read_on")
    balance_invoice = request.invoices.filter(kind=InvoiceKind.BALANCE).first()
    billed = balance_invoice.new_index if balance_invoice else request.contract.last_billed_index
    if index_read < billed and not rollover_confirmed:
        raise StepRefused(
            f"L'index de dépose ({index_read}) est inférieur à l'index facturé ({billed}). "
            "Vérifiez la saisie, ou confirmez un passage du compteur par zéro.",
            field="index_read",
        )
    report = InterventionReport.objects.create(
        order=order,
        index_read=index_read,
        read_on=read_on,
        cut_done=cut_done,
        cut_index=index_read,
        rollover_confirmed=rollover_confirmed,
        remarks=remarks,
        remarks_other=remarks_other,
        safety_steps_confirmed=sorted(set(safety_steps_confirmed)),
        entered_by=actor,
    )
    order.status = OrderStatus.REPORTED
    order.save(update_fields=["status"])
    apply_transition(
        request,
        "report_removal",
        actor=actor,
        data={"order": order.number, "index": index_read, "remarks": remarks},
    )
    return report


def removal_orders_issue(
    requests: list[TerminationRequest], *, render_in_background: bool = False
) -> list[InterventionOrder]:
    """Step 8 for requests the caller has locked: the removal (BT) or final interruption (MT)
    order of each, numbered in order, issued by the system. The morning run issues thousands
    at once: one numbering lock per agency, bulk inserts, and the PDFs left to the worker."""
    today = timezone.localdate()
    numbers = {}
    for agency_id in sorted({r.agency_id for r in requests}):
        agency = next(r.agency for r in requests if r.agency_id == agency_id)
        count = sum(1 for r in requests if r.agency_id == agency_id)
        numbers[agency_id] = iter(NumberSequence.take("OI", agency, today.year, count))
    orders = [
        InterventionOrder(
            request=request,
            agency_id=request.agency_id,
            kind=OrderKind.FINAL_INTERRUPTION
            if request.contract.tariff_category.voltage == Voltage.MT
            else OrderKind.REMOVAL,
            number=next(numbers[request.agency_id]),
            issued_on=today,
            due_on=request.cut_date,
        )
        for request in requests
    ]
    InterventionOrder.objects.bulk_create(orders)
    apply_transition_many(
        requests, "order_removal", actor=None, data=[{"order": o.number} for o in orders]
    )
    if render_in_background:
        issue_in_background(DocumentKind.ORDER, [o.pk for o in orders])
    else:
        for order in orders:
            issue_after_commit(DocumentKind.ORDER, order.pk)
    return orders


def removal_order_issue(request: TerminationRequest) -> InterventionOrder:
    """Step 8 for one request, when its settlement comes on or after its cut date."""
    return removal_orders_issue([request])[0]


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
                removal_orders_issue(batch, render_in_background=True)
            issued += len(batch)
        if len(batch) < batch_size:
            break
    if issued:
        logger.info("step 8: %s order(s) issued for %s", issued, today)
    return issued
