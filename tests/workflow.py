"""Building blocks for tests that need a request at a given step of the procedure."""

import contextlib
import datetime as dt
import json

from billing import services as billing
from billing.documents import document_issue
from billing.enums import DocumentKind, EntryKind, PaymentMode
from contracts.enums import RequesterQuality, RequestState, TerminationKind, Timing
from contracts.models import Deposit, TerminationRequest
from interventions.enums import FIELD_ORDER_KINDS, Remark
from procedure import services
from tests.factories import (
    AccountEntryFactory,
    ContractFactory,
    CustomerFactory,
    InvoiceFactory,
    TariffCategoryFactory,
)

TODAY = dt.date(2026, 11, 30)  # 30 days after the last billed index of 31/10/2026
FROZEN_NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
ALL_SAFETY_STEPS = list(range(1, 9))
SUCCESSOR = {
    "name": "ZINSOU Afiavi Bérénice",
    "id_document_type": "cip",
    "id_document_number": "9988776655",
    "phone": "0161000000",
    "address": "Quartier Sègbèya, carré 90, Cotonou",
}


def validate_invoice(request, *, actor):
    """Step 6 as at the counter: the draft computed and shown, then validated with its digest."""
    draft = services.termination_request_compute_invoice(request, actor=actor)
    return services.termination_request_invoice(
        request, actor=actor, draft_digest=billing.invoice_digest(draft)
    )


def confirm_codification(request, *, actor):
    """Step 9 at the ACFF's desk: the complementary invoice, if any, shown then confirmed."""
    preview = services.termination_request_codification_preview(reload(request))
    shown = services.complementary_digest(preview) if preview else ""
    return services.termination_request_confirm_codification(request, actor=actor, shown=shown)


def credit_shown(request) -> str:
    """The digest of the invoices the credit-note page shows for the request."""
    return billing.invoices_digest(services.credit_note_shown(reload(request)))


def refund_shown(invoice) -> str:
    """The digest of the refund the authorisation page shows."""
    return billing.invoices_digest([type(invoice).objects.get(pk=invoice.pk)])


def close_cash_desk(cashier, day):
    """The arrêté de caisse as at the counter: the totals shown, then certified by their digest."""
    shown = billing.cash_totals_digest(billing.cash_day_totals(cashier, day))
    return billing.cash_closing_close(actor=cashier, day=day, shown=shown)


def worked_example_contract(agency, number="1010004512"):
    """DESIGN.md §5's example: BT-DOM, 6 kVA, zone Sud, last index 12 000 on 31/10/2026 (about
    10 kWh a day), 12 000 unpaid, a 5 000 advance, a 30 000 deposit paid by the holder."""
    customer = CustomerFactory(
        name="HOUNKPATIN Codjo Marcel", id_document_number=f"12{number[-8:]}"
    )
    contract = ContractFactory(
        number=number,
        agency=agency,
        customer=customer,
        last_billed_index=12000,
        last_billed_date=dt.date(2026, 10, 31),
        start_date=dt.date(2023, 7, 19),
    )
    unpaid = InvoiceFactory(contract=contract, total=12000)
    AccountEntryFactory(
        contract=contract,
        kind=EntryKind.INVOICE,
        debit=12000,
        credit=0,
        invoice=unpaid,
        label="Facture de consommation",
    )
    AccountEntryFactory(contract=contract, kind=EntryKind.ADVANCE, credit=5000)
    return contract


def create(contract, staff, kind=TerminationKind.WITHOUT_TAKEOVER):
    return services.termination_request_create(
        contract,
        actor=staff.reception,
        kind=kind,
        requester_name="HOUNKPATIN Codjo Marcel",
        requester_id_document_type="cni",
        requester_id_document_number=contract.customer.id_document_number,
        requester_phone="01 97 12 34 56",
        requester_quality=RequesterQuality.HOLDER,
    )


def reload(request):
    return TerminationRequest.objects.get(pk=request.pk)


def sign(request, staff):
    """Step 3's second half: reception prints the order (rendered here if the test's
    transaction kept it from rendering after commit) and records the requester's signature."""
    order = request.orders.get(kind__in=FIELD_ORDER_KINDS)
    document = document_issue(DocumentKind.ORDER, order.pk)
    billing.document_print_record(document, actor=staff.reception)
    return services.termination_request_record_signature(request, actor=staff.reception)


def issue_and_sign(request, staff, *, timing=Timing.CLASSIC, cut_date=None, assignee=None):
    order = services.termination_request_issue_order(
        request, actor=staff.reception, timing=timing, cut_date=cut_date, assignee=assignee
    )
    sign(request, staff)
    return order


def take_over(request, staff, *, successor=SUCCESSOR, mutation_index=12300, mutation_date=TODAY):
    """Step 2 as the page does it: both invoices previewed, then validated as shown."""
    arguments = {
        "successor": successor,
        "mutation_index": mutation_index,
        "mutation_date": mutation_date,
    }
    preview = services.termination_request_preview_take_over(
        request, actor=staff.reception, **arguments
    )
    return services.termination_request_take_over(
        request, actor=staff.reception, preview_digest=preview.digest, **arguments
    )


def advance(request, staff, until: str, *, timing=Timing.CLASSIC):
    """Drive a BT request without reprise through the steps until it reaches `until`."""
    steps = [
        (
            RequestState.RECEIVED,
            lambda r: issue_and_sign(
                r,
                staff,
                timing=timing,
                cut_date=TODAY + dt.timedelta(days=10) if timing == Timing.ANTICIPATED else None,
            ),
        ),
        (
            RequestState.ORDER_ISSUED,
            lambda r: services.termination_request_report_field(
                r,
                actor=staff.reader,
                index_read=12300,
                read_on=TODAY,
                cut_done=timing == Timing.CLASSIC,
                cut_index=12300 if timing == Timing.CLASSIC else None,
                remarks=[],
            ),
        ),
        (
            RequestState.FIELD_REPORTED,
            lambda r: services.termination_request_approve_report(r, actor=staff.supervisor),
        ),
        (
            RequestState.REPORT_APPROVED,
            lambda r: validate_invoice(r, actor=staff.reception),
        ),
        (
            RequestState.INVOICED,
            lambda r: services.termination_request_settle(
                r.invoices.get(kind="balance"),
                actor=staff.cashier,
                amount=26417,
                mode=PaymentMode.CASH,
            ),
        ),
        (
            RequestState.REMOVAL_ORDERED,
            lambda r: services.termination_request_report_removal(
                r,
                actor=staff.arpnt,
                index_read=12300,
                read_on=TODAY,
                cut_done=True,
                safety_steps_confirmed=ALL_SAFETY_STEPS,
                remarks=[Remark.ROTTEN_PANEL],
            ),
        ),
    ]
    for state, step in steps:
        request = reload(request)
        if request.state == until:
            return request
        if request.state == state:
            step(request)
    request = reload(request)
    assert request.state == until, request.state
    return request


def mt_example_contract(agency):
    """An MT-GEN contract: 160 kVA, last index 500 000, a 3 200 000 deposit."""
    mt = TariffCategoryFactory(code="MT-GEN")
    customer = CustomerFactory(
        kind="company",
        name="Savonnerie de l'Ouémé SARL",
        id_document_type="rccm",
        id_document_number="RB/COT/19 B 2456",
    )
    return ContractFactory(
        agency=agency,
        customer=customer,
        tariff_category=mt,
        delivery_point__voltage="mt",
        subscribed_power_kva=160,
        last_billed_index=500000,
        meter__digits=7,
        deposit__amount=3_200_000,
        deposit__payer_name="Savonnerie de l'Ouémé SARL",
    )


def mt_until_settled(mt_contract, staff, timing, cut_date=None):
    request = create(mt_contract, staff)
    issue_and_sign(request, staff, timing=timing, cut_date=cut_date)
    cut = timing == Timing.CLASSIC
    services.termination_request_report_field(
        request,
        actor=staff.reader,
        index_read=510000,
        read_on=TODAY,
        cut_done=cut,
        cut_index=510000 if cut else None,
        remarks=[],
        high_consumption_confirmed=True,
    )
    if cut:
        services.termination_request_approve_report(request, actor=staff.supervisor)
    invoice = validate_invoice(request, actor=staff.reception)
    assert invoice.balance < 0  # the MT deposit exceeds the last month
    deposit = Deposit.objects.get(contract=mt_contract)
    services.termination_request_settle(
        invoice,
        actor=staff.cashier,
        amount=-invoice.balance,
        mode=PaymentMode.TRANSFER,
        reference="VIR-2026-1130",
        beneficiary_id_document_type=deposit.payer_id_document_type,
        beneficiary_id_document_number=deposit.payer_id_document_number,
    )
    return reload(request)


@contextlib.contextmanager
def documents_rendered():
    """The block's actions, then the worker's rendering of the documents they queued."""
    yield
    render_queued_documents()


def render_queued_documents() -> int:
    """What the worker does with the rendering jobs queued so far: the tests run inside a
    transaction that the worker's own connection cannot see, so the jobs are taken here and run
    through the task itself (tests/test_serve.py runs the real workers)."""
    from django.db import connection
    from procrastinate.contrib.django import app

    with connection.cursor() as cursor:
        cursor.execute(
            "WITH done AS (DELETE FROM procrastinate_jobs WHERE status = 'todo'"
            " AND queue_name = 'documents' RETURNING id, task_name, args)"
            " SELECT task_name, args FROM done ORDER BY id"
        )
        jobs = cursor.fetchall()
    for task_name, args in jobs:
        app.tasks[task_name](**(json.loads(args) if isinstance(args, str) else args))
    return len(jobs)
