"""The printed documents: context builders (pure, testable without WeasyPrint), one render
function, and the issuing that stores each document once.

Rendering reads static files and fonts from disk only: the URL fetcher refuses anything that is
not a data: URI or a file under static/, so a document never depends on a web server (ours
included) or on the machine's fonts."""

import base64
import datetime as dt
import hashlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from urllib.parse import unquote, urlparse

import segno
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader, PdfWriter
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from billing.amount_words import francs_cfa_in_words
from billing.enums import (
    DUPLICATE_STAMPED,
    DocumentKind,
    DocumentStatus,
    InvoiceKind,
    InvoiceState,
    SettlementKind,
)
from billing.models import Attestation, CashClosing, CreditNote, Document, Invoice, Settlement
from contracts.audit import anchor_write as audit_anchor_write
from contracts.enums import RequestState
from contracts.models import Contract, TerminationRequest
from contracts.tracking import tracking_code
from interventions.enums import SAFETY_STEPS, OrderKind, OrderStatus
from interventions.models import InterventionOrder, InterventionReport, OrderSignature

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
_USER_AGENT_STYLESHEET = None


def _shared():
    global _FONT_CONFIG, _STYLESHEET, _FETCHER, _USER_AGENT_STYLESHEET
    if _STYLESHEET is None:
        _FETCHER = StaticOnlyFetcher()
        _FONT_CONFIG = FontConfiguration()
        _USER_AGENT_STYLESHEET = CSS(filename=str(STATIC_DIR / "documents" / "ua.css"))
        _STYLESHEET = CSS(
            filename=str(STATIC_DIR / "documents" / "print.css"),
            font_config=_FONT_CONFIG,
            url_fetcher=_FETCHER,
        )
    return _FONT_CONFIG, _STYLESHEET, _FETCHER


class DocumentHTML(HTML):
    """WeasyPrint's HTML with its user-agent stylesheet cut down to the elements our documents
    use (static/documents/ua.css, the same declarations as WeasyPrint's html5_ua.css for them).
    Every element's style is matched against each rule of that sheet: the full one (forms,
    ruby, details, 60 counter styles...) is a tenth of an order's rendering. A test renders
    every kind of document both ways and compares the pages' drawing instructions."""

    def _ua_stylesheets(self, forms=False):
        _shared()
        return [_USER_AGENT_STYLESHEET]


def render_pdf(template: str, context: dict, *, pdf_variant: str | None = None) -> bytes:
    font_config, stylesheet, fetcher = _shared()
    html = render_to_string(template, context)
    return DocumentHTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf(
        stylesheets=[stylesheet],
        font_config=font_config,
        pdf_variant=pdf_variant,
        uncompressed_pdf=False,
    )


def request_url(request: TerminationRequest) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("request_detail", args=[request.pk])


def qr_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=4, border=1)


def contract_url(contract: Contract) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("contract_detail", args=[contract.number])


def _common(
    request: TerminationRequest | None,
    *,
    title: str,
    number: str,
    date,
    agency=None,
    url: str | None = None,
) -> dict:
    """What every document carries: SBEE's header, the agency, the number and date, and a QR
    code of the page it belongs to (the request's, or the contract's for an advance)."""
    url = url or request_url(request)
    return {
        "title": title,
        "number": number,
        "date": date,
        "agency": agency or request.agency,
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
        "tracking_code": tracking_code(request.pk),
        "tracking_url": settings.SITE_URL.rstrip("/") + reverse("tracking"),
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
    if settlement.kind == SettlementKind.REFUND:
        title = "Bon de remboursement"
    elif settlement.kind == SettlementKind.ADVANCE:
        title = "Reçu d'avance en compte"
    else:
        title = "Reçu de caisse"
    request = invoice.request if invoice else None
    return {
        **_common(
            request,
            title=title,
            number=settlement.number,
            date=timezone.localtime(settlement.created_at).date(),
            agency=settlement.agency,
            url=None if request else contract_url(settlement.contract),
        ),
        "settlement": settlement,
        "invoice": invoice,
        "contract": settlement.contract,
        "authorisation": settlement.refund_authorisation,
        "amount_words": francs_cfa_in_words(settlement.amount),
    }


def build_credit_note_context(note: CreditNote) -> dict:
    invoice = note.invoice
    return {
        **_common(
            note.request,
            title="Avoir",
            number=note.number,
            date=note.issued_on,
            agency=note.contract.agency,
            url=None if note.request else contract_url(note.contract),
        ),
        "note": note,
        "invoice": invoice,
        "contract": note.contract,
        "lines": list(note.lines.all()),
        "amount_words": francs_cfa_in_words(-note.total),
    }


def build_cash_closing_context(closing: CashClosing) -> dict:
    url = settings.SITE_URL.rstrip("/") + reverse("cash_closing", args=[closing.pk])
    start = timezone.make_aware(dt.datetime.combine(closing.day, dt.time.min))
    movements = list(
        Settlement.objects.filter(
            cashier=closing.cashier,
            created_at__gte=start,
            created_at__lt=start + dt.timedelta(days=1),
            created_at__lte=closing.closed_at,
        )
        .select_related("contract", "invoice")
        .order_by("created_at", "id")
    )
    return {
        **_common(
            None,
            title="Arrêté de caisse",
            number=closing.number,
            date=closing.day,
            agency=closing.agency,
            url=url,
        ),
        "date_label": "journée du",
        "closing": closing,
        "movements": movements,
        "per_mode": sorted(closing.totals.items()),
        # The audit chains' heads when the arrêté is printed: on paper, out of the database's
        # reach (and written to the log and the anchors' file).
        "anchor": audit_anchor_write(),
    }


def build_successor_contract_context(request: TerminationRequest) -> dict:
    contract = request.successor_contract
    subscription = request.invoices.exclude(state=InvoiceState.CANCELLED).get(
        kind=InvoiceKind.SUBSCRIPTION
    )
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


def verification_url(attestation: Attestation) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("attestation_verify", args=[attestation.token])


def build_attestation_context(attestation: Attestation) -> dict:
    """What the customer keeps: the contract, its delivery point, the closure date and index,
    and what was settled or handed over; the QR code leads to the public verification page."""
    request = attestation.request
    invoices = list(
        request.invoices.filter(contract=request.contract)
        .exclude(state__in=[InvoiceState.DRAFT, InvoiceState.CANCELLED])
        .select_related("settlement", "transfer")
        .order_by("id")
    )
    url = verification_url(attestation)
    return {
        **_common(
            request,
            title="Attestation de résiliation",
            number=attestation.number,
            date=attestation.issued_on,
        ),
        "qr": qr_data_uri(url),
        "qr_alt": "QR code de vérification de l'attestation",
        "footer_url": url,
        "verification_url": url,
        "attestation": attestation,
        "contract": request.contract,
        "invoices": invoices,
        "successor_contract": request.successor_contract,
    }


@dataclass(frozen=True)
class Source:
    """What a document of one kind is printed from: the record (`model`, fetched with what its
    page needs), the Document's field that points at it, its template, its context builder,
    and its PDF variant (PDF/A-3b for the money documents, which are archived)."""

    model: type
    related: tuple[str, ...]
    link: str
    template: str | Callable
    build: Callable
    variant: str | None = None
    request: Callable = attrgetter("request")  # the request it belongs to, if any
    number: Callable = attrgetter("number")
    linked: Callable = lambda record: record  # what the Document points at


SOURCES: dict[str, Source] = {
    DocumentKind.ORDER: Source(
        InterventionOrder,
        (
            "request__contract__customer",
            "request__contract__meter",
            "request__contract__delivery_point",
            "request__contract__tariff_category",
            "request__agency",
            "assignee",
        ),
        "order",
        lambda order: ORDER_TEMPLATES[order.kind],
        lambda order: build_order_context(order),
    ),
    DocumentKind.INVOICE: Source(
        Invoice,
        (
            "contract__customer",
            "contract__meter",
            "contract__delivery_point",
            "contract__tariff_category",
            "request__agency",
        ),
        "invoice",
        "documents/invoice.html",
        lambda invoice: build_invoice_context(invoice),
        "pdf/a-3b",
    ),
    DocumentKind.RECEIPT: Source(
        Settlement,
        (
            "contract__customer",
            "invoice__request__agency",
            "agency",
            "cashier",
            "refund_authorisation__authorised_by",
        ),
        "settlement",
        "documents/receipt.html",
        lambda settlement: build_receipt_context(settlement),
        request=lambda settlement: settlement.invoice.request if settlement.invoice_id else None,
    ),
    # The successor's contract is printed from its request (the outgoing contract beside it).
    DocumentKind.SUCCESSOR_CONTRACT: Source(
        TerminationRequest,
        (
            "successor_contract__customer",
            "successor_contract__delivery_point",
            "successor_contract__meter",
            "successor_contract__tariff_category",
            "contract__customer",
            "agency",
        ),
        "contract",
        "documents/successor_contract.html",
        lambda request: build_successor_contract_context(request),
        request=lambda request: request,
        number=lambda request: request.successor_contract.number,
        linked=attrgetter("successor_contract"),
    ),
    DocumentKind.CREDIT_NOTE: Source(
        CreditNote,
        ("invoice", "contract__customer", "contract__agency", "request__agency", "created_by"),
        "credit_note",
        "documents/credit_note.html",
        lambda note: build_credit_note_context(note),
        "pdf/a-3b",
    ),
    DocumentKind.CASH_CLOSING: Source(
        CashClosing,
        ("agency", "cashier"),
        "cash_closing",
        "documents/cash_closing.html",
        lambda closing: build_cash_closing_context(closing),
        request=lambda closing: None,
    ),
    DocumentKind.ATTESTATION: Source(
        Attestation,
        (
            "request__agency",
            "request__contract__customer",
            "request__contract__delivery_point",
            "request__contract__meter",
            "request__contract__tariff_category",
            "request__successor_contract__customer",
        ),
        "attestation",
        "documents/attestation.html",
        lambda attestation: build_attestation_context(attestation),
        "pdf/a-3b",
    ),
}


def _identity(kind: str, record) -> tuple[str, TerminationRequest | None, dict]:
    """(number, request, links) of the document that `record` issues."""
    source = SOURCES[kind]
    return source.number(record), source.request(record), {source.link: source.linked(record)}


def _source(kind: str, pk: int):
    """(number, request, links, template, context builder, pdf variant) of a document."""
    source = SOURCES[kind]
    record = source.model.objects.select_related(*source.related).get(pk=pk)
    number, request, links = _identity(kind, record)
    template = source.template(record) if callable(source.template) else source.template
    return number, request, links, template, (lambda: source.build(record)), source.variant


def document_issue(kind: str, pk: int) -> Document:
    """Render and store the document once (the worker's job, a print that cannot wait, a
    regeneration). The row is locked while it renders: a second caller waits, then finds it
    ready. A failure leaves it "to regenerate" (logged); the action that issued it stands."""
    number, request, links, template, build, variant = _source(kind, pk)
    with transaction.atomic():
        Document.objects.get_or_create(
            kind=kind,
            number=number,
            defaults={"request": request, "status": DocumentStatus.PENDING, **links},
        )
        document = Document.objects.select_for_update().get(kind=kind, number=number)
        if document.status == DocumentStatus.READY:
            return document  # never rendered twice
        try:
            pdf = render_pdf(template, build(), pdf_variant=variant)
        except Exception as error:
            logger.exception("rendering %s %s failed", kind, number)
            document.status = DocumentStatus.TO_REGENERATE
            document.error = f"{type(error).__name__}: {error}"
            document.save(update_fields=["status", "error"])
            return document
        document.content = pdf
        document.sha256 = hashlib.sha256(pdf).hexdigest()
        document.issued_at = timezone.now()
        document.status = DocumentStatus.READY
        document.error = ""
        document.save(update_fields=["content", "sha256", "issued_at", "status", "error"])
    return document


def documents_enqueue(kind: str, sources: list) -> list[Document]:
    """Inside the business transaction that issues them: each document's row, "en cours de
    production", and its rendering job for the worker. Both commit with the action or not at
    all, so a document is never missing: a page shows the PDF, "en cours" or "à régénérer"."""
    from billing.tasks import render_document  # billing.tasks imports this module

    if not sources:
        return []
    documents = []
    for source in sources:
        number, request, links = _identity(kind, source)
        documents.append(
            Document(
                kind=kind, number=number, request=request, status=DocumentStatus.PENDING, **links
            )
        )
    Document.objects.bulk_create(documents)
    render_document.batch_defer(*({"kind": kind, "pk": source.pk} for source in sources))
    return documents


def document_enqueue(kind: str, source) -> Document:
    return documents_enqueue(kind, [source])[0]


# --- Reprints --------------------------------------------------------------------------------
# A reprint never changes the stored original: the mark is drawn on a transparent A4 page and
# laid over each page of a copy of the stored bytes.

STAMP_CSS = """
@font-face { font-family: "DejaVu Sans"; font-weight: bold; src: url("fonts/DejaVuSans-Bold.ttf"); }
@page { size: A4; margin: 0; }
html, body { margin: 0; background: transparent; font-family: "DejaVu Sans"; font-weight: bold; }
.banner { position: absolute; top: 4mm; left: 0; width: 210mm; text-align: center; }
.banner span { border: 1.2pt solid #000; padding: 0.8mm 3mm; font-size: 10.5pt;
               background: #fff; }
.signature { position: absolute; bottom: 12mm; right: 12mm; width: 70mm; padding: 1.5mm;
             border: 0.8pt solid #000; background: #fff; font-size: 6.5pt; font-weight: normal; }
.signature img { display: block; width: 66mm; height: 22mm; object-fit: contain; }
.report { position: absolute; bottom: 12mm; left: 12mm; width: 108mm; padding: 1.5mm;
          border: 0.8pt solid #000; background: #fff; font-size: 6.5pt; font-weight: normal; }
.report p { margin: 0 0 0.6mm 0; }
.cancelled { position: absolute; top: 125mm; left: 0; width: 210mm; text-align: center;
             font-size: 96pt; color: rgba(0, 0, 0, 0.22); transform: rotate(-35deg); }
"""


_STAMP_STYLESHEET = None


def render_stamp(
    *,
    banner: str = "",
    cancelled: bool = False,
    signature: dict | None = None,
    report: list[str] | None = None,
) -> bytes:
    """A one-page transparent A4 PDF carrying a banner in the top margin and/or a large
    diagonal "ANNULÉ", and/or the requester's signature drawn on the screen (bottom right),
    and/or the report's signatures (bottom left)."""
    global _STAMP_STYLESHEET
    font_config, _, fetcher = _shared()
    if _STAMP_STYLESHEET is None:  # parsed once: each parse adds its font face again
        _STAMP_STYLESHEET = CSS(
            string=STAMP_CSS, base_url=BASE_URL, font_config=font_config, url_fetcher=fetcher
        )
    html = render_to_string(
        "documents/stamp.html",
        {"banner": banner, "cancelled": cancelled, "signature": signature, "report": report},
    )
    return DocumentHTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf(
        stylesheets=[_STAMP_STYLESHEET], font_config=font_config
    )


def stamp_pdf(
    original: bytes,
    *,
    banner: str = "",
    cancelled: bool = False,
    signature: dict | None = None,
    report: list[str] | None = None,
) -> bytes:
    """A copy of `original` with the stamp laid over every page."""
    if not banner and not cancelled and not signature and not report:
        return original
    stamp = render_stamp(banner=banner, cancelled=cancelled, signature=signature, report=report)
    overlay = PdfReader(io.BytesIO(stamp)).pages[0]
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(original)))
    for page in writer.pages:
        page.merge_page(overlay, over=True)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def copy_marks(document: Document, copy: int) -> dict:
    """What a print of the document carries: "DUPLICATA n° k" on a reprint of an invoice,
    receipt, refund voucher or attestation; "ANNULÉ" on an order of a cancelled request; the
    new agent on an order reassigned since it was printed."""
    banner = []
    cancelled = False
    if copy and document.kind in DUPLICATE_STAMPED:
        banner.append(f"DUPLICATA n° {copy}")
    if document.kind == DocumentKind.INVOICE and document.invoice.state == InvoiceState.CANCELLED:
        # The paper says what the web page says: cancelled, by which credit note, when.
        note = document.invoice.credit_note
        cancelled = True
        banner.append(
            f"FACTURE ANNULÉE par l'avoir {note.number} du {note.issued_on:%d/%m/%Y} – NE PAS PAYER"
        )
    if document.kind == DocumentKind.ORDER:
        order = document.order
        if order.status == OrderStatus.CANCELLED or (
            document.request and document.request.state == RequestState.CANCELLED
        ):
            cancelled = True
            banner.append("ORDRE ANNULÉ – NE PAS EXÉCUTER")
        else:
            if order.filed_at:
                banner.append(f"ORDRE CLASSÉ le {timezone.localtime(order.filed_at):%d/%m/%Y}")
            if order.reassignments:
                name = order.assignee.display_name
                when = timezone.localtime(order.assigned_at)
                banner.append(f"Réaffecté le {when:%d/%m/%Y} à {name}")
    return {
        "banner": " · ".join(banner),
        "cancelled": cancelled,
        "signature": drawn_signature(document),
        "report": report_signatures(document),
    }


def report_signatures(document: Document) -> list[str] | None:
    """The report in force on the order and its signatures, for the order's copies: the
    agent's (or that it is awaited, entered by someone else from the paper), then the
    responsable's."""
    if document.kind != DocumentKind.ORDER:
        return None
    report = (
        InterventionReport.objects.filter(order_id=document.order_id, superseded_at__isnull=True)
        .select_related("agent", "entered_by", "signed_by")
        .first()
    )
    if report is None:
        return None
    lines = [f"Compte-rendu : index {report.index_read} kWh le {report.read_on:%d/%m/%Y}"]
    if report.cut_done and report.cut_index is not None:
        lines[0] += f", coupure effectuée à l'index {report.cut_index}"
    if report.agent_signed_at:
        lines.append(
            f"Signé par l'agent de l'intervention, {report.agent.display_name}, le "
            f"{timezone.localtime(report.agent_signed_at):%d/%m/%Y %H:%M} "
            f"({report.get_agent_signed_via_display()})"
        )
    else:
        lines.append(
            f"Signature de l'agent de l'intervention, {report.agent.display_name} : attendue"
        )
    if report.entered_by_id != report.agent_id:
        lines.append(
            f"Saisi d'après l'ordre papier par {report.entered_by.display_name} le "
            f"{timezone.localtime(report.entered_at):%d/%m/%Y %H:%M}"
        )
    if report.signed_at:
        lines.append(
            f"Contrôlé et signé par le responsable, {report.signed_by.display_name}, le "
            f"{timezone.localtime(report.signed_at):%d/%m/%Y %H:%M}"
        )
    return lines


def drawn_signature(document: Document) -> dict | None:
    """The requester's signature drawn on the screen, for the copies of the order it signs."""
    if document.kind != DocumentKind.ORDER:
        return None
    signature = OrderSignature.objects.filter(order_id=document.order_id).first()
    if signature is None:
        return None
    witness = signature.witnessed_by.display_name
    return {
        "image": "data:image/png;base64," + base64.b64encode(bytes(signature.drawing)).decode(),
        "caption": (
            f"Signé à l'écran par {signature.signer_name} le "
            f"{timezone.localtime(signature.signed_at):%d/%m/%Y %H:%M}, devant {witness} ; "
            f"ordre signé : SHA-256 {signature.document_sha256[:16]}…"
        ),
    }


def document_agency_id(document: Document) -> int:
    """The agency a document belongs to: its request's, or its receipt's or closing's."""
    if document.request_id:
        return document.request.agency_id
    if document.settlement_id:
        return document.settlement.agency_id
    return document.cash_closing.agency_id
