"""At the counter: the requester signs the printed order (step 3); the reprise's two invoices
are shown as drafts, then validated together as shown (step 2)."""

import pytest

from accounts.rules import StepRefused
from billing import services as billing
from billing.documents import document_issue
from billing.enums import DocumentKind, EntryKind, PaymentMode
from billing.models import Invoice
from contracts.enums import RequestState, TerminationKind, Timing
from contracts.models import Customer
from interventions import services as interventions
from procedure import services
from procedure.selectors import work_queue
from tests.factories import AccountEntryFactory
from tests.workflow import SUCCESSOR, TODAY, create, reload, take_over, worked_example_contract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def tasks(user, request):
    return [item.task for item in work_queue(user, TODAY) if item.request_id == request.pk]


@pytest.fixture
def issued(akpakpa, staff):
    request = create(worked_example_contract(akpakpa), staff)
    services.termination_request_issue_order(
        request, actor=staff.reception, timing=Timing.CLASSIC, cut_date=None
    )
    return request


def test_an_unsigned_order_waits_at_the_counter_not_in_the_readers_queue(issued, staff):
    assert tasks(staff.reception, issued) == [
        "Imprimer l'ordre et le faire signer par le demandeur"
    ]
    assert tasks(staff.reader, issued) == []
    with pytest.raises(StepRefused) as refused:
        services.termination_request_report_field(
            issued,
            actor=staff.reader,
            index_read=12300,
            read_on=TODAY,
            cut_done=True,
            cut_index=12300,
            remarks=[],
        )
    assert refused.value.message == interventions.ORDER_NOT_SIGNED


def test_the_signature_is_recorded_once_and_only_for_a_printed_order(issued, staff):
    with pytest.raises(StepRefused) as refused:
        services.termination_request_record_signature(issued, actor=staff.reception)
    assert refused.value.message == interventions.ORDER_NOT_PRINTED
    order = issued.orders.get()
    billing.document_print_record(
        document_issue(DocumentKind.ORDER, order.pk), actor=staff.reception
    )
    services.termination_request_record_signature(issued, actor=staff.reception)
    order.refresh_from_db()
    assert order.requester_signature_recorded_by == staff.reception
    assert order.requester_signed_at is not None
    event = issued.events.get(action="requester_signed")
    assert (event.step, event.actor, event.data["order"]) == (3, staff.reception, order.number)
    with pytest.raises(StepRefused) as refused:
        services.termination_request_record_signature(issued, actor=staff.reception)
    assert refused.value.message == interventions.ORDER_ALREADY_SIGNED
    assert tasks(staff.reader, issued) == ["Saisir le compte-rendu d'intervention"]
    assert tasks(staff.reception, issued) == []


def test_a_requester_who_never_signs_can_be_cancelled(issued, staff):
    services.termination_request_cancel(issued, actor=staff.reception, reason="Parti sans signer")
    assert reload(issued).state == RequestState.CANCELLED


# --- Step 2 -----------------------------------------------------------------------------------


@pytest.fixture
def reprise(akpakpa, staff):
    return create(worked_example_contract(akpakpa), staff, kind=TerminationKind.WITH_TAKEOVER)


ARGUMENTS = {"successor": SUCCESSOR, "mutation_index": 12300, "mutation_date": TODAY}


def test_the_preview_shows_both_invoices_and_writes_nothing(reprise, staff):
    customers = Customer.objects.count()
    preview = services.termination_request_preview_take_over(
        reprise, actor=staff.reception, **ARGUMENTS
    )
    balance, subscription = preview.balance.invoice, preview.subscription.invoice
    assert (balance.total, balance.balance, balance.number) == (49417, 26417, None)
    assert (subscription.total, subscription.number) == (33000, None)
    assert sorted(line.amount for line in preview.subscription.lines) == [1000, 2000, 30000]
    assert preview.successor.pk is None and preview.successor.name == "ZINSOU Afiavi Bérénice"
    assert (Customer.objects.count(), Invoice.objects.filter(request=reprise).count()) == (
        customers,
        0,
    )
    assert reload(reprise).state == RequestState.RECEIVED and reprise.events.count() == 1
    again = services.termination_request_preview_take_over(
        reprise, actor=staff.reception, **ARGUMENTS
    )
    assert again.digest == preview.digest  # the same figures, the same digest


def test_what_is_validated_is_what_was_shown(reprise, staff):
    preview = services.termination_request_preview_take_over(
        reprise, actor=staff.reception, **ARGUMENTS
    )
    # Between the preview and the validation, the customer pays an advance at the cash desk.
    AccountEntryFactory(contract=reprise.contract, kind=EntryKind.ADVANCE, credit=1000)
    with pytest.raises(StepRefused) as refused:
        services.termination_request_take_over(
            reprise, actor=staff.reception, preview_digest=preview.digest, **ARGUMENTS
        )
    assert refused.value.message == services.TAKEOVER_CHANGED
    assert not Invoice.objects.filter(request=reprise).exists()
    assert not Customer.objects.filter(name="ZINSOU Afiavi Bérénice").exists()
    successor_contract = take_over(reprise, staff)  # previewed again, then validated
    balance = reprise.invoices.get(kind="balance")
    assert (balance.number, balance.balance) == ("FAC-AKP-2026-000001", 25417)
    assert successor_contract.customer.name == "ZINSOU Afiavi Bérénice"


def test_the_takeover_closes_with_an_attestation_once_both_invoices_are_settled(reprise, staff):
    take_over(reprise, staff)
    for invoice in reprise.invoices.order_by("id"):
        services.termination_request_settle(
            invoice, actor=staff.cashier, amount=invoice.balance, mode=PaymentMode.CASH
        )
    request = reload(reprise)
    assert request.state == RequestState.CLOSED
    attestation = request.attestation
    assert (attestation.number, attestation.closed_on, attestation.final_index) == (
        "ATT-AKP-2026-000001",
        TODAY,
        12300,
    )
    assert request.events.get(action="close_takeover").data["attestation"] == attestation.number
