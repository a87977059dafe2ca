import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from accounts.rules import StepRefused
from billing import services as billing
from billing.enums import EntryKind, InvoiceKind, InvoiceState, PaymentMode, SettlementKind
from billing.models import Invoice, InvoiceLine, TariffItem
from contracts.enums import DepositStatus, RequestState, Timing
from contracts.models import Deposit
from procedure import services
from tests.workflow import TODAY, advance, confirm_codification, create, worked_example_contract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def refund_invoice(akpakpa, staff):
    """A balance invoice to refund: a 90 000 deposit paid by the holder's brother."""
    contract = worked_example_contract(akpakpa)
    Deposit.objects.filter(contract=contract).update(
        amount=90000,
        payer_name="HOUNKPATIN Kossi Eméric",
        payer_id_document_type="passport",
        payer_id_document_number="B4512789",
    )
    request = advance(create(contract, staff), staff, RequestState.INVOICED)
    invoice = request.invoices.get(kind=InvoiceKind.BALANCE)
    assert invoice.balance == 49417 + 12000 - 5000 - 90000 == -33583
    return invoice


def test_refund_goes_to_the_deposits_payer(refund_invoice, staff):
    settlement = services.termination_request_settle(
        refund_invoice,
        actor=staff.cashier,
        amount=33583,
        mode=PaymentMode.CASH,
        beneficiary_id_document_type="passport",
        beneficiary_id_document_number="b4512789",
    )
    assert (settlement.kind, settlement.beneficiary_name) == (
        SettlementKind.REFUND,
        "HOUNKPATIN Kossi Eméric",
    )
    assert Deposit.objects.get(contract=refund_invoice.contract).status == DepositStatus.REFUNDED
    entries = refund_invoice.contract.account_entries.all()
    assert sum(e.debit - e.credit for e in entries) == 0


def test_refund_to_another_identity_is_refused_and_says_why(refund_invoice, staff):
    with pytest.raises(StepRefused) as refused:
        services.termination_request_settle(
            refund_invoice,
            actor=staff.cashier,
            amount=33583,
            mode=PaymentMode.CASH,
            beneficiary_id_document_type="cni",
            beneficiary_id_document_number="1234567890",
        )
    assert refused.value.message == billing.REFUND_IDENTITY_MISMATCH.format(
        presented="Carte nationale d'identité (CNI) n° 1234567890",
        payer="HOUNKPATIN Kossi Eméric",
        expected="Passeport se terminant par 789",
    )
    assert "B4512789" not in refused.value.message and "4512" not in refused.value.message
    assert refused.value.field == "beneficiary_id_document_number"
    assert Invoice.objects.get(pk=refund_invoice.pk).state == InvoiceState.VALIDATED


def test_refund_without_a_deposit_is_refused(refund_invoice, staff):
    Deposit.objects.filter(contract=refund_invoice.contract).delete()
    with pytest.raises(StepRefused) as refused:
        services.termination_request_settle(
            refund_invoice,
            actor=staff.cashier,
            amount=33583,
            mode=PaymentMode.CASH,
            beneficiary_id_document_type="passport",
            beneficiary_id_document_number="B4512789",
        )
    assert refused.value.message == billing.REFUND_NO_DEPOSIT


def test_partial_payment_is_refused(akpakpa, staff):
    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    with pytest.raises(StepRefused) as refused:
        services.termination_request_settle(
            request.invoices.get(kind=InvoiceKind.BALANCE),
            actor=staff.cashier,
            amount=20000,
            mode=PaymentMode.CASH,
        )
    assert refused.value.message == (
        "Le montant doit être le solde entier : 26\u00a0417\u00a0FCFA. "
        "Les paiements partiels ne sont pas acceptés."
    )


def test_a_cheque_needs_its_reference(akpakpa, staff):
    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    with pytest.raises(StepRefused) as refused:
        services.termination_request_settle(
            request.invoices.get(kind=InvoiceKind.BALANCE),
            actor=staff.cashier,
            amount=26417,
            mode=PaymentMode.CHEQUE,
        )
    assert refused.value.message == "Indiquez la référence du chèque."


def test_a_zero_balance_is_recorded_as_settled(akpakpa, staff):
    contract = worked_example_contract(akpakpa)
    Deposit.objects.filter(contract=contract).update(amount=49417 + 12000 - 5000)
    request = advance(create(contract, staff), staff, RequestState.INVOICED)
    invoice = request.invoices.get(kind=InvoiceKind.BALANCE)
    assert invoice.balance == 0
    settlement = services.termination_request_settle(invoice, actor=staff.cashier, amount=0)
    assert (settlement.kind, settlement.amount) == (SettlementKind.ZERO, 0)


def test_an_advance_is_deducted_from_the_balance(akpakpa, staff):
    contract = worked_example_contract(akpakpa)
    billing.account_advance_record(
        contract, actor=staff.cashier, amount=10000, mode=PaymentMode.MOBILE_MONEY, reference="MM-1"
    )
    request = advance(create(contract, staff), staff, RequestState.REPORT_APPROVED)
    from procedure import services

    invoice = services.termination_request_compute_invoice(request, actor=staff.reception)
    assert (invoice.advances_total, invoice.balance) == (15000, 26417 - 10000)


def test_an_advance_on_a_terminated_contract_is_refused(akpakpa, staff):
    contract = worked_example_contract(akpakpa)
    contract.status, contract.end_date = "terminated", TODAY
    contract.save()
    with pytest.raises(StepRefused):
        billing.account_advance_record(
            contract, actor=staff.cashier, amount=1000, mode=PaymentMode.CASH
        )


def test_the_database_refuses_to_change_a_validated_invoice(akpakpa, staff):
    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    invoice = request.invoices.get(kind=InvoiceKind.BALANCE)
    with pytest.raises(IntegrityError, match="validated"), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(total=1)
    with pytest.raises(IntegrityError, match="validated"), transaction.atomic():
        InvoiceLine.objects.filter(invoice=invoice).update(amount=1)
    with pytest.raises(IntegrityError, match="validated"), transaction.atomic():
        InvoiceLine.objects.filter(invoice=invoice).delete()
    with pytest.raises(IntegrityError, match="validated"), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(state=InvoiceState.DRAFT)


def test_a_tariff_dated_tomorrow_does_not_change_todays_invoice(akpakpa, staff):
    from billing.models import TariffCategory

    TariffItem.objects.create(
        category=TariffCategory.objects.get(code="BT-DOM"),
        code="energie-tranche-2",
        label="Énergie tranche 2 (nouvelle grille)",
        kind="energy",
        value=140,
        from_kwh=20,
        to_kwh=250,
        vat_applies=True,
        valid_from=TODAY + dt.timedelta(days=1),
    )
    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    assert request.invoices.get(kind=InvoiceKind.BALANCE).total == 49417


def test_the_settled_balance_settles_the_unpaid_invoices_it_took_over(akpakpa, staff):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.REMOVAL_ORDERED
    )
    contract = request.contract
    assert not contract.invoices.filter(state=InvoiceState.VALIDATED).exists()
    assert contract.account_entries.filter(kind=EntryKind.PAYMENT).get().credit == 26417


def test_anticipated_balance_uses_the_reading(akpakpa, staff):
    request = advance(
        create(worked_example_contract(akpakpa), staff),
        staff,
        RequestState.INVOICED,
        timing=Timing.ANTICIPATED,
    )
    invoice = request.invoices.get(kind=InvoiceKind.BALANCE)
    assert (invoice.old_index, invoice.new_index, invoice.days) == (12000, 12300, 30)


def test_a_complementary_invoice_is_settled_without_touching_the_closed_request(akpakpa, staff):
    from procedure import services as steps

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
    from procedure.services import issue_due_orders

    issue_due_orders(TODAY + dt.timedelta(days=10))
    import time_machine

    with time_machine.travel(dt.datetime(2026, 12, 10, 9, 0, tzinfo=dt.UTC), tick=False):
        steps.termination_request_report_removal(
            request,
            actor=staff.arpnt,
            index_read=12360,
            read_on=dt.date(2026, 12, 10),
            cut_done=True,
            safety_steps_confirmed=list(range(1, 9)),
            remarks=[],
        )
        steps.termination_request_sign_removal(request, actor=staff.supervisor)
        confirm_codification(request, actor=staff.acff)
        extra = request.invoices.get(kind=InvoiceKind.COMPLEMENTARY)
        settlement = services.termination_request_settle(
            extra, actor=staff.cashier, amount=extra.total, mode=PaymentMode.CASH
        )
    assert settlement.kind == SettlementKind.COLLECTION
    assert request.events.filter(action="settle").count() == 1
