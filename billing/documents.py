"""The printed documents: context builders (pure, testable without WeasyPrint), one render
function, and the issuing that stores each document once.

Rendering reads static files and fonts from disk only: the URL fetcher refuses anything that is
not a data: URI or a file under static/, so a document never depends on a web server (ours
included) or on the machine's fonts."""

import hashlib
import logging
from pathlib import Path
from urllib.parse import unquote, urlparse

import segno
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from billing.amount_words import francs_cfa_in_words
from billing.enums import DocumentKind, DocumentStatus, InvoiceKind, SettlementKind
from billing.models import Document, Invoice, Settlement
from contracts.models import Contract, TerminationRequest
from interventions.enums import SAFETY_STEPS, OrderKind
from interventions.models import InterventionOrder

logger = logging.getLogger(__name__)

STATIC_DIR = (Path(settings.BASE_DIR) / "static").resolve()
BASE_URL = STATIC_DIR.as_uri() + "/"


class RefusedURL(ValueError):
    pass


class StaticOnlyFetcher(URLFetcher):
    """data: URIs and files under static/; nothing else, and a refusal stops the rendering."""

    def __init__(self):
        super().__init__(fail_on_errors=True, allowed_protocols={"file", "data"})

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url.startswith("file:"):
            path = Path(unquote(urlparse(url).path)).resolve()
            if path.is_relative_to(STATIC_DIR) and path.is_file():
                return super().fetch(url, headers)
        raise RefusedURL(f"Ressource refusée pendant le rendu : {url}")


# Made once per process: the fonts, the stylesheet and the fetcher (whose construction sets up
# an SSL context it will never use) are the bulk of a render's set-up. The fetcher only reads
# files and data: URIs, which keep no state between calls, so renders may share it.
_FONT_CONFIG = None
_STYLESHEET = None
_FETCHER = None


def _shared():
    global _FONT_CONFIG, _STYLESHEET, _FETCHER
    if _STYLESHEET is None:
        _FETCHER = StaticOnlyFetcher()
        _FONT_CONFIG = FontConfiguration()
        _STYLESHEET = CSS(
            filename=str(STATIC_DIR / "documents" / "print.css"),
            font_config=_FONT_CONFIG,
            url_fetcher=_FETCHER,
        )
    return _FONT_CONFIG, _STYLESHEET, _FETCHER


def render_pdf(template: str, context: dict, *, pdf_variant: str | None = None) -> bytes:
    font_config, stylesheet, fetcher = _shared()
    html = render_to_string(template, context)
    return HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf(
        stylesheets=[stylesheet],
        font_config=font_config,
        pdf_variant=pdf_variant,
        uncompressed_pdf=False,
    )


def request_url(request: TerminationRequest) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("request_detail", args=[request.pk])


def qr_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=4, border=1)


def _common(request: TerminationRequest, *, title: str, number: str, date) -> dict:
    url = request_url(request)
    return {
        "title": title,
        "number": number,
        "date": date,
        "agency": request.agency,
        "request_url": url,
        "qr": qr_data_uri(url),
        "req": request,
    }


ORDER_TEMPLATES = {
    OrderKind.INTERRUPTION_READING: "documents/order_interruption_reading.html",
    OrderKind.READING: "documents/order_reading.html",
    OrderKind.REMOVAL: "documents/order_removal.html",
    OrderKind.FINAL_INTERRUPTION: "documents/order_final_interruption.html",
}


def build_order_context(order: InterventionOrder) -> dict:
    request = order.request
    return {
        **_common(
            request, title=order.get_kind_display(), number=order.number, date=order.issued_on
        ),
        "order": order,
        "contract": request.contract,
        "safety_steps": SAFETY_STEPS,
    }


def build_invoice_context(invoice: Invoice) -> dict:
    if invoice.balance > 0:
        label, amount = "À PAYER", invoice.balance
    elif invoice.balance < 0:
        label, amount = "À REMBOURSER", -invoice.balance
    else:
        label, amount = "SOLDE NUL", 0
    return {
        **_common(
            invoice.request,
            title=invoice.get_kind_display(),
            number=invoice.number,
            date=invoice.issued_on,
        ),
        "invoice": invoice,
        "contract": invoice.contract,
        "lines": list(invoice.lines.all()),
        "balance_label": label,
        "balance_amount": amount,
        "balance_words": francs_cfa_in_words(amount),
    }


def build_receipt_context(settlement: Settlement) -> dict:
    invoice = settlement.invoice
    title = "Bon de remboursement" if settlement.kind == SettlementKind.REFUND else "Reçu de caisse"
    return {
        **_common(
            invoice.request,
            title=title,
            number=settlement.number,
            date=timezone.localtime(settlement.created_at).date(),
        ),
        "settlement": settlement,
        "invoice": invoice,
        "contract": invoice.contract,
        "amount_words": francs_cfa_in_words(settlement.amount),
    }


def build_successor_contract_context(request: TerminationRequest) -> dict:
    contract = request.successor_contract
    subscription = request.invoices.get(kind=InvoiceKind.SUBSCRIPTION)
    deposit_line = subscription.lines.filter(code="avance-consommation").first()
    return {
        **_common(
            request, title="Contrat d'abonnement", number=contract.number, date=contract.start_date
        ),
        "date_label": "prend effet le",
        "contract": contract,
        "previous": request.contract,
        "deposit_amount": deposit_line.amount if deposit_line else 0,
    }


def _source(kind: str, pk: int):
    """(number, request, links, template, context builder, pdf variant) of a document."""
    if kind == DocumentKind.ORDER:
        order = InterventionOrder.objects.select_related(
            "request__contract__customer",
            "request__contract__meter",
            "request__contract__delivery_point",
            "request__contract__tariff_category",
            "request__agency",
            "assignee",
        ).get(pk=pk)
        return (
            order.number,
            order.request,
            {"order": order},
            ORDER_TEMPLATES[order.kind],
            (lambda: build_order_context(order)),
            None,
        )
    if kind == DocumentKind.INVOICE:
        invoice = Invoice.objects.select_related(
            "contract__customer",
            "contract__meter",
            "contract__delivery_point",
            "contract__tariff_category",
            "request__agency",
        ).get(pk=pk)
        return (
            invoice.number,
            invoice.request,
            {"invoice": invoice},
            "documents/invoice.html",
            (lambda: build_invoice_context(invoice)),
            "pdf/a-3b",
        )
    if kind == DocumentKind.RECEIPT:
        settlement = Settlement.objects.select_related(
            "invoice__contract__customer", "invoice__request__agency", "cashier"
        ).get(pk=pk)
        return (
            settlement.number,
            settlement.invoice.request,
            {"settlement": settlement},
            ("documents/receipt.html"),
            (lambda: build_receipt_context(settlement)),
            None,
        )
    if kind == DocumentKind.SUCCESSOR_CONTRACT:
        request = TerminationRequest.objects.select_related(
            "successor_contract__customer",
            "successor_contract__delivery_point",
            "successor_contract__meter",
            "successor_contract__tariff_category",
            "contract__customer",
            "agency",
        ).get(pk=pk)
        contract: Contract = request.successor_contract
        return (
            contract.number,
            request,
            {"contract": contract},
            ("documents/successor_contract.html"),
            (lambda: build_successor_contract_context(request)),
            None,
        )
    raise ValueError(kind)


def document_issue(kind: str, pk: int) -> Document:
    """Render and store the document once. A failure leaves it "to regenerate" (logged); the
    business action that issued it is not affected."""
    number, request, links, template, build, variant = _source(kind, pk)
    with transaction.atomic():
        Document.objects.get_or_create(
            kind=kind,
            number=number,
            defaults={"request": request, "status": DocumentStatus.TO_REGENERATE, **links},
        )
        document = Document.objects.select_for_update().get(kind=kind, number=number)
        if document.status == DocumentStatus.READY:
            return document  # never rendered twice
        try:
            pdf = render_pdf(template, build(), pdf_variant=variant)
        except Exception as error:
            logger.exception("rendering %s %s failed", kind, number)
            document.error = f"{type(error).__name__}: {error}"
            document.save(update_fields=["error"])
            return document
        document.content = pdf
        document.sha256 = hashlib.sha256(pdf).hexdigest()
        document.issued_at = timezone.now()
        document.status = DocumentStatus.READY
        document.error = ""
        document.save(update_fields=["content", "sha256", "issued_at", "status", "error"])
    return document


def issue_after_commit(kind: str, pk: int) -> None:
    """Render the document once the issuing transaction has committed, for the agent who is
    about to print it."""
    transaction.on_commit(lambda: document_issue(kind, pk))


def issue_in_background(kind: str, pks: list[int]) -> None:
    """Leave the rendering to the worker, for documents the system issues in bulk (step 8):
    one job each, deferred together once the transaction has committed."""
    from billing.tasks import render_document  # billing.tasks imports this module

    jobs = [{"kind": kind, "pk": pk} for pk in pks]
    transaction.on_commit(lambda: render_document.batch_defer(*jobs))


def document_step(document: Document) -> int:
    """The procedure's step a print belongs to, for the request's events."""
    if document.kind == DocumentKind.ORDER:
        return 8 if document.order.kind in (OrderKind.REMOVAL, OrderKind.FINAL_INTERRUPTION) else 3
    if document.kind == DocumentKind.INVOICE:
        return {InvoiceKind.BALANCE: 6, InvoiceKind.SUBSCRIPTION: 2}.get(document.invoice.kind, 9)
    if document.kind == DocumentKind.RECEIPT:
        return 7
    return 2
