"""Writes on intervention orders and reports. Each function runs inside the step's transaction:
the procedure (contracts/procedure/services.py) holds the request's lock, calls these to keep
the orders' own records, then moves the request."""

import datetime as dt

from django.utils import timezone

from contracts.enums import Role, Timing, Voltage
from contracts.models import NumberSequence, TerminationRequest, User
from contracts.rules import StepRefused
from interventions.enums import SAFETY_STEPS, OrderKind, OrderStatus, Remark
from interventions.models import InterventionOrder, InterventionReport

READ_IN_FUTURE = "La date du relevé ne peut pas être dans le futur."
CUT_REQUIRED = "Résiliation classique : la coupure doit être effectuée et son index saisi."
CUT_INDEX_REQUIRED = "Saisissez l'index de coupure."
OTHER_REMARK_TEXT = "Précisez la remarque « Autre »."
SAFETY_STEPS_REQUIRED = "Confirmez chacune des 8 étapes du mode opératoire de dépose."
ASSIGNEE_REFUSED = "L'agent désigné doit appartenir à votre agence et avoir le rôle requis."
REMOVAL_NEEDS_CUT = "La dépose suppose la coupure : cochez « Coupure effectuée »."
REMOVAL_INDEX_BELOW_BILLED = (
    "L'index de dépose ({index}) est inférieur à l'index facturé ({billed}). "
    "Vérifiez la saisie, ou confirmez un passage du compteur par zéro."
)


def check_assignee(assignee: User | None, agency_id: int, *roles: str) -> None:
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
    return InterventionOrder.objects.create(
        request=request,
        agency=request.agency,
        kind=kind,
        number=NumberSequence.next("OI", request.agency, today.year),
        issued_on=today,
        due_on=due_on,
        assignee=assignee,
        issued_by=actor,
    )


def field_order_issue(
    request: TerminationRequest, *, actor: User, assignee: User | None
) -> InterventionOrder:
    """Step 3's order: interruption and reading (classic) or reading only (anticipated)."""
    check_assignee(assignee, request.agency_id, Role.READER)
    kind = (
        OrderKind.READING
        if request.timing == Timing.ANTICIPATED
        else OrderKind.INTERRUPTION_READING
    )
    return order_issue(
        request, kind=kind, due_on=timezone.localdate(), actor=actor, assignee=assignee
    )


def removal_orders_create(requests: list[TerminationRequest]) -> list[InterventionOrder]:
    """Step 8's orders for requests the caller has locked: removal (BT) or final interruption
    (MT), numbered in order. The morning run creates thousands at once: one numbering lock per
    agency and one bulk insert."""
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
    return InterventionOrder.objects.bulk_create(orders)


def _check_remarks(remarks: list[str], remarks_other: str) -> None:
    if Remark.OTHER in remarks and not remarks_other.strip():
        raise StepRefused(OTHER_REMARK_TEXT, field="remarks_other")


def field_report_check(
    order: InterventionOrder, *, cut_done: bool, cut_index: int | None, remarks, remarks_other
) -> None:
    """What a step-3 order's report must hold before its reading is checked."""
    if order.kind == OrderKind.INTERRUPTION_READING:
        if not cut_done:
            raise StepRefused(CUT_REQUIRED, field="cut_done")
        if cut_index is None:
            raise StepRefused(CUT_INDEX_REQUIRED, field="cut_index")
    _check_remarks(remarks, remarks_other)


def field_report_enter(
    order: InterventionOrder,
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
    """Steps 4-5: the reader's report on the step-3 order (locked by the caller)."""
    field_report_check(
        order, cut_done=cut_done, cut_index=cut_index, remarks=remarks, remarks_other=remarks_other
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
    order: InterventionOrder,
    *,
    actor: User,
    billed_index: int,
    index_read: int,
    read_on: dt.date,
    cut_done: bool,
    safety_steps_confirmed: list[int],
    remarks: list[str],
    remarks_other: str = "",
    rollover_confirmed: bool = False,
) -> InterventionReport:
    """Step 9: the crew's report on the removal (or final interruption) order."""
    if order.kind == OrderKind.REMOVAL and sorted(set(safety_steps_confirmed)) != list(
        range(1, len(SAFETY_STEPS) + 1)
    ):
        raise StepRefused(SAFETY_STEPS_REQUIRED, field="safety_steps_confirmed")
    if not cut_done:
        raise StepRefused(REMOVAL_NEEDS_CUT, field="cut_done")
    _check_remarks(remarks, remarks_other)
    if read_on > timezone.localdate():
        raise StepRefused(READ_IN_FUTURE, field="read_on")
    if index_read < billed_index and not rollover_confirmed:
        raise StepRefused(
            REMOVAL_INDEX_BELOW_BILLED.format(index=index_read, billed=billed_index),
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
    return report
