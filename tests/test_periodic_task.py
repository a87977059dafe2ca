import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.enums import InvoiceKind, PaymentMode
from contracts.enums import RequestState, Timing
from interventions.enums import OrderKind
from interventions.models import InterventionOrder
from procedure import services
from procedure.tasks import issue_due_orders_every_morning
from tests.workflow import (
    TODAY,
    advance,
    create,
    reload,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def settled_anticipated(akpakpa, staff):
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
    return request


def on(day: dt.date):
    """The machine's clock on that day (a command refuses a date to come)."""
    import time_machine

    return time_machine.travel(dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC), tick=False)


def test_the_command_issues_the_due_orders_once(settled_anticipated, capsys):
    cut_date = TODAY + dt.timedelta(days=10)
    with on(cut_date - dt.timedelta(days=1)):
        call_command("issue_due_orders", "--date", (cut_date - dt.timedelta(days=1)).isoformat())
    assert reload(settled_anticipated).state == RequestState.SETTLED
    with on(cut_date + dt.timedelta(days=3)):
        call_command("issue_due_orders", "--date", cut_date.isoformat())
        call_command("issue_due_orders", "--date", cut_date.isoformat())
    output = capsys.readouterr().out.splitlines()
    assert output == [
        "0 ordre(s) émis pour le 09/12/2026.",
        "1 ordre(s) émis pour le 10/12/2026.",
        "0 ordre(s) émis pour le 10/12/2026.",
    ]
    assert InterventionOrder.objects.filter(kind=OrderKind.REMOVAL).count() == 1


def test_the_periodic_task_issues_what_is_due_today(settled_anticipated):
    import time_machine

    with time_machine.travel(dt.datetime(2026, 12, 10, 5, 0, tzinfo=dt.UTC), tick=False):
        assert issue_due_orders_every_morning(timestamp=0) == 1
        assert issue_due_orders_every_morning(timestamp=0) == 0
    assert reload(settled_anticipated).state == RequestState.REMOVAL_ORDERED


def test_the_morning_run_leaves_the_order_pdfs_to_the_worker(settled_anticipated):
    from procrastinate.contrib.django.models import ProcrastinateJob

    from billing.enums import DocumentStatus
    from billing.models import Document
    from billing.tasks import render_document

    ProcrastinateJob.objects.filter(task_name="billing.render_document").delete()
    assert issue_due_orders_every_morning(timestamp=0) == 0  # not due yet today
    with on(TODAY + dt.timedelta(days=10)):
        call_command("issue_due_orders", "--date", (TODAY + dt.timedelta(days=10)).isoformat())
    order = InterventionOrder.objects.get(kind=OrderKind.REMOVAL)
    job = ProcrastinateJob.objects.get(task_name="billing.render_document")
    assert (job.queue_name, job.args) == ("documents", {"kind": "order", "pk": order.pk})
    # Written with the order: its row, "en cours de production", nothing rendered in the batch.
    document = Document.objects.get(order=order)
    assert (document.status, bytes(document.content)) == (DocumentStatus.PENDING, b"")
    render_document(**job.args)  # what the worker runs
    assert Document.objects.get(order=order).status == DocumentStatus.READY


def test_the_worker_finds_the_morning_task_where_the_procedure_keeps_it():
    from procrastinate.contrib.django import app

    app.perform_import_paths()  # what `manage.py procrastinate worker` does first
    assert "interventions.issue_due_orders" in app.tasks
    assert "notifications.send" in app.tasks
    assert sorted(name for name, _ in app.periodic_registry.periodic_tasks) == [
        "contracts.anchor_audit",
        "interventions.issue_due_orders",
        "notifications.send_reminders",
        "procedure.refresh_deadlines",
        "procrastinate.retry_stalled_jobs",
    ]


@pytest.mark.parametrize("command", ["issue_due_orders", "transfer_overdue_balances"])
def test_a_command_that_writes_dated_records_refuses_a_date_to_come(
    settled_anticipated, command, settings
):
    from billing.models import AccountTransfer
    from procedure.management.reference_date import FUTURE_DATE

    settings.DEBUG = False
    with pytest.raises(CommandError) as refused:
        call_command(command, "--date", "2027-01-05")
    assert str(refused.value) == FUTURE_DATE.format(day="05/01/2027")
    assert not InterventionOrder.objects.filter(kind=OrderKind.REMOVAL).exists()
    assert not AccountTransfer.objects.exists()
    # The demo (DEBUG on) finishes its anticipated paths ahead of their cut dates.
    settings.DEBUG = True
    call_command("issue_due_orders", "--date", (TODAY + dt.timedelta(days=10)).isoformat())
    assert reload(settled_anticipated).state == RequestState.REMOVAL_ORDERED
