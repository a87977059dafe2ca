"""The délais: each request knows whether it is late and since when, at the boundaries of each
délai; queues put the late ones first, marked; a request's page says what it waits for."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from billing.enums import InvoiceKind, PaymentMode
from contracts.enums import DelayKind, RequestState, Timing
from contracts.models import Delay, Deposit, TerminationRequest
from procedure import selectors, services
from procedure.deadlines import refresh_all_deadlines, refresh_deadlines
from tests.workflow import (
    FROZEN_NOW,
    TODAY,
    advance,
    create,
    reload,
    worked_example_contract,
)

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)


def deadline_at(request, moment):
    with time_machine.travel(moment, tick=False):
        return (
            selectors.with_deadline(TerminationRequest.objects.filter(pk=request.pk))
            .values_list("deadline", "late")
            .get()
        )


def assert_late_from(request, deadline):
    assert deadline_at(request, deadline - MINUTE) == (deadline, False)
    assert deadline_at(request, deadline + MINUTE) == (deadline, True)


@pytest.fixture
def at_nine(frozen_today):
    return FROZEN_NOW


@pytest.mark.parametrize(
    ("state", "days"),
    [
        (RequestState.ORDER_ISSUED, 3),
        (RequestState.FIELD_REPORTED, 1),
        (RequestState.REPORT_APPROVED, 1),
        (RequestState.INVOICED, 30),
    ],
)
def test_a_request_is_late_once_the_delai_of_its_state_has_passed(
    akpakpa, staff, at_nine, state, days
):
    request = advance(create(worked_example_contract(akpakpa), staff), staff, state)
    assert request.state == state
    assert_late_from(request, at_nine + dt.timedelta(days=days))


def test_a_refund_waits_ninety_days(akpakpa, staff, at_nine):
    contract = worked_example_contract(akpakpa)
    Deposit.objects.filter(contract=contract).update(amount=90000)
    request = advance(create(contract, staff), staff, RequestState.INVOICED)
    assert request.invoices.get(kind=InvoiceKind.BALANCE).balance < 0
    assert_late_from(request, at_nine + dt.timedelta(days=90))


def test_received_and_closed_requests_run_no_delai(akpakpa, staff, at_nine):
    request = create(worked_example_contract(akpakpa), staff)
    assert deadline_at(request, at_nine + dt.timedelta(days=400)) == (None, False)


def test_a_removal_order_counts_from_its_execution_date(akpakpa, staff, frozen_today):
    request = advance(
        create(worked_example_contract(akpakpa), staff),
        staff,
        RequestState.INVOICED,
        timing=Timing.ANTICIPATED,
    )
    services.termination_request_settle(
        request.invoices.get(kind=InvoiceKind.BALANCE),
        actor=staff.cashier,
        amount=26417,
        mode=PaymentMode.CASH,
    )
    cut = TODAY + dt.timedelta(days=10)
    services.issue_due_orders(cut)
    request = reload(request)
    assert request.state == RequestState.REMOVAL_ORDERED
    due_on = request.orders.get(kind="removal").due_on
    # Midnight in Benin (UTC+1) of the execution date, then 5 days.
    start = dt.datetime.combine(due_on, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(hours=1)
    assert_late_from(request, start + dt.timedelta(days=5))


def test_the_removal_report_waits_a_day_for_its_signature_then_two_for_the_codification(
    akpakpa, staff, at_nine
):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.METER_REMOVED
    )
    assert_late_from(request, at_nine + dt.timedelta(days=1))
    signed_at = at_nine + dt.timedelta(hours=5)
    with time_machine.travel(signed_at, tick=False):
        services.termination_request_sign_removal(reload(request), actor=staff.supervisor)
    assert_late_from(request, signed_at + dt.timedelta(days=2))


def test_a_delai_changed_in_the_admin_applies_from_its_date(akpakpa, staff, at_nine):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.ORDER_ISSUED
    )
    Delay.objects.create(kind=DelayKind.ORDER_REPORT, days=5, valid_from=TODAY)
    Delay.objects.create(
        kind=DelayKind.ORDER_REPORT, days=9, valid_from=TODAY + dt.timedelta(days=1)
    )
    assert_late_from(request, at_nine + dt.timedelta(days=5))
    # The night the second one takes effect, the stored deadlines follow it.
    assert refresh_all_deadlines(TODAY + dt.timedelta(days=1)) == 1
    assert_late_from(request, at_nine + dt.timedelta(days=9))


def test_the_queue_puts_the_late_first_and_marks_them(akpakpa, staff, client, at_nine):
    waiting_long = create(worked_example_contract(akpakpa), staff)  # no délai at reception
    TerminationRequest.objects.filter(pk=waiting_long.pk).update(
        state_since=at_nine - dt.timedelta(days=10)
    )
    late = advance(
        create(worked_example_contract(akpakpa, number="1010009998"), staff),
        staff,
        RequestState.REPORT_APPROVED,
    )
    TerminationRequest.objects.filter(pk=late.pk).update(state_since=at_nine - dt.timedelta(days=2))
    refresh_deadlines([waiting_long.pk, late.pk])  # the dates moved behind the services' back
    items = selectors.work_queue(staff.reception, TODAY)
    assert [(i.request_id, bool(i.late_since)) for i in items] == [
        (late.pk, True),
        (waiting_long.pk, False),
    ]
    client.force_login(staff.reception)
    page = client.get(reverse("work_queue")).content.decode()
    assert "en retard depuis le 29/11/2026" in page
    assert page.index("1010009998") < page.index(waiting_long.contract.number)


def test_the_request_page_says_what_it_waits_for_and_since_when(akpakpa, staff, client, at_nine):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.ORDER_ISSUED
    )
    client.force_login(staff.reception)
    url = reverse("request_detail", args=[request.pk])
    page = client.get(url).content.decode()
    assert (
        "Attend le compte-rendu d'intervention depuis le 30/11/2026 10:00, "
        "délai jusqu'au 03/12/2026 10:00." in page.replace("&#x27;", "'")
    )
    with time_machine.travel(at_nine + dt.timedelta(days=4), tick=False):
        client.force_login(staff.reception)
        page = client.get(url).content.decode().replace("&#x27;", "'")
    assert "en retard depuis le 03/12/2026 10:00" in page
