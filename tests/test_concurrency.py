"""Two agents, two database connections, the same action at the same moment: exactly one
effect, and a clear refusal for the other."""

import datetime as dt
import threading

import pytest
from django.db import connection

from accounts.rules import StepRefused
from billing.enums import InvoiceKind, PaymentMode
from billing.models import Invoice, Settlement
from contracts.enums import RequestState, Role, Timing
from interventions.enums import OrderKind
from interventions.models import InterventionOrder
from procedure import services
from procedure.services import issue_due_orders
from tests.factories import UserFactory
from tests.workflow import TODAY, advance, create, reload, validate_invoice, worked_example_contract

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("frozen_today"),
]


def race(*calls):
    """Run the calls in threads released together; each thread has its own connection."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = ("ok", call())
        except Exception as error:  # the outcome is what the test inspects
            results[i] = ("refused", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_supervisors_signing_the_same_report_sign_it_once(akpakpa, staff):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.FIELD_REPORTED
    )
    other = UserFactory(username="akp.chef2", agency=akpakpa, roles=[Role.SUPERVISOR])
    results = race(
        lambda: services.termination_request_approve_report(request, actor=staff.supervisor),
        lambda: services.termination_request_approve_report(request, actor=other),
    )
    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["ok", "refused"]
    refusal = next(value for kind, value in results if kind == "refused")
    assert isinstance(refusal, StepRefused)
    assert request.events.filter(action="approve_report").count() == 1
    assert reload(request).state == RequestState.REPORT_APPROVED


def test_two_cashiers_settling_the_same_invoice_settle_it_once(akpakpa, staff):
    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    invoice = request.invoices.get(kind=InvoiceKind.BALANCE)
    other = UserFactory(username="akp.caisse2", agency=akpakpa, roles=[Role.CASHIER])

    def settle(cashier):
        return services.termination_request_settle(
            invoice, actor=cashier, amount=26417, mode=PaymentMode.CASH
        )

    results = race(lambda: settle(staff.cashier), lambda: settle(other))
    assert sorted(kind for kind, _ in results) == ["ok", "refused"]
    refusal = next(value for kind, value in results if kind == "refused")
    assert refusal.message.startswith("Cette facture est déjà réglée (reçu REC-AKP-2026-")
    assert Settlement.objects.filter(invoice=invoice).count() == 1
    assert reload(request).state == RequestState.REMOVAL_ORDERED


def test_two_validations_at_once_take_two_consecutive_numbers(akpakpa, staff):
    first = advance(
        create(worked_example_contract(akpakpa, "1010000001"), staff),
        staff,
        RequestState.REPORT_APPROVED,
    )
    second = advance(
        create(worked_example_contract(akpakpa, "1010000002"), staff),
        staff,
        RequestState.REPORT_APPROVED,
    )
    other = UserFactory(username="akp.accueil2", agency=akpakpa, roles=[Role.RECEPTION])
    results = race(
        lambda: validate_invoice(first, actor=staff.reception),
        lambda: validate_invoice(second, actor=other),
    )
    assert [kind for kind, _ in results] == ["ok", "ok"]
    numbers = sorted(
        Invoice.objects.filter(kind=InvoiceKind.BALANCE).values_list("number", flat=True)
    )
    assert numbers == ["FAC-AKP-2026-000001", "FAC-AKP-2026-000002"]


def test_two_workers_issue_each_due_order_once(akpakpa, staff):
    requests = []
    for n in range(6):
        request = create(worked_example_contract(akpakpa, f"101000010{n}"), staff)
        request = advance(request, staff, RequestState.INVOICED, timing=Timing.ANTICIPATED)
        services.termination_request_settle(
            request.invoices.get(kind=InvoiceKind.BALANCE),
            actor=staff.cashier,
            amount=26417,
            mode=PaymentMode.CASH,
        )
        requests.append(request)
    due = TODAY + dt.timedelta(days=10)  # the anticipated cut date
    results = race(
        lambda: issue_due_orders(due, batch_size=2),
        lambda: issue_due_orders(due, batch_size=2),
    )
    assert [kind for kind, _ in results] == ["ok", "ok"]
    assert sum(value for _, value in results) == 6
    assert InterventionOrder.objects.filter(kind=OrderKind.REMOVAL).count() == 6
    numbers = sorted(InterventionOrder.objects.values_list("number", flat=True))
    assert numbers == [f"OI-AKP-2026-{n:06d}" for n in range(1, 13)]  # no gap, no double
    assert all(reload(r).state == RequestState.REMOVAL_ORDERED for r in requests)
    assert issue_due_orders(due) == 0  # a third run finds nothing left


def test_a_settlement_never_lands_after_the_arrete_of_the_same_desk(akpakpa, staff):
    """The arrêté is being signed (its transaction open, the cashier's row locked) when the same
    cashier's other window settles an invoice: the settlement waits for the arrêté, then is
    refused; it never slips in after the day's totals were frozen."""
    import time

    from django.db import transaction

    from billing import services as billing
    from billing.models import CashClosing
    from tests.workflow import close_cash_desk

    invoice = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED
    ).invoices.get(kind=InvoiceKind.BALANCE)
    signed, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def arrete():
        try:
            with transaction.atomic():
                close_cash_desk(staff.cashier, TODAY)
                signed.set()
                release.wait(120)  # held open until the settlement is seen waiting
        finally:
            connection.close()

    def settle():
        signed.wait(120)
        try:
            services.termination_request_settle(
                invoice, actor=staff.cashier, amount=26417, mode=PaymentMode.CASH
            )
            outcome["settle"] = "ok"
        except StepRefused as refused:
            outcome["settle"] = refused.message
        finally:
            connection.close()

    threads = [threading.Thread(target=arrete), threading.Thread(target=settle)]
    for thread in threads:
        thread.start()
    # The settlement must be waiting on the desk's lock while the arrêté is open (a generous
    # deadline: a busy machine only makes it longer to get there).
    waiting, deadline = False, time.monotonic() + 120
    with connection.cursor() as cursor:
        while not waiting and time.monotonic() < deadline and threads[1].is_alive():
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            waiting = cursor.fetchone()[0] > 0
            time.sleep(0.1)
    release.set()
    for thread in threads:
        thread.join(timeout=120)
    assert waiting, outcome
    assert outcome["settle"] == billing.CASH_CLOSED.format(day="30/11/2026")
    assert not Settlement.objects.filter(invoice=invoice).exists()
    assert CashClosing.objects.get().collected == 0
