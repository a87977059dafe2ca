"""Money that can neither get stuck nor leak (DESIGN §9): credit notes, transfers to the
apurement, refund exceptions, advances as receipts, the billing block, complementary invoices
by the full rules, and the arrêté de caisse. Every correction is a new numbered document and
ledger entries, never an edit."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from accounts.rules import StepRefused
from billing import services as billing
from billing.computation import compute_consumption_invoice
from billing.enums import (
    EntryKind,
    InvoiceKind,
    InvoiceState,
    PaymentMode,
    SettlementKind,
    TransferKind,
)
from billing.models import AccountTransfer, CashClosing, CreditNote, Invoice, Settlement
from billing.selectors import billable_contracts, contract_account, tariff_items_in_force
from contracts.enums import ContractStatus, DelayKind, DepositStatus, RequestState, Role, Timing
from contracts.models import Contract, Delay, Deposit
from interventions.enums import OrderKind, OrderStatus
from procedure import services
from tests.factories import ContractFactory, CustomerFactory, TariffCategoryFactory, UserFactory
from tests.workflow import (
    ALL_SAFETY_STEPS,
    TODAY,
    advance,
    close_cash_desk,
    confirm_codification,
    create,
    credit_shown,
    issue_and_sign,
    mt_example_contract,
    mt_until_settled,
    refund_shown,
    reload,
    take_over,
    validate_invoice,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def ledger(contract) -> int:
    return contract_account(Contract.objects.get(pk=contract.pk)).balance


@pytest.fixture
def invoiced(akpakpa, staff):
    """The worked example at step 7: FAC-AKP-2026-000001, total 49 417, balance 26 417."""
    return advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)


def balance_invoice(request) -> Invoice:
    return request.invoices.exclude(state=InvoiceState.CANCELLED).get(kind=InvoiceKind.BALANCE)


# --- The billing block and advances ---------------------------------------------------------


def test_step_6_validates_only_the_draft_that_was_shown(akpakpa, staff):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.REPORT_APPROVED
    )
    shown = services.termination_request_compute_invoice(request, actor=staff.reception)
    assert shown.balance == 26417
    seen = billing.invoice_digest(shown)
    # Meanwhile another cashier takes a 5 000 advance at the counter.
    other_cashier = UserFactory(username="akp.caisse2", agency=akpakpa, roles=[Role.CASHIER])
    billing.account_advance_record(
        Contract.objects.get(pk=request.contract_id),
        actor=other_cashier,
        amount=5000,
        mode=PaymentMode.CASH,
    )
    with pytest.raises(StepRefused) as refused:
        services.termination_request_invoice(request, actor=staff.reception, draft_digest=seen)
    assert refused.value.message == services.DRAFT_CHANGED
    assert reload(request).state == RequestState.REPORT_APPROVED
    assert not Invoice.objects.filter(request=request, number__isnull=False).exists()

    shown_again = services.termination_request_compute_invoice(request, actor=staff.reception)
    assert shown_again.balance == 21417
    invoice = services.termination_request_invoice(
        request, actor=staff.reception, draft_digest=billing.invoice_digest(shown_again)
    )
    assert (invoice.number, invoice.advances_total, invoice.balance) == (
        "FAC-AKP-2026-000001",
        10000,
        21417,
    )


def test_step_6_refuses_a_validation_without_a_draft_shown(akpakpa, staff):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.REPORT_APPROVED
    )
    with pytest.raises(StepRefused) as refused:
        services.termination_request_invoice(request, actor=staff.reception, draft_digest="")
    assert refused.value.message == services.DRAFT_CHANGED
    assert reload(request).state == RequestState.REPORT_APPROVED


def test_from_its_balance_invoice_the_contract_is_no_longer_billed_nor_takes_advances(
    invoiced, staff
):
    contract = Contract.objects.get(pk=invoiced.contract_id)
    assert contract.status == ContractStatus.ENDING
    assert not billable_contracts().filter(pk=contract.pk).exists()
    assert balance_invoice(invoiced).period_end == TODAY  # the period ends at the cut
    with pytest.raises(StepRefused) as refused:
        billing.account_advance_record(
            contract, actor=staff.cashier, amount=5000, mode=PaymentMode.CASH
        )
    assert refused.value.message == billing.ADVANCE_AFTER_BALANCE.format(
        number="FAC-AKP-2026-000001"
    )
    assert "réglez la facture de solde" in refused.value.message


def test_an_advance_is_a_numbered_receipt_in_the_journal_and_a_credit(akpakpa, staff):
    contract = worked_example_contract(akpakpa)
    before = ledger(contract)
    receipt = billing.account_advance_record(
        contract, actor=staff.cashier, amount=7000, mode=PaymentMode.MOBILE_MONEY, reference="MM-9"
    )
    assert (receipt.kind, receipt.number, receipt.invoice, receipt.amount) == (
        SettlementKind.ADVANCE,
        "REC-AKP-2026-000001",
        None,
        7000,
    )
    entry = receipt.entries.get()
    assert (entry.kind, entry.credit, entry.label) == (
        EntryKind.ADVANCE,
        7000,
        "Avance en compte REC-AKP-2026-000001 (mobile money, réf. MM-9)",
    )
    assert ledger(contract) == before - 7000
    totals = billing.cash_day_totals(staff.cashier, TODAY)
    assert (totals["advances"], totals["per_mode"]["Mobile money"]["advances"]) == (7000, 7000)


def test_a_form_sent_twice_records_one_advance(akpakpa, staff):
    import uuid

    contract = worked_example_contract(akpakpa)
    key = uuid.uuid4()
    first = billing.account_advance_record(
        contract, actor=staff.cashier, amount=7000, mode="cash", idempotency_key=key
    )
    again = billing.account_advance_record(
        contract, actor=staff.cashier, amount=7000, mode="cash", idempotency_key=key
    )
    assert again.pk == first.pk and again.replayed
    assert Settlement.objects.filter(kind=SettlementKind.ADVANCE).count() == 1


# --- Credit notes ---------------------------------------------------------------------------


def test_a_credit_note_cancels_the_balance_invoice_and_a_new_one_takes_a_new_number(
    invoiced, staff
):
    invoice = balance_invoice(invoiced)
    before = ledger(invoiced.contract)
    assert before == 26417
    note = services.termination_request_cancel_balance_invoice(
        invoiced,
        actor=staff.supervisor,
        reason="Unités mal lues sur le compteur",
        shown=credit_shown(invoiced),
    )
    assert (note.number, note.total, note.invoice_id) == ("AV-AKP-2026-000001", -49417, invoice.pk)
    assert [(line.label, line.amount) for line in note.lines.all()] == [
        (line.label, -line.amount) for line in invoice.lines.all()
    ] + [("TVA 18 %", -invoice.vat_amount)]
    assert sum(line.amount for line in note.lines.all()) == note.total
    invoice.refresh_from_db()
    assert invoice.state == InvoiceState.CANCELLED
    entries = [(e.kind, e.debit, e.credit) for e in note.entries.order_by("id")]
    assert entries == [(EntryKind.CREDIT_NOTE, 0, 49417), (EntryKind.DEPOSIT_RESTORED, 30000, 0)]
    assert ledger(invoiced.contract) == 12000 - 5000  # as before the invoice: unpaid − advance
    assert Deposit.objects.get(contract=invoiced.contract).status == DepositStatus.HELD
    request = reload(invoiced)
    assert request.state == RequestState.REPORT_APPROVED
    assert Contract.objects.get(pk=request.contract_id).status == ContractStatus.ACTIVE
    assert request.events.get(action="cancel_balance_invoice").data == {
        "invoice": "FAC-AKP-2026-000001",
        "credit_note": "AV-AKP-2026-000001",
        "reason": "Unités mal lues sur le compteur",
    }
    replacement = validate_invoice(request, actor=staff.reception)
    assert (replacement.number, replacement.total, replacement.balance) == (
        "FAC-AKP-2026-000002",
        49417,
        26417,
    )
    assert ledger(request.contract) == 26417


def test_a_credit_note_can_send_the_report_back_to_the_field(invoiced, staff):
    services.termination_request_cancel_balance_invoice(
        invoiced,
        actor=staff.supervisor,
        reason="Index de coupure faux",
        shown=credit_shown(invoiced),
        send_back_report=True,
    )
    request = reload(invoiced)
    order = request.orders.get()
    assert (request.state, order.status, order.report) == (
        RequestState.ORDER_ISSUED,
        OrderStatus.RETURNED,
        None,
    )
    services.termination_request_report_field(
        request,
        actor=staff.reader,
        index_read=12100,
        read_on=TODAY,
        cut_done=True,
        cut_index=12100,
        remarks=[],
    )
    request = advance(request, staff, RequestState.INVOICED)
    invoice = balance_invoice(request)
    assert (invoice.number, invoice.new_index, invoice.consumption) == (
        "FAC-AKP-2026-000002",
        12100,
        100,
    )


def test_no_credit_note_after_settlement_nor_by_anyone_but_the_supervisor(invoiced, staff):
    for person in (staff.reception, staff.cashier, staff.acff, staff.auditor):
        with pytest.raises(PermissionDenied):
            services.termination_request_cancel_balance_invoice(
                invoiced, actor=person, reason="x", shown=credit_shown(invoiced)
            )
    with pytest.raises(StepRefused) as refused:
        services.termination_request_cancel_balance_invoice(
            invoiced, actor=staff.supervisor, reason="", shown=credit_shown(invoiced)
        )
    assert refused.value.message == billing.REASON_REQUIRED
    services.termination_request_settle(
        balance_invoice(invoiced), actor=staff.cashier, amount=26417, mode="cash"
    )
    with pytest.raises(StepRefused):
        services.termination_request_cancel_balance_invoice(
            invoiced, actor=staff.supervisor, reason="Trop tard", shown=credit_shown(invoiced)
        )
    with pytest.raises(StepRefused) as refused:
        billing.credit_note_issue(balance_invoice(invoiced), actor=staff.supervisor, reason="x")
    assert refused.value.message == billing.CREDIT_AFTER_SETTLEMENT
    assert not CreditNote.objects.exists()


def test_the_reprise_is_reopened_by_credit_notes_then_done_again(akpakpa, staff):
    request = create(worked_example_contract(akpakpa), staff, kind="with_takeover")
    first_successor = take_over(request, staff)
    notes = services.termination_request_cancel_takeover_invoices(
        request, actor=staff.supervisor, reason="Mauvais successeur", shown=credit_shown(request)
    )
    assert [(n.number, n.total) for n in notes] == [
        ("AV-AKP-2026-000001", -49417),
        ("AV-AKP-2026-000002", -33000),
    ]
    request = reload(request)
    assert request.state == RequestState.RECEIVED
    outgoing = Contract.objects.get(pk=request.contract_id)
    first_successor.refresh_from_db()
    assert (outgoing.status, outgoing.end_date) == (ContractStatus.ACTIVE, None)
    assert (first_successor.status, first_successor.end_date) == (
        ContractStatus.TERMINATED,
        first_successor.start_date,
    )
    assert ledger(outgoing) == 7000 and ledger(first_successor) == 0
    second_successor = take_over(
        request,
        staff,
        successor={
            "name": "ADJOVI Mireille",
            "id_document_type": "cni",
            "id_document_number": "5566778899",
            "phone": "0162000000",
            "address": "Akpakpa",
        },
    )
    assert second_successor.pk != first_successor.pk
    numbers = sorted(reload(request).invoices.values_list("number", "state"))
    assert numbers == [
        ("FAC-AKP-2026-000001", "cancelled"),
        ("FAC-AKP-2026-000002", "cancelled"),
        ("FAC-AKP-2026-000003", "validated"),
        ("FAC-AKP-2026-000004", "validated"),
    ]


# --- Transfers to the apurement -------------------------------------------------------------


def at(day: dt.date):
    return time_machine.travel(dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC), tick=False)


def test_an_unpaid_balance_goes_to_recovery_after_30_days_and_step_8_follows(invoiced, staff):
    assert services.transfer_overdue_balances(TODAY + dt.timedelta(days=29)) == 0
    day = TODAY + dt.timedelta(days=30)
    with at(day):
        assert services.transfer_overdue_balances() == 1
        assert services.transfer_overdue_balances() == 0  # once
    from handoff.models import OutboxRecord

    record = OutboxRecord.objects.get()
    assert (record.kind, record.payload["montant"]) == ("recovery", 26417)
    request = reload(invoiced)
    invoice = balance_invoice(request)
    transfer = AccountTransfer.objects.get()
    assert (invoice.state, transfer.kind, transfer.amount, transfer.since) == (
        InvoiceState.TRANSFERRED,
        TransferKind.RECOVERY,
        26417,
        TODAY,
    )
    assert (transfer.transferred_on, transfer.delay_days) == (day, 30)
    assert ledger(request.contract) == 26417  # the debt stays on the account
    # The cut date had come: step 8 at once, the removal order of the classic request.
    assert request.state == RequestState.REMOVAL_ORDERED
    event = request.events.get(action="transfer_to_recovery")
    assert (event.actor, event.actor_role, event.step) == (None, "system", 7)
    with pytest.raises(StepRefused):
        services.termination_request_settle(invoice, actor=staff.cashier, amount=26417)


def test_an_unclaimed_refund_stays_as_a_credit_after_90_days(akpakpa, staff):
    contract = worked_example_contract(akpakpa)
    Deposit.objects.filter(contract=contract).update(amount=90000)
    request = advance(create(contract, staff), staff, RequestState.INVOICED)
    assert balance_invoice(request).balance == -33583
    assert services.transfer_overdue_balances(TODAY + dt.timedelta(days=89)) == 0
    assert services.transfer_overdue_balances(TODAY + dt.timedelta(days=90)) == 1
    transfer = AccountTransfer.objects.get()
    assert (transfer.kind, transfer.amount, transfer.delay_days) == (TransferKind.CREDIT, 33583, 90)
    assert ledger(contract) == -33583  # a credit in the customer's favour
    assert reload(request).events.filter(action="leave_refund_as_credit").count() == 1


def test_the_delays_are_data(invoiced, staff):
    Delay.objects.create(kind=DelayKind.SETTLEMENT, days=10, valid_from=TODAY)
    assert services.transfer_overdue_balances(TODAY + dt.timedelta(days=10)) == 1
    assert AccountTransfer.objects.get().delay_days == 10


# --- Refund exceptions ----------------------------------------------------------------------


@pytest.fixture
def refund(akpakpa, staff):
    """A refund of 33 583 to the deposit's payer, HOUNKPATIN Kossi Eméric, passport B4512789."""
    contract = worked_example_contract(akpakpa)
    Deposit.objects.filter(contract=contract).update(
        amount=90000,
        payer_name="HOUNKPATIN Kossi Eméric",
        payer_id_document_type="passport",
        payer_id_document_number="B4512789",
    )
    return advance(create(contract, staff), staff, RequestState.INVOICED)


HEIR = {
    "beneficiary_name": "HOUNKPATIN Afi Rosine",
    "beneficiary_id_document_type": "cni",
    "beneficiary_id_document_number": "3344556677",
    "quality": "heir",
    "proof_reference": "Acte de dévolution n° 2026/118",
}


def test_the_supervisor_authorises_an_heir_and_another_cashier_pays(refund, staff, akpakpa):
    invoice = balance_invoice(refund)
    pay = {
        "amount": 33583,
        "mode": PaymentMode.CASH,
        "beneficiary_id_document_type": "cni",
        "beneficiary_id_document_number": "3344556677",
    }
    with pytest.raises(StepRefused):
        services.termination_request_settle(invoice, actor=staff.cashier, **pay)
    with pytest.raises(PermissionDenied):
        services.termination_request_authorise_refund(
            invoice, actor=staff.cashier, shown=refund_shown(invoice), **HEIR
        )
    both = UserFactory(
        username="akp.chef.caisse", agency=akpakpa, roles=[Role.SUPERVISOR, Role.CASHIER]
    )
    authorisation = services.termination_request_authorise_refund(
        invoice, actor=both, shown=refund_shown(invoice), **HEIR
    )
    with pytest.raises(StepRefused) as refused:
        services.termination_request_settle(invoice, actor=both, **pay)
    assert refused.value.message == billing.AUTHORISER_CANNOT_PAY
    settlement = services.termination_request_settle(invoice, actor=staff.cashier, **pay)
    assert (settlement.beneficiary_name, settlement.refund_authorisation) == (
        "HOUNKPATIN Afi Rosine",
        authorisation,
    )
    assert reload(refund).events.get(action="refund_authorised").data["beneficiary"] == (
        "HOUNKPATIN Afi Rosine"
    )


def test_a_refund_exception_needs_its_proof(refund, staff):
    with pytest.raises(StepRefused) as refused:
        services.termination_request_authorise_refund(
            balance_invoice(refund),
            actor=staff.supervisor,
            shown=refund_shown(balance_invoice(refund)),
            **(HEIR | {"proof_reference": " "}),
        )
    assert refused.value.message == billing.PROOF_REQUIRED


# --- Complementary invoices -----------------------------------------------------------------


def test_a_one_day_bt_pro_complementary_invoice_follows_the_rules(akpakpa, staff):
    pro = TariffCategoryFactory(code="BT-PRO")
    contract = ContractFactory(
        agency=akpakpa,
        customer=CustomerFactory(),
        tariff_category=pro,
        subscribed_power_kva=15,
        last_billed_index=5000,
        last_billed_date=dt.date(2026, 10, 31),
        deposit__amount=75000,
    )
    request = create(contract, staff)
    cut = TODAY + dt.timedelta(days=1)
    issue_and_sign(request, staff, timing=Timing.ANTICIPATED, cut_date=cut)
    services.termination_request_report_field(
        request,
        actor=staff.reader,
        index_read=5400,
        read_on=TODAY,
        cut_done=False,
        cut_index=None,
        remarks=[],
        high_consumption_confirmed=True,
    )
    invoice = validate_invoice(request, actor=staff.reception)
    deposit = Deposit.objects.get(contract=contract)
    services.termination_request_settle(
        invoice,
        actor=staff.cashier,
        amount=abs(invoice.balance),
        mode="cash",
        beneficiary_id_document_type=deposit.payer_id_document_type,
        beneficiary_id_document_number=deposit.payer_id_document_number,
    )
    with at(cut):
        services.issue_due_orders()
        request = reload(request)
        services.termination_request_report_removal(
            request,
            actor=staff.arpnt,
            index_read=5440,
            read_on=cut,
            cut_done=True,
            safety_steps_confirmed=ALL_SAFETY_STEPS,
            remarks=[],
        )
        services.termination_request_sign_removal(request, actor=staff.supervisor)
        shown = services.termination_request_codification_preview(reload(request))
        # Confirmed on other figures than these (a tariff changed since the page was shown):
        # nothing is written.
        with pytest.raises(StepRefused) as refused:
            services.termination_request_confirm_codification(
                request, actor=staff.acff, shown="shown before a change"
            )
        assert refused.value.message == services.COMPLEMENTARY_CHANGED
        assert not request.invoices.filter(kind=InvoiceKind.COMPLEMENTARY).exists()
        services.termination_request_confirm_codification(
            request, actor=staff.acff, shown=services.complementary_digest(shown)
        )
    extra = reload(request).invoices.get(kind=InvoiceKind.COMPLEMENTARY)
    assert extra.total == shown.invoice.total
    # The billing system is told: the complementary invoice, then the closure that names it.
    from handoff.models import OutboxRecord

    records = list(OutboxRecord.objects.order_by("pk"))
    assert [r.kind for r in records] == ["complementary_invoice", "closure"]
    assert records[0].payload["facture"] == extra.number
    assert records[0].payload["montant_ttc"] == extra.total
    assert records[1].payload["facture_complementaire"] == extra.number
    # 40 kWh × 125 = 5 000; 500 × 15 kVA × 1/30 = 250; levies 40 × (2 + 3) = 200;
    # VAT 18 % of 5 250 = 945.
    assert (extra.days, extra.consumption, extra.total) == (1, 40, 6395)
    items = tariff_items_in_force(pro, cut)
    expected = compute_consumption_invoice(
        items=items,
        power_kva=15,
        zone="sud",
        last_index=5400,
        last_date=TODAY,
        final_index=5440,
        final_date=cut,
        digits=contract.meter.digits,
    )
    assert extra.total == expected.total
    assert [line.basis for line in extra.lines.all()] == [line.basis for line in expected.lines]


def test_an_mt_anticipated_termination_gets_its_complementary_invoice(akpakpa, staff):
    cut = TODAY + dt.timedelta(days=5)
    request = mt_until_settled(mt_example_contract(akpakpa), staff, Timing.ANTICIPATED, cut)
    with at(cut):
        services.issue_due_orders()
        request = reload(request)
        services.termination_request_report_removal(
            request,
            actor=staff.arpnt,
            index_read=510500,
            read_on=cut,
            cut_done=True,
            remarks=[],
            seal_number="SC-1",
        )
        services.termination_request_sign_removal(request, actor=staff.supervisor)
        confirm_codification(request, actor=staff.acff)
    request = reload(request)
    extra = request.invoices.get(kind=InvoiceKind.COMPLEMENTARY)
    assert (extra.days, extra.consumption, extra.old_index, extra.new_index) == (
        5,
        500,
        510000,
        510500,
    )
    codes = [line.code for line in extra.lines.all()]
    assert "entretien-compteur" in codes and "entretien-branchement" in codes
    assert request.orders.get(kind=OrderKind.FINAL_INTERRUPTION).report.seal_number == "SC-1"


# --- Arrêté de caisse -----------------------------------------------------------------------


def test_a_credit_note_cancels_only_the_invoice_that_was_shown(invoiced, staff, akpakpa):
    seen = credit_shown(invoiced)  # FAC-AKP-2026-000001 on the supervisor's page
    other = UserFactory(username="akp.chef2", agency=akpakpa, roles=[Role.SUPERVISOR])
    services.termination_request_cancel_balance_invoice(
        invoiced, actor=other, reason="Index mal lu", shown=credit_shown(invoiced)
    )
    replacement = validate_invoice(reload(invoiced), actor=staff.reception)
    assert replacement.number == "FAC-AKP-2026-000002"
    with pytest.raises(StepRefused) as refused:
        services.termination_request_cancel_balance_invoice(
            reload(invoiced), actor=staff.supervisor, reason="Index mal lu", shown=seen
        )
    assert refused.value.message == services.INVOICES_CHANGED
    assert Invoice.objects.get(pk=replacement.pk).state == InvoiceState.VALIDATED
    assert CreditNote.objects.count() == 1


def test_the_arrete_certifies_only_the_totals_that_were_shown(invoiced, staff, akpakpa):
    shown = billing.cash_totals_digest(billing.cash_day_totals(staff.cashier, TODAY))
    # Another window of the same cashier settles an invoice after the totals were shown.
    services.termination_request_settle(
        balance_invoice(invoiced), actor=staff.cashier, amount=26417, mode="cash"
    )
    with pytest.raises(StepRefused) as refused:
        billing.cash_closing_close(actor=staff.cashier, day=TODAY, shown=shown)
    assert refused.value.message == billing.CLOSING_CHANGED
    assert not CashClosing.objects.exists()
    closing = close_cash_desk(staff.cashier, TODAY)
    assert (closing.collected, closing.count) == (26417, 1)


def test_the_cashier_closes_the_day_then_the_supervisor_countersigns(invoiced, staff, akpakpa):
    services.termination_request_settle(
        balance_invoice(invoiced), actor=staff.cashier, amount=26417, mode="cash"
    )
    billing.account_advance_record(
        worked_example_contract(akpakpa, number="1010009999"),
        actor=staff.cashier,
        amount=3000,
        mode="mobile_money",
        reference="MM-1",
    )
    closing = close_cash_desk(staff.cashier, TODAY)
    assert (closing.number, closing.collected, closing.refunded, closing.advances) == (
        "AC-AKP-2026-000001",
        26417,
        0,
        3000,
    )
    assert closing.totals == {
        "Espèces": {"collected": 26417, "refunded": 0, "advances": 0},
        "Mobile money": {"collected": 0, "refunded": 0, "advances": 3000},
    }
    with pytest.raises(StepRefused) as refused:
        billing.account_advance_record(
            worked_example_contract(akpakpa, number="1010009998"),
            actor=staff.cashier,
            amount=1000,
            mode="cash",
        )
    assert refused.value.message == billing.CASH_CLOSED.format(day="30/11/2026")
    with pytest.raises(StepRefused):
        close_cash_desk(staff.cashier, TODAY)
    with pytest.raises(PermissionDenied):
        billing.cash_closing_countersign(closing, actor=staff.cashier)
    billing.cash_closing_countersign(closing, actor=staff.supervisor)
    closing = CashClosing.objects.get()
    assert closing.countersigned_by == staff.supervisor
    with pytest.raises(StepRefused):
        billing.cash_closing_countersign(closing, actor=staff.supervisor)
