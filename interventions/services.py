"""Writes on intervention orders, their visits and their reports. Each function runs inside the
step's transaction: the procedure (procedure/services.py) holds the request's lock,
calls these to keep the orders' own records, then moves the request. Each says so
(@in_step_transaction): called outside a transaction, it raises instead of writing."""

import datetime as dt
import hashlib

from django.utils import timezone

from accounts.rules import SOD_REPORT, SOD_REPORT_AGENT, StepRefused, check_other_person
from contracts.database import in_step_transaction
from contracts.enums import Role, Timing, Voltage
from contracts.models import NumberSequence, TerminationRequest, User
from interventions.enums import (
    AWAITING_AGENT,
    REASSIGNABLE,
    REMOVAL_ATTEMPTS_BEFORE_IMPOSSIBLE,
    SAFETY_STEPS,
    OrderKind,
    OrderStatus,
    Remark,
    SignedVia,
    VisitFailure,
)
from interventions.models import (
    InterventionOrder,
    InterventionReport,
    OrderSignature,
    VisitAttempt,
)

DATE_IN_FUTURE = "Cette date ne peut pas être dans le futur."
DATE_BEFORE_ISSUE = "Cette date précède l'émission de l'ordre ({date}) : vérifiez-la."
DATE_BEFORE_EXECUTION = "Cette date précède la date d'exécution de l'ordre ({date}) : vérifiez-la."
CUT_REQUIRED = "Résiliation classique : la coupure doit être effectuée et son index saisi."
CUT_INDEX_REQUIRED = "Saisissez l'index de coupure."
CUT_INDEX_BELOW_READING = (
    "L'index de coupure ({cut}) ne peut pas être inférieur à l'index relevé ({read}) : le "
    "compteur a tourné entre la relève et la coupure, pas à l'envers."
)
OTHER_REMARK_TEXT = "Précisez la remarque « Autre »."
OTHER_REASON_TEXT = "Précisez le motif « Autre »."
SAFETY_STEPS_REQUIRED = "Confirmez chacune des 8 étapes du mode opératoire de dépose."
SEAL_REQUIRED = "Indiquez le numéro du scellé posé à la coupure définitive."
ASSIGNEE_REFUSED = "L'agent désigné doit appartenir à votre agence et avoir le rôle requis."
ASSIGNEE_SAME = "Cet ordre est déjà confié à cet agent."
REMOVAL_NEEDS_CUT = "La dépose suppose la coupure : cochez « Coupure effectuée »."
FINAL_CUT_REQUIRED = "La coupure définitive doit être effectuée : cochez « Coupure effectuée »."
REMOVAL_INDEX_BELOW_BILLED = (
    "L'index de dépose ({index}) est inférieur à l'index facturé ({billed}). "
    "Vérifiez la saisie, ou confirmez un passage du compteur par zéro."
)
ORDER_NOT_WITH_AGENT = "Cet ordre n'attend pas de visite : il est « {status} »."
ORDER_NOT_SIGNED = (
    "Le demandeur n'a pas encore signé l'ordre imprimé : il ne peut pas être exécuté."
)
ORDER_ALREADY_SIGNED = "Le demandeur a déjà signé cet ordre."
ORDER_NOT_PRINTED = (
    "Imprimez d'abord l'ordre : le demandeur signe l'ordre imprimé (bouton « Imprimer »)."
)
NOT_AFTER_FAILED_VISIT = "Cet ordre n'a pas de visite infructueuse à reprogrammer."
NEW_DATE_PAST = "La nouvelle date d'exécution ne peut pas être dans le passé."
NOT_REASSIGNABLE = "Cet ordre n'est plus ouvert : il ne peut pas être réaffecté."
TOO_FEW_ATTEMPTS = (
    "La dépose ne peut être déclarée impossible qu'après {needed} visites infructueuses "
    "({done} à ce jour)."
)
REASON_REQUIRED = "Indiquez le motif."
REPORT_ALREADY_SIGNED = "Ce compte-rendu est déjà signé : il ne peut plus être renvoyé."
AGENT_REFUSED = (
    "L'agent de l'intervention doit appartenir à votre agence et avoir le rôle de cet ordre."
)
READING_BY_ITS_AGENT = (
    "Un relevé d'index (résiliation anticipée) est saisi par l'agent qui l'a fait, sans ordre "
    "papier à reporter : il ne se saisit pas pour un autre."
)
NOT_AWAITING_AGENT_SIGNATURE = "Ce compte-rendu n'attend pas la signature de l'agent."
NOT_THE_AGENT = "Seul {agent}, agent de l'intervention, peut signer ce compte-rendu comme le sien."
AWAITS_AGENT_SIGNATURE = (
    "Le compte-rendu attend d'abord la signature de {agent}, l'agent de l'intervention."
)

# Step 5 names the reader (agent de relève, chef releveur) and the ARPNT agent; steps 8-9 the
# ARPNT crew.
FIELD_AGENT_ROLES = (Role.READER, Role.ARPNT)
REMOVAL_AGENT_ROLES = (Role.ARPNT,)


def agent_roles(order: InterventionOrder) -> tuple[str, ...]:
    """Who goes on site: a reader or an ARPNT agent for step 3's order, an ARPNT crew for step
    8's."""
    return FIELD_AGENT_ROLES if order.is_field_order else REMOVAL_AGENT_ROLES


def check_assignee(assignee: User | None, agency_id: int, *roles: str) -> None:
    if assignee is not None and (
        assignee.agency_id != agency_id or not assignee.is_active or not assignee.has_role(*roles)
    ):
        raise StepRefused(ASSIGNEE_REFUSED, field="assignee")


def check_visit_date(order: InterventionOrder, day: dt.date, *, field: str) -> None:
    """A visit or a report is dated between its order and today: never before the order was
    issued, never before a removal or final interruption order's execution date, never later
    than today."""
    if day > timezone.localdate():
        raise StepRefused(DATE_IN_FUTURE, field=field)
    if day < order.issued_on:
        raise StepRefused(DATE_BEFORE_ISSUE.format(date=f"{order.issued_on:%d/%m/%Y}"), field=field)
    if not order.is_field_order and day < order.due_on:
        raise StepRefused(
            DATE_BEFORE_EXECUTION.format(date=f"{order.due_on:%d/%m/%Y}"), field=field
        )


def check_with_agent(order: InterventionOrder) -> None:
    """The order is in the field agent's hands: issued (signed by the requester, for step 3's
    order) or returned for correction."""
    if order.status not in AWAITING_AGENT:
        raise StepRefused(ORDER_NOT_WITH_AGENT.format(status=order.get_status_display().lower()))
    if order.is_field_order and not order.is_signed_by_requester:
        raise StepRefused(ORDER_NOT_SIGNED)


# --- Orders ----------------------------------------------------------------------------------


@in_step_transaction
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
        assigned_at=timezone.now() if assignee else None,
        issued_by=actor,
    )


@in_step_transaction
def field_order_issue(
    request: TerminationRequest, *, actor: User, assignee: User | None
) -> InterventionOrder:
    """Step 3's order: interruption and reading (classic) or reading only (anticipated)."""
    check_assignee(assignee, request.agency_id, *FIELD_AGENT_ROLES)
    kind = (
        OrderKind.READING
        if request.timing == Timing.ANTICIPATED
        else OrderKind.INTERRUPTION_READING
    )
    return order_issue(
        request, kind=kind, due_on=timezone.localdate(), actor=actor, assignee=assignee
    )


@in_step_transaction
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
            due_on=max(request.cut_date, today),
        )
        for request in requests
    ]
    return InterventionOrder.objects.bulk_create(orders)


@in_step_transaction
def order_record_requester_signature(
    order: InterventionOrder, *, actor: User, printed: bool
) -> InterventionOrder:
    """Step 3: the requester signed the printed order, as reception saw."""
    if order.is_signed_by_requester:
        raise StepRefused(ORDER_ALREADY_SIGNED)
    if order.status != OrderStatus.ISSUED:
        raise StepRefused(ORDER_NOT_WITH_AGENT.format(status=order.get_status_display().lower()))
    if not printed:
        raise StepRefused(ORDER_NOT_PRINTED)
    order.requester_signed_at = timezone.now()
    order.requester_signature_recorded_by = actor
    order.save(update_fields=["requester_signed_at", "requester_signature_recorded_by"])
    return order


PNG = b"\x89PNG\r\n\x1a\n"
DRAWING_MAX = 300_000  # bytes: a signature drawn on a screen is a few kilobytes
DRAWING_INVALID = "La signature dessinée est illisible : effacez-la et signez de nouveau."


@in_step_transaction
def order_signature_record(
    order: InterventionOrder, *, drawing: bytes, document_sha256: str, signer: str, actor: User
) -> OrderSignature:
    """The requester's drawn signature of the order whose stored PDF has `document_sha256`,
    witnessed by `actor`."""
    if not drawing.startswith(PNG) or not 100 < len(drawing) <= DRAWING_MAX:
        raise StepRefused(DRAWING_INVALID)
    return OrderSignature.objects.create(
        order=order,
        drawing=drawing,
        drawing_sha256=hashlib.sha256(drawing).hexdigest(),
        document_sha256=document_sha256,
        signer_name=signer,
        witnessed_by=actor,
    )


@in_step_transaction
def order_reassign(order: InterventionOrder, *, assignee: User) -> User | None:
    """Hand an open order to another agent of the agency who holds the order's role. Returns
    the previous agent."""
    if order.status not in REASSIGNABLE:
        raise StepRefused(NOT_REASSIGNABLE)
    check_assignee(assignee, order.agency_id, *agent_roles(order))
    if order.assignee_id == assignee.pk:
        raise StepRefused(ASSIGNEE_SAME, field="assignee")
    previous = order.assignee
    order.assignee = assignee
    order.assigned_at = timezone.now()
    order.reassignments += 1
    order.save(update_fields=["assignee", "assigned_at", "reassignments"])
    return previous


# --- Visits ----------------------------------------------------------------------------------


@in_step_transaction
def visit_failure_record(
    order: InterventionOrder,
    *,
    actor: User,
    visited_on: dt.date,
    reason: str,
    reason_detail: str = "",
) -> VisitAttempt:
    """A visit that could not be done: the order waits for a new execution date."""
    check_with_agent(order)
    if reason not in VisitFailure.values:
        raise StepRefused(REASON_REQUIRED, field="reason")
    if reason == VisitFailure.OTHER and not reason_detail.strip():
        raise StepRefused(OTHER_REASON_TEXT, field="reason_detail")
    check_visit_date(order, visited_on, field="visited_on")
    attempt = VisitAttempt.objects.create(
        order=order,
        visited_on=visited_on,
        reason=reason,
        reason_detail=reason_detail.strip(),
        entered_by=actor,
    )
    order.status = OrderStatus.VISIT_FAILED
    order.save(update_fields=["status"])
    return attempt


@in_step_transaction
def visit_reschedule(order: InterventionOrder, *, actor: User, due_on: dt.date) -> VisitAttempt:
    """A new execution date after a failed visit: the order returns to its agent's queue."""
    if order.status != OrderStatus.VISIT_FAILED:
        raise StepRefused(NOT_AFTER_FAILED_VISIT)
    if due_on < timezone.localdate():
        raise StepRefused(NEW_DATE_PAST, field="due_on")
    attempt = order.attempts.select_for_update().filter(rescheduled_to__isnull=True).last()
    attempt.rescheduled_to = due_on
    attempt.rescheduled_by = actor
    attempt.rescheduled_at = timezone.now()
    attempt.save(update_fields=["rescheduled_to", "rescheduled_by", "rescheduled_at"])
    order.due_on = due_on
    order.status = OrderStatus.ISSUED
    order.save(update_fields=["due_on", "status"])
    return attempt


@in_step_transaction
def order_close_impossible(order: InterventionOrder, *, actor: User, reason: str) -> None:
    """After repeated failed visits, the removal (or final interruption) is closed as
    impossible: the supply is cut at the connection (coupure au branchement)."""
    if order.status != OrderStatus.VISIT_FAILED:
        raise StepRefused(ORDER_NOT_WITH_AGENT.format(status=order.get_status_display().lower()))
    done = order.attempts.count()
    if done < REMOVAL_ATTEMPTS_BEFORE_IMPOSSIBLE:
        raise StepRefused(
            TOO_FEW_ATTEMPTS.format(needed=REMOVAL_ATTEMPTS_BEFORE_IMPOSSIBLE, done=done)
        )
    if not reason.strip():
        raise StepRefused(REASON_REQUIRED, field="reason")
    order.status = OrderStatus.IMPOSSIBLE
    order.closure_reason = reason.strip()
    order.closed_by = actor
    order.closed_at = timezone.now()
    order.save(update_fields=["status", "closure_reason", "closed_by", "closed_at"])


# --- Reports ---------------------------------------------------------------------------------


def _check_remarks(remarks: list[str], remarks_other: str) -> None:
    if Remark.OTHER in remarks and not remarks_other.strip():
        raise StepRefused(OTHER_REMARK_TEXT, field="remarks_other")


def field_report_check(
    order: InterventionOrder,
    *,
    index_read: int,
    read_on: dt.date,
    cut_done: bool,
    cut_index: int | None,
    remarks: list[str],
    remarks_other: str,
) -> None:
    """What a step-3 order's report must hold before its reading is checked against the
    contract."""
    check_with_agent(order)
    if order.kind == OrderKind.INTERRUPTION_READING:
        if not cut_done:
            raise StepRefused(CUT_REQUIRED, field="cut_done")
        if cut_index is None:
            raise StepRefused(CUT_INDEX_REQUIRED, field="cut_index")
    if cut_done and cut_index is not None and cut_index < index_read:
        raise StepRefused(
            CUT_INDEX_BELOW_READING.format(cut=cut_index, read=index_read), field="cut_index"
        )
    check_visit_date(order, read_on, field="read_on")
    _check_remarks(remarks, remarks_other)


def _report_agent(order: InterventionOrder, actor: User, agent: User | None) -> User:
    """The agent who did the work: the one entering the report, or the agent on whose behalf
    it is entered from the signed paper order (never for a reading alone)."""
    if agent is None or agent.pk == actor.pk:
        return actor
    if order.kind == OrderKind.READING:
        raise StepRefused(READING_BY_ITS_AGENT, field="agent")
    if (
        agent.agency_id != order.agency_id
        or not agent.is_active
        or not agent.has_role(*agent_roles(order))
    ):
        raise StepRefused(AGENT_REFUSED, field="agent")
    return agent


def _report_authored(
    order: InterventionOrder, actor: User, agent: User, via: str
) -> tuple[dict, str]:
    """The report's author and signature fields, and the order's status after it: signed at
    once by an agent entering their own report; entered on behalf of another, it waits for
    theirs. The order goes to the agent who did the work."""
    if order.assignee_id != agent.pk:
        if order.assignee_id is not None:
            order.reassignments += 1
        order.assignee = agent
        order.assigned_at = timezone.now()
    if agent.pk == actor.pk:
        fields = {"agent": agent, "agent_signed_at": timezone.now(), "agent_signed_via": via}
        return fields, OrderStatus.REPORTED
    return {"agent": agent}, OrderStatus.UNSIGNED


@in_step_transaction
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
    agent: User | None = None,
    via: str = SignedVia.WEB,
) -> InterventionReport:
    """Steps 4-5: the report on the step-3 order (locked by the caller), by the agent who did
    the work (their signature), or on their behalf from the paper order (theirs awaited)."""
    field_report_check(
        order,
        index_read=index_read,
        read_on=read_on,
        cut_done=cut_done,
        cut_index=cut_index,
        remarks=remarks,
        remarks_other=remarks_other,
    )
    agent = _report_agent(order, actor, agent)
    authored, status = _report_authored(order, actor, agent, via)
    report = InterventionReport.objects.create(
        order=order,
        index_read=index_read,
        read_on=read_on,
        cut_done=cut_done,
        cut_index=cut_index if cut_done else None,
        rollover_confirmed=rollover_confirmed,
        high_consumption_confirmed=high_consumption_confirmed,
        remarks=remarks,
        remarks_other=remarks_other.strip(),
        entered_by=actor,
        **authored,
    )
    # Anticipated: the reading report alone, the order is filed. Classic: it awaits signature.
    order.status = status
    if order.kind == OrderKind.READING:
        order.status = OrderStatus.FILED
        order.filed_at = timezone.now()
    order.save(update_fields=["status", "filed_at", "assignee", "assigned_at", "reassignments"])
    return report


@in_step_transaction
def report_in_force(order: InterventionOrder) -> InterventionReport:
    return InterventionReport.objects.select_for_update().get(
        order=order, superseded_at__isnull=True
    )


@in_step_transaction
def report_agent_sign(order: InterventionOrder, *, actor: User, via: str) -> InterventionReport:
    """The field agent signs, as theirs, the report entered on their behalf from the paper
    order."""
    report = report_in_force(order)
    if order.status != OrderStatus.UNSIGNED or report.agent_signed_at is not None:
        raise StepRefused(NOT_AWAITING_AGENT_SIGNATURE)
    if report.agent_id != actor.pk:
        raise StepRefused(NOT_THE_AGENT.format(agent=report.agent.display_name))
    report.agent_signed_at = timezone.now()
    report.agent_signed_via = via
    report.save(update_fields=["agent_signed_at", "agent_signed_via"])
    order.status = OrderStatus.REPORTED
    order.save(update_fields=["status"])
    return report


@in_step_transaction
def report_sign(order: InterventionOrder, *, actor: User) -> InterventionReport:
    """The responsable hiérarchique checks and signs the order's report, once its agent has:
    never the one who entered it, nor the one who did the work. The interruption order is
    then filed (classé); a removal order is filed at the codification."""
    report = report_in_force(order)
    if report.agent_signed_at is None:
        raise StepRefused(AWAITS_AGENT_SIGNATURE.format(agent=report.agent.display_name))
    check_other_person(actor, report.entered_by_id, SOD_REPORT)
    check_other_person(actor, report.agent_id, SOD_REPORT_AGENT)
    report.signed_by = actor
    report.signed_at = timezone.now()
    report.save(update_fields=["signed_by", "signed_at"])
    order.status = OrderStatus.SIGNED
    if order.kind == OrderKind.INTERRUPTION_READING:
        order.status = OrderStatus.FILED
        order.filed_at = report.signed_at
    order.save(update_fields=["status", "filed_at"])
    return report


@in_step_transaction
def report_send_back(order: InterventionOrder, *, actor: User, reason: str) -> InterventionReport:
    """Instead of signing: the report is kept, marked superseded, and the order returns to its
    agent for a corrected report."""
    if not reason.strip():
        raise StepRefused(REASON_REQUIRED, field="reason")
    report = report_in_force(order)
    if report.signed_at is not None:
        raise StepRefused(REPORT_ALREADY_SIGNED)
    report.superseded_at = timezone.now()
    report.superseded_by = actor
    report.superseded_reason = reason.strip()
    report.save(update_fields=["superseded_at", "superseded_by", "superseded_reason"])
    order.status = OrderStatus.RETURNED
    order.save(update_fields=["status"])
    return report


@in_step_transaction
def report_reopen(order: InterventionOrder, *, actor: User, reason: str) -> InterventionReport:
    """A report already signed or filed turns out wrong after its invoice (cancelled by a
    credit note): it is kept, marked superseded, and the order returns to its agent."""
    report = report_in_force(order)
    report.superseded_at = timezone.now()
    report.superseded_by = actor
    report.superseded_reason = reason.strip()
    report.save(update_fields=["superseded_at", "superseded_by", "superseded_reason"])
    order.status = OrderStatus.RETURNED
    order.save(update_fields=["status"])
    return report


@in_step_transaction
def removal_report_enter(
    order: InterventionOrder,
    *,
    actor: User,
    billed_index: int,
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
    """Step 9: the crew's report on the removal order (BT: the annex's 8 safety steps), or on
    the final interruption order (MT: the seal put on the cut, no removal), by the agent who
    did the work (their signature) or on their behalf from the paper (theirs awaited)."""
    check_with_agent(order)
    safety_steps = sorted(set(safety_steps_confirmed or []))
    if order.kind == OrderKind.REMOVAL:
        if safety_steps != list(range(1, len(SAFETY_STEPS) + 1)):
            raise StepRefused(SAFETY_STEPS_REQUIRED, field="safety_steps_confirmed")
        if not cut_done:
            raise StepRefused(REMOVAL_NEEDS_CUT, field="cut_done")
        seal_number = ""
    else:
        safety_steps = []
        if not cut_done:
            raise StepRefused(FINAL_CUT_REQUIRED, field="cut_done")
        if not seal_number.strip():
            raise StepRefused(SEAL_REQUIRED, field="seal_number")
    check_visit_date(order, read_on, field="read_on")
    _check_remarks(remarks, remarks_other)
    if index_read < billed_index and not rollover_confirmed:
        raise StepRefused(
            REMOVAL_INDEX_BELOW_BILLED.format(index=index_read, billed=billed_index),
            field="index_read",
        )
    agent = _report_agent(order, actor, agent)
    authored, status = _report_authored(order, actor, agent, via)
    report = InterventionReport.objects.create(
        order=order,
        index_read=index_read,
        read_on=read_on,
        cut_done=cut_done,
        cut_index=index_read,
        seal_number=seal_number.strip(),
        rollover_confirmed=rollover_confirmed,
        remarks=remarks,
        remarks_other=remarks_other.strip(),
        safety_steps_confirmed=safety_steps,
        entered_by=actor,
        **authored,
    )
    order.status = status
    order.save(update_fields=["status", "assignee", "assigned_at", "reassignments"])
    return report
