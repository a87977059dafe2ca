"""Field work beyond the happy path: failed visits and new dates, reassignment, removals that
cannot be done, and reports that must hold together (DESIGN §9)."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from accounts.rules import StepRefused
from contracts.enums import MeterStatus, RequestState, Role, Timing
from interventions import services as interventions
from interventions.enums import OrderKind, OrderStatus, VisitFailure
from interventions.models import InterventionReport, VisitAttempt
from procedure import services
from procedure.selectors import work_queue
from tests.factories import UserFactory
from tests.workflow import (
    ALL_SAFETY_STEPS,
    TODAY,
    advance,
    create,
    issue_and_sign,
    mt_example_contract,
    mt_until_settled,
    reload,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def ordered(akpakpa, staff):
    """A BT classic request whose signed order waits for the reader."""
    request = create(worked_example_contract(akpakpa), staff)
    return advance(request, staff, RequestState.ORDER_ISSUED)


def tasks(user, request):
    return [item.task for item in work_queue(user, TODAY) if item.request_id == request.pk]


def fail(request, actor, *, reason=VisitFailure.ABSENT, on=TODAY, detail=""):
    return services.termination_request_record_failed_visit(
        request, actor=actor, visited_on=on, reason=reason, reason_detail=detail
    )


def report(request, staff, *, index=12300, cut=12300, on=TODAY):
    return services.termination_request_report_field(
        request,
        actor=staff.reader,
        index_read=index,
        read_on=on,
        cut_done=True,
        cut_index=cut,
        remarks=[],
    )


# --- Failed visits on step 3's order ----------------------------------------------------------


def test_a_failed_visit_keeps_the_order_open_and_waits_for_a_new_date(ordered, staff):
    assert tasks(staff.reader, ordered) == ["Saisir le compte-rendu d'intervention"]
    attempt = fail(ordered, staff.reader)
    order = ordered.orders.get()
    assert (order.status, attempt.visited_on, attempt.rescheduled_to) == (
        OrderStatus.VISIT_FAILED,
        TODAY,
        None,
    )
    assert reload(ordered).state == RequestState.ORDER_ISSUED
    assert tasks(staff.reader, ordered) == []
    assert tasks(staff.reception, ordered) == ["Visite infructueuse : fixer une nouvelle date"]
    with pytest.raises(StepRefused) as refused:
        report(ordered, staff)
    assert refused.value.message == interventions.ORDER_NOT_WITH_AGENT.format(
        status="visite infructueuse, à reprogrammer"
    )

    services.termination_request_reschedule_visit(
        ordered, actor=staff.reception, due_on=TODAY + dt.timedelta(days=2)
    )
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert (order.status, order.due_on) == (OrderStatus.ISSUED, TODAY + dt.timedelta(days=2))
    assert (attempt.rescheduled_to, attempt.rescheduled_by) == (
        TODAY + dt.timedelta(days=2),
        staff.reception,
    )
    assert tasks(staff.reader, ordered) == ["Saisir le compte-rendu d'intervention"]
    assert [e.action for e in ordered.events.filter(step=4)] == [
        "visit_failed",
        "visit_rescheduled",
    ]


def test_two_failed_visits_then_the_report_and_the_invoice(ordered, staff):
    fail(ordered, staff.reader, reason=VisitFailure.ABSENT)
    services.termination_request_reschedule_visit(ordered, actor=staff.reception, due_on=TODAY)
    fail(ordered, staff.reader, reason=VisitFailure.OTHER, detail="Chien dangereux en liberté")
    services.termination_request_reschedule_visit(ordered, actor=staff.reception, due_on=TODAY)
    report(ordered, staff)
    request = advance(ordered, staff, RequestState.INVOICED)
    assert request.invoices.get(kind="balance").total == 49417
    attempts = list(ordered.orders.get().attempts.values_list("reason", "reason_detail"))
    assert attempts == [("absent", ""), ("other", "Chien dangereux en liberté")]


def test_a_failed_visit_needs_its_reason_and_a_plausible_date(ordered, staff):
    with pytest.raises(StepRefused) as refused:
        fail(ordered, staff.reader, reason=VisitFailure.OTHER)
    assert (refused.value.message, refused.value.field) == (
        interventions.OTHER_REASON_TEXT,
        "reason_detail",
    )
    with pytest.raises(StepRefused) as refused:
        fail(ordered, staff.reader, on=TODAY + dt.timedelta(days=1))
    assert refused.value.message == interventions.DATE_IN_FUTURE
    with pytest.raises(StepRefused) as refused:
        fail(ordered, staff.reader, on=TODAY - dt.timedelta(days=1))
    assert refused.value.message == interventions.DATE_BEFORE_ISSUE.format(date="30/11/2026")
    assert not VisitAttempt.objects.exists()


def test_the_new_date_is_set_by_reception_for_step_3_today_or_later(ordered, staff):
    with pytest.raises(StepRefused) as refused:
        services.termination_request_reschedule_visit(ordered, actor=staff.reception, due_on=TODAY)
    assert refused.value.message == interventions.NOT_AFTER_FAILED_VISIT
    fail(ordered, staff.reader)
    with pytest.raises(PermissionDenied):
        services.termination_request_reschedule_visit(ordered, actor=staff.supervisor, due_on=TODAY)
    with pytest.raises(StepRefused) as refused:
        services.termination_request_reschedule_visit(
            ordered, actor=staff.reception, due_on=TODAY - dt.timedelta(days=1)
        )
    assert refused.value.message == interventions.NEW_DATE_PAST
    with pytest.raises(PermissionDenied):  # only a field agent visits
        fail(ordered, staff.cashier)


def test_the_database_keeps_a_failed_visit_as_recorded(ordered, staff):
    attempt = fail(ordered, staff.reader)
    with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
        VisitAttempt.objects.filter(pk=attempt.pk).update(reason=VisitFailure.DANGER)
    with pytest.raises(IntegrityError, match="DELETE refused"), transaction.atomic():
        VisitAttempt.objects.filter(pk=attempt.pk).delete()


# --- Reassignment -----------------------------------------------------------------------------


def test_the_supervisor_hands_the_order_to_another_reader(akpakpa, parakou, staff):
    request = create(worked_example_contract(akpakpa), staff)
    issue_and_sign(request, staff, assignee=staff.reader)
    other = UserFactory(
        username="akp.releve2",
        first_name="Rodrigue",
        last_name="AGBO",
        agency=akpakpa,
        roles=[Role.READER],
    )
    assert tasks(other, request) == []
    services.termination_request_reassign_order(request, actor=staff.supervisor, assignee=other)
    order = request.orders.get()
    assert order.assignee == other
    assert tasks(other, request) == ["Saisir le compte-rendu d'intervention"]
    assert tasks(staff.reader, request) == []
    assert [item.agent for item in work_queue(other, TODAY)] == ["Rodrigue AGBO"]
    event = request.events.get(action="order_reassigned")
    assert event.data == {"order": order.number, "from": "Sènami ADJOVI", "to": "Rodrigue AGBO"}

    with pytest.raises(StepRefused) as refused:
        services.termination_request_reassign_order(request, actor=staff.supervisor, assignee=other)
    assert refused.value.message == interventions.ASSIGNEE_SAME
    stranger = UserFactory(username="pko.releve", agency=parakou, roles=[Role.READER])
    for wrong in (stranger, staff.cashier):  # step 5 names the ARPNT agent: not wrong
        with pytest.raises(StepRefused) as refused:
            services.termination_request_reassign_order(
                request, actor=staff.supervisor, assignee=wrong
            )
        assert refused.value.message == interventions.ASSIGNEE_REFUSED
    with pytest.raises(PermissionDenied):
        services.termination_request_reassign_order(request, actor=staff.reception, assignee=other)


# --- Consistency of a report ------------------------------------------------------------------


def test_the_cut_index_is_never_below_the_index_read(ordered, staff):
    with pytest.raises(StepRefused) as refused:
        report(ordered, staff, index=12310, cut=12300)
    assert (refused.value.message, refused.value.field) == (
        interventions.CUT_INDEX_BELOW_READING.format(cut=12300, read=12310),
        "cut_index",
    )
    report(ordered, staff, index=12300, cut=12310)
    request = advance(ordered, staff, RequestState.INVOICED)
    assert request.invoices.get(kind="balance").new_index == 12310  # the invoice uses the cut
    with (
        pytest.raises(IntegrityError, match="report_cut_index_not_below_reading"),
        transaction.atomic(),
    ):
        InterventionReport.objects.create(
            order=request.orders.create(
                agency=request.agency,
                kind=OrderKind.REMOVAL,
                number="X",
                issued_on=TODAY,
                due_on=TODAY,
            ),
            index_read=100,
            read_on=TODAY,
            cut_done=True,
            cut_index=99,
            entered_by=staff.reader,
            agent=staff.reader,
        )


def test_a_report_is_never_dated_in_the_future_nor_before_its_order(ordered, staff):
    with pytest.raises(StepRefused) as refused:
        report(ordered, staff, on=TODAY + dt.timedelta(days=1))
    assert refused.value.field == "read_on"
    with pytest.raises(StepRefused) as refused:
        report(ordered, staff, on=TODAY - dt.timedelta(days=3))
    assert refused.value.message == interventions.DATE_BEFORE_ISSUE.format(date="30/11/2026")


@pytest.fixture
def removal(akpakpa, staff):
    """A BT anticipated request whose removal order was issued on its cut date (10/12/2026)."""
    request = create(worked_example_contract(akpakpa), staff)
    request = advance(request, staff, RequestState.INVOICED, timing=Timing.ANTICIPATED)
    services.termination_request_settle(
        request.invoices.get(kind="balance"), actor=staff.cashier, amount=26417, mode="cash"
    )
    with time_machine.travel(dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC), tick=False):
        services.issue_due_orders()
    return reload(request)


def at(day: int):
    return time_machine.travel(dt.datetime(2026, 12, day, 9, 0, tzinfo=dt.UTC), tick=False)


def removal_report(request, staff, *, on, index=12360):
    return services.termination_request_report_removal(
        request,
        actor=staff.arpnt,
        index_read=index,
        read_on=on,
        cut_done=True,
        safety_steps_confirmed=ALL_SAFETY_STEPS,
        remarks=[],
    )


def test_a_removal_is_never_reported_before_its_execution_date(removal, staff):
    order = removal.orders.get(kind=OrderKind.REMOVAL)
    assert (order.issued_on, order.due_on) == (dt.date(2026, 12, 10), dt.date(2026, 12, 10))
    with at(12), pytest.raises(StepRefused) as refused:
        removal_report(removal, staff, on=dt.date(2026, 12, 9))
    assert refused.value.message == interventions.DATE_BEFORE_ISSUE.format(date="10/12/2026")
    with at(12):
        fail(removal, staff.arpnt, on=dt.date(2026, 12, 12))
        services.termination_request_reschedule_visit(
            removal, actor=staff.supervisor, due_on=dt.date(2026, 12, 15)
        )
    with at(16), pytest.raises(StepRefused) as refused:
        removal_report(removal, staff, on=dt.date(2026, 12, 14))
    assert refused.value.message == interventions.DATE_BEFORE_EXECUTION.format(date="15/12/2026")
    with at(16):
        removal_report(removal, staff, on=dt.date(2026, 12, 16))
    assert reload(removal).state == RequestState.METER_REMOVED


# --- Removal impossible -----------------------------------------------------------------------


def test_after_three_failed_removal_visits_the_supervisor_closes_it_and_the_acff_codifies(
    removal, staff
):
    for n, day in enumerate((11, 12, 13), start=1):
        with at(day):
            fail(
                removal, staff.arpnt, reason=VisitFailure.ACCESS_REFUSED, on=dt.date(2026, 12, day)
            )
            if n == 3:
                break
            with pytest.raises(StepRefused) as refused:
                services.termination_request_declare_removal_impossible(
                    removal, actor=staff.supervisor, reason="Refus répétés"
                )
            assert refused.value.message == interventions.TOO_FEW_ATTEMPTS.format(needed=3, done=n)
            next_day = dt.date(2026, 12, day + 1)
            with pytest.raises(PermissionDenied):  # the removal's new date is the supervisor's
                services.termination_request_reschedule_visit(
                    removal, actor=staff.reception, due_on=next_day
                )
            services.termination_request_reschedule_visit(
                removal, actor=staff.supervisor, due_on=next_day
            )
    assert tasks(staff.supervisor, removal) == ["Visite infructueuse : fixer une nouvelle date"]
    with at(13):
        with pytest.raises(StepRefused) as refused:
            services.termination_request_declare_removal_impossible(
                removal, actor=staff.supervisor, reason="  "
            )
        assert refused.value.message == interventions.REASON_REQUIRED
        services.termination_request_declare_removal_impossible(
            removal, actor=staff.supervisor, reason="Accès refusé par le propriétaire"
        )
        request = reload(removal)
        assert request.state == RequestState.REMOVAL_IMPOSSIBLE
        assert request.state_label == "Dépose impossible (coupure au branchement)"
        assert tasks(staff.acff, request) == [
            "Confirmer la codification (intervention impossible, coupure au branchement)"
        ]
        services.termination_request_confirm_codification(request, actor=staff.acff)
    request = reload(removal)
    order = request.orders.get(kind=OrderKind.REMOVAL)
    assert (request.state, order.status, order.closure_reason) == (
        RequestState.CLOSED,
        OrderStatus.IMPOSSIBLE,
        "Accès refusé par le propriétaire",
    )
    contract = request.contract
    contract.refresh_from_db()
    assert (contract.status, contract.end_date) == ("terminated", dt.date(2026, 12, 13))
    assert contract.meter.status == MeterStatus.LEFT_IN_PLACE
    assert request.attestation.final_index == 12300  # the last billed index
    assert not request.invoices.filter(kind="complementary").exists()
    event = request.events.get(action="declare_removal_impossible")
    assert (event.step, event.data["attempts"], event.data["cut_at_connection"]) == (9, 3, True)


# --- MT final interruption --------------------------------------------------------------------


def test_the_mt_final_interruption_report_records_its_seal_and_no_checklist(akpakpa, staff):
    contract = mt_example_contract(akpakpa)
    request = mt_until_settled(contract, staff, Timing.ANTICIPATED, TODAY + dt.timedelta(days=1))
    final = {
        "actor": staff.arpnt,
        "index_read": 510100,
        "read_on": dt.date(2026, 12, 1),
        "cut_done": True,
        "remarks": [],
        "safety_steps_confirmed": ALL_SAFETY_STEPS,
    }
    with at(1):
        services.issue_due_orders()
        request = reload(request)
        assert request.state_label == "Ordre de coupure définitive émis"
        with pytest.raises(StepRefused) as refused:
            services.termination_request_report_removal(request, **final)
        assert refused.value.message == interventions.SEAL_REQUIRED
        report = services.termination_request_report_removal(
            request, **final, seal_number="SC-0042"
        )
    assert (report.seal_number, report.safety_steps_confirmed) == ("SC-0042", [])
    assert reload(request).state_label == "Coupure définitive effectuée"


def test_the_orders_records_are_written_only_inside_a_step(akpakpa, staff):
    """interventions/services.py relies on the step's transaction and lock: called on its own
    (here, under nothing but the test's own transaction), it refuses to write."""
    request = advance(create(worked_example_contract(akpakpa), staff), staff, "order_issued")
    order = request.orders.get()
    with pytest.raises(RuntimeError, match="inside the step's transaction"):
        interventions.visit_failure_record(
            order, actor=staff.reader, visited_on=TODAY, reason="absent"
        )
    assert not order.attempts.exists()
