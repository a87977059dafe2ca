from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from accounts.rules import StepRefused
from billing.documents import document_issue
from billing.enums import DocumentKind, PaymentMode
from billing.services import document_print_record
from contracts.enums import RequestState, Role, TerminationKind, Timing
from contracts.errors import NotFound
from contracts.models import Deposit, TerminationEvent, TerminationRequest
from procedure import services
from procedure.graph import markdown_table, transition_rows
from procedure.transitions import apply_transition, lock_request
from tests.workflow import (
    ALL_SAFETY_STEPS,
    SUCCESSOR,
    TODAY,
    advance,
    create,
    credit_shown,
    refund_shown,
    reload,
    take_over,
    validate_invoice,
)
from tests.workflow import worked_example_contract as example

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def test_the_graph_is_pinned():
    assert transition_rows() == [
        (2, "take_over", "received", "takeover_invoiced", "reception"),
        (2, "cancel_takeover_invoices", "takeover_invoiced", "received", "supervisor"),
        (3, "issue_order", "received", "order_issued", "reception"),
        (5, "report_field", "order_issued", "field_reported / report_approved", "reader / arpnt"),
        (5, "approve_report", "field_reported", "report_approved", "supervisor"),
        (5, "send_back_field_report", "field_reported", "order_issued", "supervisor"),
        (6, "invoice", "report_approved", "invoiced", "reception"),
        (6, "cancel_balance_invoice", "invoiced", "report_approved", "supervisor"),
        (6, "cancel_balance_invoice_and_send_back", "invoiced", "order_issued", "supervisor"),
        (7, "close_takeover", "takeover_invoiced", "closed", "cashier"),
        (7, "leave_refund_as_credit", "invoiced", "settled", "system"),
        (7, "settle", "invoiced", "settled", "cashier"),
        (7, "transfer_to_recovery", "invoiced", "settled", "system"),
        (8, "order_removal", "settled", "removal_ordered", "system"),
        (9, "confirm_codification_without_removal", "settled", "closed", "acff"),
        (9, "declare_removal_impossible", "removal_ordered", "removal_impossible", "supervisor"),
        (9, "report_removal", "removal_ordered", "meter_removed", "arpnt"),
        (9, "confirm_codification", "meter_removed", "closed", "acff"),
        (9, "send_back_removal_report", "meter_removed", "removal_ordered", "supervisor"),
        (9, "confirm_codification", "removal_impossible", "closed", "acff"),
        (0, "cancel", "received", "cancelled", "reception"),
        (0, "cancel", "order_issued", "cancelled", "reception"),
    ]


def test_the_readme_shows_the_graph():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    assert markdown_table() in readme


def test_the_state_cannot_be_set_by_hand(akpakpa, staff):
    request = create(example(akpakpa), staff)
    with pytest.raises(AttributeError):
        request.state = RequestState.CLOSED


# Each step: the state to reach first, the role that may act, and how to act.
STEPS = {
    "issue_order": (
        RequestState.RECEIVED,
        Role.RECEPTION,
        lambda r, a: services.termination_request_issue_order(
            r, actor=a, timing=Timing.CLASSIC, cut_date=None
        ),
    ),
    "report_field": (
        RequestState.ORDER_ISSUED,
        (Role.READER, Role.ARPNT),  # step 5 names both
        lambda r, a: services.termination_request_report_field(
            r, actor=a, index_read=12300, read_on=TODAY, cut_done=True, cut_index=12300, remarks=[]
        ),
    ),
    "approve_report": (
        RequestState.FIELD_REPORTED,
        Role.SUPERVISOR,
        lambda r, a: services.termination_request_approve_report(r, actor=a),
    ),
    "invoice": (
        RequestState.REPORT_APPROVED,
        Role.RECEPTION,
        lambda r, a: validate_invoice(r, actor=a),
    ),
    "settle": (
        RequestState.INVOICED,
        Role.CASHIER,
        lambda r, a: services.termination_request_settle(
            r.invoices.get(kind="balance"), actor=a, amount=26417, mode=PaymentMode.CASH
        ),
    ),
    "report_removal": (
        RequestState.REMOVAL_ORDERED,
        Role.ARPNT,
        lambda r, a: services.termination_request_report_removal(
            r,
            actor=a,
            index_read=12300,
            read_on=TODAY,
            cut_done=True,
            safety_steps_confirmed=ALL_SAFETY_STEPS,
            remarks=[],
        ),
    ),
    "sign_removal": (
        RequestState.METER_REMOVED,
        Role.SUPERVISOR,
        lambda r, a: services.termination_request_sign_removal(r, actor=a),
    ),
    "cancel": (
        RequestState.RECEIVED,
        Role.RECEPTION,
        lambda r, a: services.termination_request_cancel(r, actor=a, reason="Le client renonce"),
    ),
    # Beyond the happy path (DESIGN §9).
    "record_signature": (
        "printed_unsigned",
        Role.RECEPTION,
        lambda r, a: services.termination_request_record_signature(r, actor=a),
    ),
    "failed_visit": (
        RequestState.ORDER_ISSUED,
        (Role.READER, Role.ARPNT),
        lambda r, a: services.termination_request_record_failed_visit(
            r, actor=a, visited_on=TODAY, reason="absent"
        ),
    ),
    "reschedule_visit": (
        "field_visit_failed",
        Role.RECEPTION,
        lambda r, a: services.termination_request_reschedule_visit(r, actor=a, due_on=TODAY),
    ),
    "reassign_order": (
        RequestState.ORDER_ISSUED,
        (Role.SUPERVISOR, Role.MANAGER),
        lambda r, a: services.termination_request_reassign_order(
            r, actor=a, assignee=r.agency.user_set.filter(groups__name=Role.READER).last()
        ),
    ),
    "send_back_field_report": (
        RequestState.FIELD_REPORTED,
        Role.SUPERVISOR,
        lambda r, a: services.termination_request_send_back_field_report(
            r, actor=a, reason="Index illisible"
        ),
    ),
    "failed_removal_visit": (
        RequestState.REMOVAL_ORDERED,
        Role.ARPNT,
        lambda r, a: services.termination_request_record_failed_visit(
            r, actor=a, visited_on=TODAY, reason="meter_inaccessible"
        ),
    ),
    "reschedule_removal": (
        "removal_visit_failed",
        Role.SUPERVISOR,
        lambda r, a: services.termination_request_reschedule_visit(r, actor=a, due_on=TODAY),
    ),
    "declare_removal_impossible": (
        "removal_failed_three_times",
        Role.SUPERVISOR,
        lambda r, a: services.termination_request_declare_removal_impossible(
            r, actor=a, reason="Compteur emmuré"
        ),
    ),
    "send_back_removal_report": (
        RequestState.METER_REMOVED,
        Role.SUPERVISOR,
        lambda r, a: services.termination_request_send_back_removal_report(
            r, actor=a, reason="Checklist incomplète"
        ),
    ),
    "confirm_codification": (
        "removal_signed",
        Role.ACFF,
        lambda r, a: services.termination_request_confirm_codification(r, actor=a),
    ),
    # The money side (DESIGN §9).
    "cancel_balance_invoice": (
        RequestState.INVOICED,
        Role.SUPERVISOR,
        lambda r, a: services.termination_request_cancel_balance_invoice(
            r, actor=a, reason="Index mal lu", shown=credit_shown(r)
        ),
    ),
    "authorise_refund": (
        "refund_invoiced",
        Role.SUPERVISOR,
        lambda r, a: services.termination_request_authorise_refund(
            r.invoices.get(kind="balance"),
            actor=a,
            shown=refund_shown(r.invoices.get(kind="balance")),
            beneficiary_name="HOUNKPATIN Afi",
            beneficiary_id_document_type="cni",
            beneficiary_id_document_number="3344556677",
            quality="heir",
            proof_reference="Acte 118",
        ),
    ),
    "cancel_takeover_invoices": (
        "takeover_invoiced",
        Role.SUPERVISOR,
        lambda r, a: services.termination_request_cancel_takeover_invoices(
            r, actor=a, reason="Mauvais successeur", shown=credit_shown(r)
        ),
    ),
}


def prepare(request, staff, where: str):
    """Bring the request to a step's starting point: a state, or one of the situations
    beyond the happy path."""
    fail = services.termination_request_record_failed_visit
    match where:
        case "printed_unsigned":
            services.termination_request_issue_order(
                request, actor=staff.reception, timing=Timing.CLASSIC, cut_date=None
            )
            order = request.orders.get()
            document = document_issue(DocumentKind.ORDER, order.pk)
            document_print_record(document, actor=staff.reception)
        case "field_visit_failed":
            request = advance(request, staff, RequestState.ORDER_ISSUED)
            fail(request, actor=staff.reader, visited_on=TODAY, reason="absent")
        case "removal_visit_failed" | "removal_failed_three_times":
            request = advance(request, staff, RequestState.REMOVAL_ORDERED)
            times = 3 if where == "removal_failed_three_times" else 1
            for n in range(times):
                fail(reload(request), actor=staff.arpnt, visited_on=TODAY, reason="absent")
                if n < times - 1:
                    services.termination_request_reschedule_visit(
                        reload(request), actor=staff.supervisor, due_on=TODAY
                    )
        case "refund_invoiced":
            Deposit.objects.filter(contract=request.contract).update(amount=90000)
            request = advance(request, staff, RequestState.INVOICED)
        case "takeover_invoiced":
            services.termination_request_cancel(request, actor=staff.reception, reason="Reprise")
            request = create(request.contract, staff, kind=TerminationKind.WITH_TAKEOVER)
            take_over(request, staff)
        case "removal_signed":
            request = advance(request, staff, RequestState.METER_REMOVED)
            services.termination_request_sign_removal(request, actor=staff.supervisor)
        case _:
            request = advance(request, staff, where)
    return reload(request)


def people(agency, prefix):
    from tests.factories import UserFactory

    return {
        role: UserFactory(username=f"{prefix}-{role}", agency=agency, roles=[role])
        for role in Role.values
    }


@pytest.mark.parametrize("step", STEPS)
def test_only_the_procedures_role_may_act_and_only_in_its_agency(step, akpakpa, parakou, staff):
    where, allowed, act = STEPS[step]
    allowed, *also = allowed if isinstance(allowed, tuple) else (allowed,)
    request = prepare(create(example(akpakpa), staff), staff, where)
    state = request.state
    for role, person in people(akpakpa, "akp").items():
        if role == allowed or role in also:
            continue
        with pytest.raises(PermissionDenied):
            act(reload(request), person)
    outsider = people(parakou, "pko")[allowed]
    with pytest.raises(NotFound):
        act(reload(request), outsider)
    events = request.events.count()
    assert (reload(request).state, request.events.count()) == (state, events)  # nothing changed
    act(reload(request), people(akpakpa, "ok")[allowed])
    assert request.events.count() > events


def test_only_the_acff_confirms_the_codification(akpakpa, parakou, staff):
    request = advance(create(example(akpakpa), staff), staff, RequestState.METER_REMOVED)
    services.termination_request_sign_removal(request, actor=staff.supervisor)
    for role, person in people(akpakpa, "akp").items():
        if role != Role.ACFF:
            with pytest.raises(PermissionDenied):
                services.termination_request_confirm_codification(request, actor=person)
    with pytest.raises(NotFound):
        services.termination_request_confirm_codification(
            request, actor=people(parakou, "pko")[Role.ACFF]
        )
    services.termination_request_confirm_codification(request, actor=staff.acff)
    assert reload(request).state == RequestState.CLOSED


def test_only_reception_takes_a_request_or_a_reprise(akpakpa, parakou, staff):
    contract = example(akpakpa)
    for role, person in people(akpakpa, "akp").items():
        if role != Role.RECEPTION:
            with pytest.raises(PermissionDenied):
                services.termination_request_create(
                    contract,
                    actor=person,
                    kind=TerminationKind.WITH_TAKEOVER,
                    requester_name="X",
                    requester_id_document_type="cni",
                    requester_id_document_number="1",
                    requester_phone="0197000000",
                    requester_quality="holder",
                )
    request = create(contract, staff, kind=TerminationKind.WITH_TAKEOVER)
    reprise = {"successor": SUCCESSOR, "mutation_index": 12300, "mutation_date": TODAY}
    digest = services.termination_request_preview_take_over(
        request, actor=staff.reception, **reprise
    ).digest
    for role, person in people(akpakpa, "akp2").items():
        if role != Role.RECEPTION:
            with pytest.raises(PermissionDenied):
                services.termination_request_preview_take_over(request, actor=person, **reprise)
            with pytest.raises(PermissionDenied):
                services.termination_request_take_over(
                    request, actor=person, preview_digest=digest, **reprise
                )
    outsider = people(parakou, "pko")[Role.RECEPTION]
    with pytest.raises(NotFound):
        services.termination_request_preview_take_over(request, actor=outsider, **reprise)
    with pytest.raises(NotFound):
        services.termination_request_take_over(
            request, actor=outsider, preview_digest=digest, **reprise
        )
    assert reload(request).state == RequestState.RECEIVED


def test_nobody_issues_a_removal_order_by_hand(akpakpa, staff):
    request = advance(create(example(akpakpa), staff), staff, RequestState.REMOVAL_ORDERED)
    request = create(example(akpakpa, number="1010004999"), staff)
    request = advance(request, staff, RequestState.INVOICED, timing=Timing.ANTICIPATED)
    services.termination_request_settle(
        request.invoices.get(kind="balance"),
        actor=staff.cashier,
        amount=26417,
        mode=PaymentMode.CASH,
    )
    for person in people(akpakpa, "akp").values():
        with pytest.raises(PermissionDenied), transaction.atomic():
            apply_transition(lock_request(request.pk), "order_removal", actor=person)


def test_nobody_transfers_a_balance_to_the_apurement_by_hand(akpakpa, staff):
    request = advance(create(example(akpakpa), staff), staff, RequestState.INVOICED)
    for person in people(akpakpa, "akp").values():
        for action in ("transfer_to_recovery", "leave_refund_as_credit"):
            with pytest.raises(PermissionDenied), transaction.atomic():
                apply_transition(lock_request(request.pk), action, actor=person)
    assert reload(request).state == RequestState.INVOICED


def test_a_step_done_twice_is_refused_with_a_clear_message(akpakpa, staff):
    request = advance(create(example(akpakpa), staff), staff, RequestState.FIELD_REPORTED)
    services.termination_request_approve_report(request, actor=staff.supervisor)
    with pytest.raises(StepRefused) as refused:
        services.termination_request_approve_report(request, actor=staff.supervisor)
    assert refused.value.message == (
        "Cette étape n'est pas possible maintenant : la demande est « Compte-rendu approuvé »."
    )
    assert TerminationEvent.objects.filter(request=request, action="approve_report").count() == 1


def test_a_second_open_request_on_a_contract_is_refused(akpakpa, staff):
    contract = example(akpakpa)
    create(contract, staff)
    with pytest.raises(StepRefused) as refused:
        create(contract, staff)
    assert refused.value.message == services.OPEN_REQUEST_EXISTS


def test_the_database_refuses_a_second_open_request(akpakpa, staff):
    request = create(example(akpakpa), staff)
    with pytest.raises(IntegrityError, match="request_one_open_per_contract"), transaction.atomic():
        TerminationRequest.objects.create(
            contract=request.contract,
            agency=akpakpa,
            kind=TerminationKind.WITHOUT_TAKEOVER,
            requester_name="X",
            requester_id_document_type="cni",
            requester_id_document_number="1",
            requester_phone="+2290197000000",
            requester_quality="holder",
            created_by=staff.reception,
        )


def test_a_terminated_contract_cannot_be_terminated_again(akpakpa, staff):
    request = advance(create(example(akpakpa), staff), staff, RequestState.METER_REMOVED)
    services.termination_request_sign_removal(request, actor=staff.supervisor)
    services.termination_request_confirm_codification(request, actor=staff.acff)
    with pytest.raises(StepRefused) as refused:
        create(request.contract, staff)
    assert refused.value.message == services.CONTRACT_NOT_ACTIVE


def test_cancellation_is_refused_once_the_field_report_is_in(akpakpa, staff):
    request = advance(create(example(akpakpa), staff), staff, RequestState.FIELD_REPORTED)
    with pytest.raises(StepRefused):
        services.termination_request_cancel(request, actor=staff.reception, reason="Trop tard")


def test_the_event_log_is_append_only_in_the_database(akpakpa, staff):
    request = create(example(akpakpa), staff)
    event = request.events.get()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        TerminationEvent.objects.filter(pk=event.pk).update(action="forged")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        TerminationEvent.objects.filter(pk=event.pk).delete()
