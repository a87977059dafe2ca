"""Demo requests at every stage, so that the queues, the dashboards and the controller's pages
of a fresh `make run` show something: for Akpakpa and Parakou, requests received, with an order
out for too long, waiting for a signature, invoiced, transferred to recovery, waiting for the
removal, closed weeks ago. Each is driven through the procedure's own services by the demo
staff of its agency, on the days it would have happened (the clock of this command is moved
back: events, documents and délais say those days). Once: nothing is done when the demo
agencies already have requests.
"""

import contextlib
import datetime as dt
from unittest import mock

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from billing import services as billing
from billing.documents import document_issue
from billing.enums import DocumentKind, InvoiceKind, PaymentMode
from billing.selectors import usual_consumption
from contracts.enums import (
    ContractStatus,
    RequesterQuality,
    RequestState,
    TerminationKind,
    Timing,
    Voltage,
)
from contracts.models import Contract, TerminationRequest, User
from interventions.enums import FIELD_ORDER_KINDS
from procedure import services

# Each story: the days ago of its steps, from the request to the codification; it stops where
# its list of days stops.
STEPS = ["create", "order", "report", "approve", "invoice", "settle", "removal", "sign", "close"]
STORIES = [
    [1],  # received yesterday
    [1, 1],  # order out since yesterday
    [7, 6],  # order out six days ago: late (3 days)
    [9, 8, 4],  # report entered four days ago, not signed: late (1 day)
    [12, 11, 9, 8, 7],  # invoiced a week ago, to settle (30 days)
    [26, 25, 23, 22, 21, 20],  # settled, the removal order out for 20 days: late (5 days)
    [28, 27, 26, 25, 24, 23, 19],  # removal done, not signed: late (1 day)
    [27, 26, 25, 24, 23, 22, 20, 19, 18],  # closed 18 days ago
    [20, 19, 17, 16, 15, 13, 10, 9, 8],  # closed last week
    [14, 13, 12, 11, 10, 9, 5, 4, 3],  # closed three days ago
]
AGENCIES = {"AKP": "akp", "PKO": "pko"}


@contextlib.contextmanager
def days_ago(days: int):
    """Every timezone.now() of the services answers `days` days earlier (at the same hour)."""
    real_now = timezone.now
    with mock.patch("django.utils.timezone.now", lambda: real_now() - dt.timedelta(days=days)):
        yield


class Staff:
    def __init__(self, prefix: str):
        users = {u.username: u for u in User.objects.filter(username__startswith=f"{prefix}.")}
        self.reception = users[f"{prefix}.accueil"]
        self.reader = users[f"{prefix}.releve"]
        self.supervisor = users[f"{prefix}.chef"]
        self.cashier = users[f"{prefix}.caisse"]
        self.arpnt = users[f"{prefix}.arpnt"]
        self.acff = users[f"{prefix}.acff"]


class Command(BaseCommand):
    help = "Ajoute des demandes de démonstration à chaque étape (une seule fois)."

    def handle(self, *args, **options):
        made = 0
        for code, prefix in AGENCIES.items():
            if TerminationRequest.objects.filter(agency__code=code).exists():
                continue
            staff = Staff(prefix)
            contracts = list(
                Contract.objects.filter(
                    agency__code=code,
                    status=ContractStatus.ACTIVE,
                    tariff_category__voltage=Voltage.BT,
                    deposit__isnull=False,
                ).order_by("number")[: len(STORIES)]
            )
            for contract, story in zip(contracts, STORIES, strict=False):
                # A reading is never dated before the contract's last billed index.
                horizon = (timezone.localdate() - contract.last_billed_date).days - 1
                if max(story[2:], default=0) > horizon:
                    continue
                with transaction.atomic():
                    self.tell(contract, story, staff)
                made += 1
        self.stdout.write(f"{made} demandes de démonstration ajoutées.")

    def tell(self, contract: Contract, story: list[int], staff: Staff) -> None:
        request = None
        for step, days in zip(STEPS, story, strict=False):
            with days_ago(days):
                request = getattr(self, step)(contract, request, staff)

    def create(self, contract, request, staff):
        customer = contract.customer
        return services.termination_request_create(
            contract,
            actor=staff.reception,
            kind=TerminationKind.WITHOUT_TAKEOVER,
            requester_name=customer.name,
            requester_id_document_type=customer.id_document_type,
            requester_id_document_number=customer.id_document_number,
            requester_phone=customer.phone,
            requester_quality=RequesterQuality.HOLDER,
        )

    def order(self, contract, request, staff):
        services.termination_request_issue_order(
            request, actor=staff.reception, timing=Timing.CLASSIC, cut_date=None
        )
        order = request.orders.get(kind__in=FIELD_ORDER_KINDS)
        billing.document_print_record(
            document_issue(DocumentKind.ORDER, order.pk), actor=staff.reception
        )
        services.termination_request_record_signature(_reload(request), actor=staff.reception)
        return request

    def report(self, contract, request, staff):
        # About what the contract usually uses: never a high consumption to confirm.
        days = (timezone.localdate() - contract.last_billed_date).days
        index = contract.last_billed_index + max(1, usual_consumption(contract, days))
        services.termination_request_report_field(
            _reload(request),
            actor=staff.reader,
            index_read=index,
            read_on=timezone.localdate(),
            cut_done=True,
            cut_index=index,
            remarks=[],
        )
        return request

    def approve(self, contract, request, staff):
        services.termination_request_approve_report(_reload(request), actor=staff.supervisor)
        return request

    def invoice(self, contract, request, staff):
        # As at the counter: the draft computed and shown, then validated as shown.
        draft = services.termination_request_compute_invoice(
            _reload(request), actor=staff.reception
        )
        services.termination_request_invoice(
            _reload(request), actor=staff.reception, draft_digest=billing.invoice_digest(draft)
        )
        return request

    def settle(self, contract, request, staff):
        invoice = _reload(request).invoices.get(kind=InvoiceKind.BALANCE)
        refund = {}
        if invoice.balance < 0:
            deposit = contract.deposit
            refund = {
                "beneficiary_id_document_type": deposit.payer_id_document_type,
                "beneficiary_id_document_number": deposit.payer_id_document_number,
            }
        services.termination_request_settle(
            invoice,
            actor=staff.cashier,
            amount=abs(invoice.balance),
            mode=PaymentMode.CASH,
            **refund,
        )
        return request

    def removal(self, contract, request, staff):
        request = _reload(request)
        if request.state != RequestState.REMOVAL_ORDERED:
            return request
        report = request.orders.filter(kind__in=FIELD_ORDER_KINDS).get().reports.get()
        services.termination_request_report_removal(
            request,
            actor=staff.arpnt,
            index_read=report.final_index,
            read_on=timezone.localdate(),
            cut_done=True,
            remarks=[],
            safety_steps_confirmed=list(range(1, 9)),
        )
        return request

    def sign(self, contract, request, staff):
        services.termination_request_sign_removal(_reload(request), actor=staff.supervisor)
        return request

    def close(self, contract, request, staff):
        # As at the ACFF's desk: a complementary invoice, if any, shown then confirmed.
        preview = services.termination_request_codification_preview(_reload(request))
        services.termination_request_confirm_codification(
            _reload(request),
            actor=staff.acff,
            shown=services.complementary_digest(preview) if preview else "",
        )
        return request


def _reload(request: TerminationRequest) -> TerminationRequest:
    return TerminationRequest.objects.get(pk=request.pk)
