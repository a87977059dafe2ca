"""Rendering time of each kind of document, in a warm process (DESIGN.md §8: a one-page
invoice under 100 ms at the median). Runs on the demo data inside a transaction that is rolled
back, so the database is left as it was.

    make bench-pdf
"""

import datetime as dt
import statistics
import time

from django.core.management.base import BaseCommand

from bench.machine import begin, end, rolled_back
from billing import services as billing
from billing.documents import (
    ORDER_TEMPLATES,
    build_attestation_context,
    build_invoice_context,
    build_order_context,
    build_receipt_context,
    build_successor_contract_context,
    document_issue,
    render_pdf,
    stamp_pdf,
)
from billing.enums import DocumentKind, InvoiceKind, PaymentMode
from billing.models import Attestation
from contracts.enums import OPEN_REQUEST_STATES, RequesterQuality, Role, TerminationKind, Timing
from contracts.models import Contract, TerminationRequest, User
from procedure import services


class Command(BaseCommand):
    help = "Mesure le rendu PDF de chaque type de document (médiane et p95 sur 20 rendus)."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=20)

    def handle(self, *args, runs: int, **options):
        begin(self.stdout, "bench-pdf", queue=False)
        try:
            self.measure_all(runs)
        finally:
            end(self.stdout, "bench-pdf")

    def measure_all(self, runs: int) -> None:
        rolled_back(lambda: self.measure(runs))

    def measure(self, runs: int) -> None:
        staff = {
            role: User.objects.filter(agency__code="AKP", groups__name=role).first()
            for role in Role.values
        }
        contracts = (
            Contract.objects.filter(
                agency__code="AKP", status="active", tariff_category__code="BT-DOM"
            )
            .exclude(termination_requests__state__in=OPEN_REQUEST_STATES)
            .order_by("number")
        )
        first, second, third = contracts[0], contracts[1], contracts[2]

        def create(contract, kind=TerminationKind.WITHOUT_TAKEOVER):
            c = contract.customer
            return services.termination_request_create(
                contract,
                actor=staff[Role.RECEPTION],
                kind=kind,
                requester_name=c.name,
                requester_id_document_type=c.id_document_type,
                requester_id_document_number=c.id_document_number,
                requester_phone=c.phone,
                requester_quality=RequesterQuality.HOLDER,
            )

        today = dt.date.today()
        request = create(first)
        order = services.termination_request_issue_order(
            request, actor=staff[Role.RECEPTION], timing=Timing.CLASSIC, cut_date=None
        )
        # The requester signs the printed order (the rollback keeps it from rendering after
        # commit: it is rendered here).
        printed = document_issue(DocumentKind.ORDER, order.pk)
        billing.document_print_record(printed, actor=staff[Role.RECEPTION])
        services.termination_request_record_signature(request, actor=staff[Role.RECEPTION])
        index = first.last_billed_index + 150
        services.termination_request_report_field(
            request,
            actor=staff[Role.READER],
            index_read=index,
            read_on=today,
            cut_done=True,
            cut_index=index,
            remarks=[],
            high_consumption_confirmed=True,
        )
        services.termination_request_approve_report(request, actor=staff[Role.SUPERVISOR])
        draft = services.termination_request_compute_invoice(request, actor=staff[Role.RECEPTION])
        invoice = services.termination_request_invoice(
            request, actor=staff[Role.RECEPTION], draft_digest=billing.invoice_digest(draft)
        )
        data = {"amount": abs(invoice.balance), "mode": PaymentMode.CASH}
        if invoice.balance < 0:
            deposit = first.deposit
            data.update(
                beneficiary_id_document_type=deposit.payer_id_document_type,
                beneficiary_id_document_number=deposit.payer_id_document_number,
            )
        settlement = services.termination_request_settle(invoice, actor=staff[Role.CASHIER], **data)
        removal = request.orders.get(kind="removal")

        takeover = create(second, TerminationKind.WITH_TAKEOVER)
        reprise = {
            "successor": {
                "id_document_type": "cni",
                "id_document_number": "9990001112",
                "name": "AHOLOU Sèna Arnaud",
                "phone": "0197000000",
                "address": "Quartier Agbato, Cotonou",
            },
            "mutation_index": second.last_billed_index + 100,
            "mutation_date": today,
            "high_consumption_confirmed": True,
        }
        preview = services.termination_request_preview_take_over(
            takeover, actor=staff[Role.RECEPTION], **reprise
        )
        services.termination_request_take_over(
            takeover, actor=staff[Role.RECEPTION], preview_digest=preview.digest, **reprise
        )
        takeover = TerminationRequest.objects.get(pk=takeover.pk)  # as the service left it
        subscription = takeover.invoices.exclude(state="cancelled").get(
            kind=InvoiceKind.SUBSCRIPTION
        )
        for bill in takeover.invoices.order_by("id"):
            data = {"amount": abs(bill.balance), "mode": PaymentMode.CASH}
            if bill.balance < 0:
                data.update(
                    beneficiary_id_document_type=second.deposit.payer_id_document_type,
                    beneficiary_id_document_number=second.deposit.payer_id_document_number,
                )
            services.termination_request_settle(bill, actor=staff[Role.CASHIER], **data)
        attestation = Attestation.objects.get(request=takeover)
        stored_invoice = document_issue(DocumentKind.INVOICE, invoice.pk)

        anticipated = create(third)
        reading = services.termination_request_issue_order(
            anticipated,
            actor=staff[Role.RECEPTION],
            timing=Timing.ANTICIPATED,
            cut_date=today + dt.timedelta(days=7),
        )

        kinds = {
            "ordre d'interruption et de relève": (
                ORDER_TEMPLATES[order.kind],
                lambda: build_order_context(order),
                None,
            ),
            "ordre de relève d'index": (
                ORDER_TEMPLATES[reading.kind],
                lambda: build_order_context(reading),
                None,
            ),
            "ordre de dépose": (
                ORDER_TEMPLATES[removal.kind],
                lambda: build_order_context(removal),
                None,
            ),
            "facture de solde (PDF/A-3b)": (
                "documents/invoice.html",
                lambda: build_invoice_context(invoice),
                "pdf/a-3b",
            ),
            "facture d'abonnement (PDF/A-3b)": (
                "documents/invoice.html",
                lambda: build_invoice_context(subscription),
                "pdf/a-3b",
            ),
            "reçu de caisse": (
                "documents/receipt.html",
                lambda: build_receipt_context(settlement),
                None,
            ),
            "contrat du repreneur": (
                "documents/successor_contract.html",
                lambda: build_successor_contract_context(takeover),
                None,
            ),
            "attestation de résiliation (PDF/A-3b)": (
                "documents/attestation.html",
                lambda: build_attestation_context(attestation),
                "pdf/a-3b",
            ),
        }
        render_pdf(
            *kinds["facture de solde (PDF/A-3b)"][:1], kinds["facture de solde (PDF/A-3b)"][1]()
        )  # warm-up
        self.stdout.write(f"Rendu PDF, processus chaud, {runs} rendus par document :")
        for label, (template, build, variant) in kinds.items():
            context = build()
            samples = []
            cpu = time.process_time()
            for _ in range(runs):
                start = time.perf_counter()
                render_pdf(template, context, pdf_variant=variant)
                samples.append((time.perf_counter() - start) * 1000)
            cpu_ms = (time.process_time() - cpu) * 1000 / runs
            p95 = statistics.quantiles(samples, n=20)[-1]
            self.stdout.write(
                f"  {label:<38} médiane {statistics.median(samples):6.1f} ms   p95 {p95:6.1f} ms"
                f"   CPU {cpu_ms:6.1f} ms/document"
            )
        # A reprint: the stored invoice with "DUPLICATA n° k" laid over it.
        original = bytes(stored_invoice.content)
        samples = []
        for copy in range(1, runs + 1):
            start = time.perf_counter()
            stamp_pdf(original, banner=f"DUPLICATA n° {copy}")
            samples.append((time.perf_counter() - start) * 1000)
        p95 = statistics.quantiles(samples, n=20)[-1]
        label = "duplicata d'une facture (tampon)"
        self.stdout.write(
            f"  {label:<38} médiane {statistics.median(samples):6.1f} ms   p95 {p95:6.1f} ms"
        )
