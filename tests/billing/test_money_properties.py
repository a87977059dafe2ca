"""Properties of the money side, over generated cases (Hypothesis) on the real database: the
account's balance is what its documents say after any sequence of operations; a credit note
is the exact negative of its invoice; a complementary invoice is the computation of its period."""

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.rules import StepRefused
from billing import services as billing
from billing.computation import compute_consumption_invoice
from billing.enums import InvoiceKind, InvoiceState
from billing.models import Invoice
from billing.selectors import contract_account, tariff_items_in_force
from contracts.enums import RequestState
from contracts.models import Contract, Deposit
from contracts.money import format_fcfa
from procedure import services
from tests.workflow import (
    TODAY,
    advance,
    create,
    credit_shown,
    reload,
    validate_invoice,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Rollback(Exception):
    pass


def in_savepoint(check):
    """Each generated case on a fresh request, rolled back afterwards."""
    try:
        with transaction.atomic():
            check()
            raise Rollback
    except Rollback:
        pass


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(1, 60_000)),
        st.tuples(st.just("invoice"), st.just(0)),
        st.tuples(st.just("credit_note"), st.just(0)),
        st.tuples(st.just("settle"), st.just(0)),
        st.tuples(st.just("transfer"), st.just(0)),
    ),
    max_size=8,
)


@SETTINGS
@given(operations=OPERATIONS, deposit=st.integers(0, 120_000))
def test_the_account_balance_is_what_its_documents_say(akpakpa, staff, operations, deposit):
    """Expected balance, from the documents alone: the unpaid consumption invoice, minus the
    advances, plus the balance invoice in force (its total less the deposit it applied), minus
    what was collected, plus what was refunded. Settled: zero; transferred: the amount handed
    to the apurement, as a debt or a credit."""

    def check():
        contract = worked_example_contract(akpakpa, number="1010007000")
        Deposit.objects.filter(contract=contract).update(amount=deposit)
        request = advance(create(contract, staff), staff, RequestState.REPORT_APPROVED)
        advances, collected, refunded = 5000, 0, 0  # the worked example holds a 5 000 advance
        for operation, amount in operations:
            request = reload(request)
            try:
                match operation:
                    case "advance":
                        billing.account_advance_record(
                            Contract.objects.get(pk=contract.pk),
                            actor=staff.cashier,
                            amount=amount,
                            mode="cash",
                        )
                        advances += amount
                    case "invoice":
                        validate_invoice(request, actor=staff.reception)
                    case "credit_note":
                        services.termination_request_cancel_balance_invoice(
                            request,
                            actor=staff.supervisor,
                            reason="Contrôle",
                            shown=credit_shown(request),
                        )
                    case "settle":
                        invoice = request.invoices.get(
                            kind=InvoiceKind.BALANCE, state=InvoiceState.VALIDATED
                        )
                        payer = Deposit.objects.get(contract=contract)
                        settlement = services.termination_request_settle(
                            invoice,
                            actor=staff.cashier,
                            amount=abs(invoice.balance),
                            mode="cash",
                            beneficiary_id_document_type=payer.payer_id_document_type,
                            beneficiary_id_document_number=payer.payer_id_document_number,
                        )
                        if settlement.kind == "collection":
                            collected += settlement.amount
                        elif settlement.kind == "refund":
                            refunded += settlement.amount
                    case "transfer":
                        services.transfer_overdue_balances(TODAY + dt.timedelta(days=90))
            except (StepRefused, Invoice.DoesNotExist):
                pass  # not possible at this point of the sequence: it goes on
            in_force = request.invoices.filter(
                kind=InvoiceKind.BALANCE, state__in=billing.BILLED_STATES
            ).first()
            applied = in_force.total - in_force.deposit_amount if in_force else 0
            expected = 12000 - advances + applied - collected + refunded
            account = contract_account(Contract.objects.get(pk=contract.pk))
            assert account.balance == expected
            assert account.balance == sum(e.debit - e.credit for e in account.entries)
            if in_force is not None and in_force.state == InvoiceState.SETTLED:
                assert account.balance == 0
            if in_force is not None and in_force.state == InvoiceState.TRANSFERRED:
                assert account.balance == in_force.balance

    in_savepoint(check)


@SETTINGS
@given(consumption=st.integers(0, 3000), days=st.integers(0, 60))
def test_a_credit_note_is_the_exact_negative_of_its_invoice(akpakpa, staff, consumption, days):
    def check():
        contract = worked_example_contract(akpakpa, number="1010007001")
        Contract.objects.filter(pk=contract.pk).update(
            last_billed_date=TODAY - dt.timedelta(days=days)
        )
        request = create(Contract.objects.get(pk=contract.pk), staff)
        request = advance(request, staff, RequestState.ORDER_ISSUED)
        services.termination_request_report_field(
            request,
            actor=staff.reader,
            index_read=12000 + consumption,
            read_on=TODAY,
            cut_done=True,
            cut_index=12000 + consumption,
            remarks=[],
            high_consumption_confirmed=True,
        )
        services.termination_request_approve_report(request, actor=staff.supervisor)
        invoice = validate_invoice(request, actor=staff.reception)
        note = services.termination_request_cancel_balance_invoice(
            request, actor=staff.supervisor, reason="Contrôle", shown=credit_shown(request)
        )
        lines = list(note.lines.all())
        expected = [(line.label, line.basis, -line.amount) for line in invoice.lines.all()]
        if invoice.vat_amount:
            vat_basis = f"{invoice.vat_rate} % × {format_fcfa(invoice.vat_base)}"
            expected.append((f"TVA {invoice.vat_rate} %", vat_basis, -invoice.vat_amount))
        assert [(line.label, line.basis, line.amount) for line in lines] == expected
        assert note.total == -invoice.total == sum(line.amount for line in lines)

    in_savepoint(check)


@SETTINGS
@given(days=st.integers(0, 40), kwh=st.integers(0, 2000))
def test_the_complementary_invoice_is_the_computation_of_its_period(akpakpa, staff, days, kwh):
    def check():
        contract = worked_example_contract(akpakpa, number="1010007002")
        request = advance(
            create(contract, staff), staff, RequestState.INVOICED, timing="anticipated"
        )
        balance = request.invoices.get(kind=InvoiceKind.BALANCE)
        final_date = balance.period_end + dt.timedelta(days=days)
        extra = billing.complementary_invoice_create(
            request,
            final_index=balance.new_index + kwh,
            final_date=final_date,
            actor=staff.acff,
        )
        if days == 0 and kwh == 0:
            assert extra is None  # no day, no kWh: nothing to bill
            return
        expected = compute_consumption_invoice(
            items=tariff_items_in_force(contract.tariff_category, final_date),
            power_kva=contract.subscribed_power_kva,
            zone="sud",
            last_index=balance.new_index,
            last_date=balance.period_end,
            final_index=balance.new_index + kwh,
            final_date=final_date,
            digits=contract.meter.digits,
        )
        assert (extra.total, extra.days, extra.consumption) == (
            expected.total,
            max(1, days),
            kwh,
        )
        assert [line.amount for line in extra.lines.all()] == [
            line.amount for line in expected.lines
        ]

    in_savepoint(check)
