"""The five paths of the procedure, end to end through the services (the pages drive the same
services; tests/procedure/test_pages.py goes through the views)."""

import datetime as dt

import pytest
import time_machine

from billing.enums import InvoiceKind, InvoiceState, PaymentMode, SettlementKind
from billing.models import Invoice
from billing.selectors import billable_contracts
from contracts.enums import (
    ContractStatus,
    DeliveryPointStatus,
    DepositStatus,
    MeterStatus,
    RequestState,
    TerminationKind,
    Timing,
)
from contracts.models import Contract, Deposit
from interventions.enums import OrderKind, OrderStatus, Remark
from procedure import services
from procedure.services import issue_due_orders
from tests.workflow import (
    ALL_SAFETY_STEPS,
    TODAY,
    confirm_codification,
    create,
    issue_and_sign,
    mt_example_contract,
    mt_until_settled,
    reload,
    take_over,
    validate_invoice,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def contract(akpakpa):
    return worked_example_contract(akpakpa)


def removal_and_close(request, staff, *, index, steps=ALL_SAFETY_STEPS, on=TODAY, seal=""):
    services.termination_request_report_removal(
        request,
        actor=staff.arpnt,
        index_read=index,
        read_on=on,
        cut_done=True,
        safety_steps_confirmed=steps,
        seal_number=seal,
        remarks=[Remark.ROTTEN_PANEL],
    )
    assert reload(request).state == RequestState.METER_REMOVED
    services.termination_request_sign_removal(request, actor=staff.supervisor)
    confirm_codification(request, actor=staff.acff)
    return reload(request)


def test_bt_classic_without_takeover_runs_to_its_end(contract, staff):
    request = create(contract, staff)
    assert request.state == RequestState.RECEIVED

    order = issue_and_sign(request, staff, assignee=staff.reader)
    assert (order.kind, order.number, order.due_on) == (
        OrderKind.INTERRUPTION_READING,
        "OI-AKP-2026-000001",
        TODAY,
    )
    assert reload(request).state == RequestState.ORDER_ISSUED

    services.termination_request_report_field(
        request,
        actor=staff.reader,
        index_read=12300,
        read_on=TODAY,
        cut_done=True,
        cut_index=12300,
        remarks=[],
    )
    assert reload(request).state == RequestState.FIELD_REPORTED
    services.termination_request_approve_report(request, actor=staff.supervisor)
    assert reload(request).state == RequestState.REPORT_APPROVED

    draft = services.termination_request_compute_invoice(request, actor=staff.reception)
    assert (draft.state, draft.number, draft.total, draft.balance) == (
        InvoiceState.DRAFT,
        None,
        49417,
        26417,
    )
    invoice = validate_invoice(request, actor=staff.reception)
    assert (invoice.number, invoice.total, invoice.balance) == ("FAC-AKP-2026-000001", 49417, 26417)
    assert reload(request).state == RequestState.INVOICED

    settlement = services.termination_request_settle(
        invoice, actor=staff.cashier, amount=26417, mode=PaymentMode.CASH
    )
    assert (settlement.kind, settlement.number) == (
        SettlementKind.COLLECTION,
        "REC-AKP-2026-000001",
    )
    # The cut date (today) has come: the removal order is issued with the settlement.
    request = reload(request)
    assert request.state == RequestState.REMOVAL_ORDERED
    removal = request.orders.get(kind=OrderKind.REMOVAL)
    assert removal.number == "OI-AKP-2026-000002"

    request = removal_and_close(request, staff, index=12300)
    assert request.state == RequestState.CLOSED
    contract.refresh_from_db()
    assert (contract.status, contract.end_date) == (ContractStatus.TERMINATED, TODAY)
    assert contract.meter.status == MeterStatus.REMOVED
    assert contract.delivery_point.status == DeliveryPointStatus.FREE
    assert not billable_contracts().filter(pk=contract.pk).exists()
    assert sum(e.debit - e.credit for e in contract.account_entries.all()) == 0
    assert [(e.step, e.action, e.to_state) for e in request.events.all()] == [
        (1, "create", RequestState.RECEIVED),
        (3, "issue_order", RequestState.ORDER_ISSUED),
        (3, "requester_signed", RequestState.ORDER_ISSUED),
        (4, "field_visit", RequestState.ORDER_ISSUED),
        (5, "report_field", RequestState.FIELD_REPORTED),
        (5, "approve_report", RequestState.REPORT_APPROVED),
        (6, "invoice", RequestState.INVOICED),
        (7, "settle", RequestState.SETTLED),
        (8, "order_removal", RequestState.REMOVAL_ORDERED),
        (8, "removal_visit", RequestState.REMOVAL_ORDERED),
        (9, "report_removal", RequestState.METER_REMOVED),
        (9, "sign_removal_report", RequestState.METER_REMOVED),
        (9, "confirm_codification", RequestState.CLOSED),
    ]
    assert request.events.get(action="settle").actor_role == "cashier"
    assert request.events.get(action="order_removal").actor is None


def test_bt_anticipated_issues_the_removal_on_the_cut_date_and_a_complementary_invoice(
    contract, staff
):
    request = create(contract, staff)
    cut_date = TODAY + dt.timedelta(days=10)
    order = issue_and_sign(request, staff, timing=Timing.ANTICIPATED, cut_date=cut_date)
    assert order.kind == OrderKind.READING
    services.termination_request_report_field(
        request,
        actor=staff.reader,
        index_read=12300,
        read_on=TODAY,
        cut_done=False,
        cut_index=None,
        remarks=[],
    )
    request = reload(request)
    assert request.state == RequestState.REPORT_APPROVED  # the reading report alone
    assert request.orders.get().status == OrderStatus.FILED
    invoice = validate_invoice(request, actor=staff.reception)
    services.termination_request_settle(
        invoice,
        actor=staff.cashier,
        amount=26417,
        mode=PaymentMode.MOBILE_MONEY,
        reference="MM-778812",
    )
    assert reload(request).state == RequestState.SETTLED

    assert issue_due_orders(TODAY + dt.timedelta(days=9)) == 0
    assert issue_due_orders(cut_date) == 1
    assert issue_due_orders(cut_date) == 0  # idempotent
    request = reload(request)
    assert request.state == RequestState.REMOVAL_ORDERED
    assert request.orders.get(kind=OrderKind.REMOVAL).due_on == cut_date

    with time_machine.travel(dt.datetime(2026, 12, 10, 9, 0, tzinfo=dt.UTC), tick=False):
        request = removal_and_close(request, staff, index=12360, on=cut_date)
    assert request.state == RequestState.CLOSED
    extra = request.invoices.get(kind=InvoiceKind.COMPLEMENTARY)
    assert (extra.old_index, extra.new_index, extra.consumption) == (12300, 12360, 60)
    # 60 kWh in 10 days: tranche bounds 7 / 83 -> 7 at 86, 53 at 125; the fixed charge for 10
    # days (500 × 6 kVA × 10/30); levies 5/kWh; VAT 18 % on 6 625 + 1 000
    assert extra.total == 602 + 6625 + 1000 + 120 + 180 + 1373
    assert extra.state == InvoiceState.VALIDATED


def test_takeover_opens_the_successors_contract_and_closes_when_both_invoices_are_settled(
    contract, staff
):
    request = create(contract, staff, kind=TerminationKind.WITH_TAKEOVER)
    successor_contract = take_over(request, staff)
    request = reload(request)
    assert request.state == RequestState.TAKEOVER_INVOICED
    contract.refresh_from_db()
    assert (contract.status, contract.end_date) == (ContractStatus.TERMINATED, TODAY)
    assert (successor_contract.delivery_point_id, successor_contract.meter_id) == (
        contract.delivery_point_id,
        contract.meter_id,
    )
    assert (successor_contract.last_billed_index, successor_contract.status) == (
        12300,
        ContractStatus.ACTIVE,
    )
    assert successor_contract.customer.name == "ZINSOU Afiavi Bérénice"
    balance_invoice = request.invoices.get(kind=InvoiceKind.BALANCE)
    subscription = request.invoices.get(kind=InvoiceKind.SUBSCRIPTION)
    assert (balance_invoice.total, balance_invoice.balance) == (49417, 26417)
    assert (subscription.total, subscription.contract_id) == (33000, successor_contract.pk)

    services.termination_request_settle(
        balance_invoice, actor=staff.cashier, amount=26417, mode=PaymentMode.CASH
    )
    assert reload(request).state == RequestState.TAKEOVER_INVOICED
    services.termination_request_settle(
        subscription, actor=staff.cashier, amount=33000, mode=PaymentMode.CASH
    )
    request = reload(request)
    assert request.state == RequestState.CLOSED
    assert not request.orders.exists()  # no field visit, no removal with a reprise
    deposit = Deposit.objects.get(contract=successor_contract)
    assert (deposit.amount, deposit.payer_name, deposit.payer_id_document_number) == (
        30000,
        "ZINSOU Afiavi Bérénice",
        "9988776655",
    )
    assert contract.meter.status == MeterStatus.INSTALLED


@pytest.fixture
def mt_contract(akpakpa):
    return mt_example_contract(akpakpa)


def test_mt_classic_never_gets_a_removal_order_and_closes_on_the_acffs_confirmation(
    mt_contract, staff
):
    request = mt_until_settled(mt_contract, staff, Timing.CLASSIC)
    assert request.state == RequestState.SETTLED
    assert issue_due_orders(TODAY + dt.timedelta(days=30)) == 0
    confirm_codification(request, actor=staff.acff)
    request = reload(request)
    assert request.state == RequestState.CLOSED
    assert [o.kind for o in request.orders.all()] == [OrderKind.INTERRUPTION_READING]
    mt_contract.refresh_from_db()
    assert mt_contract.status == ContractStatus.TERMINATED
    assert mt_contract.meter.status == MeterStatus.INSTALLED  # "sauf en MT"
    assert mt_contract.delivery_point.status == DeliveryPointStatus.FREE
    assert Deposit.objects.get(contract=mt_contract).status == DepositStatus.REFUNDED


def test_mt_anticipated_gets_a_final_interruption_order_on_the_date(mt_contract, staff):
    cut_date = TODAY + dt.timedelta(days=5)
    request = mt_until_settled(mt_contract, staff, Timing.ANTICIPATED, cut_date)
    assert issue_due_orders(cut_date) == 1
    request = reload(request)
    order = request.orders.get(kind=OrderKind.FINAL_INTERRUPTION)
    assert request.state == RequestState.REMOVAL_ORDERED
    with time_machine.travel(dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC), tick=False):
        request = removal_and_close(
            request, staff, index=510000, steps=[], on=cut_date, seal="SC-2026-0042"
        )
    assert request.state == RequestState.CLOSED
    assert not request.orders.filter(kind=OrderKind.REMOVAL).exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.FILED
    assert (order.report.seal_number, order.report.safety_steps_confirmed) == ("SC-2026-0042", [])


def test_cancellation_from_received(contract, staff):
    request = create(contract, staff)
    services.termination_request_cancel(request, actor=staff.reception, reason="Le client renonce")
    request = reload(request)
    assert (request.state, request.cancel_reason) == (RequestState.CANCELLED, "Le client renonce")
    # the contract may be terminated later on a new request
    assert create(contract, staff).state == RequestState.RECEIVED


def test_cancellation_from_order_issued_cancels_the_order(contract, staff):
    request = create(contract, staff)
    services.termination_request_issue_order(
        request, actor=staff.reception, timing=Timing.CLASSIC, cut_date=None
    )
    services.termination_request_cancel(request, actor=staff.reception, reason="Erreur de contrat")
    request = reload(request)
    assert request.state == RequestState.CANCELLED
    assert request.orders.get().status == OrderStatus.CANCELLED
    assert Contract.objects.get(pk=contract.pk).status == ContractStatus.ACTIVE


def test_no_invoice_number_is_taken_by_a_draft(contract, staff):
    request = create(contract, staff)
    issue_and_sign(request, staff, timing=Timing.ANTICIPATED, cut_date=TODAY + dt.timedelta(days=3))
    services.termination_request_report_field(
        request,
        actor=staff.reader,
        index_read=12300,
        read_on=TODAY,
        cut_done=False,
        cut_index=None,
        remarks=[],
    )
    services.termination_request_compute_invoice(request, actor=staff.reception)
    services.termination_request_compute_invoice(request, actor=staff.reception)
    assert Invoice.objects.filter(kind=InvoiceKind.BALANCE).count() == 1
    assert not Invoice.objects.filter(kind=InvoiceKind.BALANCE, number__isnull=False).exists()
