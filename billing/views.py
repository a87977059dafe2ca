import hashlib
import logging
from collections import defaultdict

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.rules import StepRefused, check_role
from billing import services
from billing.documents import copy_marks, stamp_pdf
from billing.enums import DocumentStatus
from billing.forms import AdvanceForm, ConfirmClosingForm
from billing.models import (
    AccountTransfer,
    Attestation,
    CashClosing,
    Document,
    Invoice,
    Settlement,
)
from billing.selectors import cash_closings, day_journal, invoices_to_settle
from contracts.audit import client_address, security_event
from contracts.enums import Role, SecurityEventKind
from contracts.selectors import get_contract_for_user

logger = logging.getLogger(__name__)


def _visible(user, qs):
    return qs if user.sees_all_agencies else qs.filter(contract__agency_id=user.agency_id)


def cash_desk(request):
    """The cashier's queue, the day's journal with totals per mode (collections, refunds,
    advances), and the day's arrêtés de caisse."""
    check_role(request.user, Role.CASHIER, Role.SUPERVISOR, Role.AUDITOR)
    today = timezone.localdate()
    agency = request.user.agency
    journal = list(day_journal(agency, today))
    totals: dict[str, dict[str, int]] = defaultdict(
        lambda: {"collected": 0, "refunded": 0, "advances": 0}
    )
    column = {"refund": "refunded", "advance": "advances"}
    for s in journal:
        totals[s.get_mode_display() or "Solde nul"][column.get(s.kind, "collected")] += s.amount
    my_closing = CashClosing.objects.filter(cashier=request.user, day=today).first()
    return render(
        request,
        "billing/cash_desk.html",
        {
            "queue": list(invoices_to_settle(agency)),
            "journal": journal,
            "totals": dict(totals),
            "collected": sum(s.amount for s in journal if s.kind == "collection"),
            "refunded": sum(s.amount for s in journal if s.kind == "refund"),
            "advances": sum(s.amount for s in journal if s.kind == "advance"),
            "today": today,
            "closings": list(cash_closings(agency, today)),
            "my_closing": my_closing,
            # Once the arrêté is signed, no "Régler" link: the desk takes nothing more today.
            "cash_closed": services.CASH_CLOSED.format(day=f"{today:%d/%m/%Y}")
            if my_closing
            else None,
        },
    )


def invoice_for_user(user, pk: int) -> Invoice:
    qs = Invoice.objects.select_related(
        "contract__customer",
        "contract__agency",
        "contract__delivery_point",
        "contract__meter",
        "request",
        "settlement",
    ).prefetch_related("lines")
    try:
        return _visible(user, qs).get(pk=pk)
    except Invoice.DoesNotExist:
        raise Http404("Facture introuvable.") from None


def invoice_detail(request, pk: int):
    invoice = invoice_for_user(request.user, pk)
    return render(request, "billing/invoice.html", {"invoice": invoice})


def receipt(request, pk: int):
    qs = Settlement.objects.select_related(
        "contract__customer", "agency", "invoice", "cashier", "refund_authorisation__authorised_by"
    )
    if not request.user.sees_all_agencies:
        qs = qs.filter(agency_id=request.user.agency_id)
    try:
        settlement = qs.get(pk=pk)
    except Settlement.DoesNotExist:
        raise Http404("Reçu introuvable.") from None
    return render(request, "billing/receipt.html", {"settlement": settlement})


REPLAYED = "Ce formulaire avait déjà été envoyé : voici ce qui a été enregistré la première fois."


@require_http_methods(["GET", "POST"])
def advance_record(request, number: str):
    check_role(request.user, Role.CASHIER)
    contract = get_contract_for_user(request.user, number)
    refusal = services.advance_refusal(contract, cashier=request.user)
    form = AdvanceForm(request.POST or None)
    if request.method == "POST" and not refusal and form.is_valid():
        data = form.cleaned_data
        try:
            settlement = services.account_advance_record(
                contract,
                actor=request.user,
                amount=data["amount"],
                mode=data["mode"],
                reference=data["reference"],
                idempotency_key=data["idempotency_key"],
            )
        except StepRefused as error:
            error.show_in(form)
        else:
            if getattr(settlement, "replayed", False):
                messages.info(request, REPLAYED)
            else:
                messages.success(
                    request, f"Avance en compte enregistrée : reçu {settlement.number}."
                )
            return redirect("receipt", pk=settlement.pk)
    return render(
        request, "billing/advance.html", {"contract": contract, "form": form, "refusal": refusal}
    )


# --- Arrêté de caisse ------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def cash_closing_new(request):
    """The cashier reviews the day's totals, then signs the arrêté de caisse."""
    check_role(request.user, Role.CASHIER)
    today = timezone.localdate()
    existing = CashClosing.objects.filter(cashier=request.user, day=today).first()
    if existing is not None:
        return redirect("cash_closing", pk=existing.pk)
    form = ConfirmClosingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            closing = services.cash_closing_close(
                actor=request.user, day=today, shown=request.POST.get("shown", "")
            )
        except StepRefused as error:
            error.show_in(form)
        else:
            messages.success(
                request,
                f"Caisse arrêtée : {closing.number}. Imprimez l'arrêté, signez-le et faites-le "
                "contresigner par le chef de section.",
            )
            return redirect("cash_closing", pk=closing.pk)
    totals = services.cash_day_totals(request.user, today)
    return render(
        request,
        "billing/cash_closing_new.html",
        {
            "form": form,
            "today": today,
            **totals,
            "per_mode": sorted(totals["per_mode"].items()),
            # The confirmation carries the digest of the totals shown on this very page.
            "shown": services.cash_totals_digest(totals),
        },
    )


@require_http_methods(["GET", "POST"])
def cash_closing(request, pk: int):
    """An arrêté de caisse; the supervisor countersigns it here."""
    check_role(request.user, Role.CASHIER, Role.SUPERVISOR, Role.AUDITOR)
    qs = CashClosing.objects.select_related("cashier", "countersigned_by", "agency", "document")
    if not request.user.sees_all_agencies:
        qs = qs.filter(agency_id=request.user.agency_id)
    closing = get_object_or_404(qs, pk=pk)
    form = ConfirmClosingForm(request.POST or None)
    form.fields["confirm"].label = "Je contresigne cet arrêté de caisse, vérifié."
    if request.method == "POST":
        check_role(request.user, Role.SUPERVISOR)
        if form.is_valid():
            try:
                services.cash_closing_countersign(closing, actor=request.user)
            except StepRefused as error:
                error.show_in(form)
            else:
                messages.success(request, f"Arrêté {closing.number} contresigné.")
                return redirect("cash_closing", pk=closing.pk)
    may_countersign = (
        request.user.has_role(Role.SUPERVISOR)
        and closing.countersigned_at is None
        and closing.cashier_id != request.user.pk
        and closing.agency_id == request.user.agency_id
    )
    return render(
        request,
        "billing/cash_closing.html",
        {
            "closing": closing,
            "per_mode": sorted(closing.totals.items()),
            "form": form if may_countersign else None,
        },
    )


# --- À apurer --------------------------------------------------------------------------------


def to_clear(request):
    """The balances the daily task handed to the apurement de compte client: debts transferred
    to recovery, refunds left as credits, with the contract, the amount and since when."""
    check_role(request.user, Role.CASHIER, Role.SUPERVISOR, Role.ACFF, Role.AUDITOR)
    transfers = AccountTransfer.objects.select_related(
        "contract__customer", "agency", "invoice__request"
    ).order_by("-transferred_on", "-id")
    if not request.user.sees_all_agencies:
        transfers = transfers.filter(agency_id=request.user.agency_id)
    transfers = transfers.exclude(amount=0)[:200]
    return render(request, "billing/to_clear.html", {"transfers": transfers})


def _document_for(user, pk: int) -> Document:
    qs = Document.objects.select_related(
        "request__contract__tariff_category", "order__assignee", "invoice", "settlement"
    )
    if not user.sees_all_agencies:
        qs = qs.filter(
            Q(request__agency_id=user.agency_id)
            | Q(settlement__agency_id=user.agency_id)
            | Q(cash_closing__agency_id=user.agency_id)
        )
    try:
        return qs.get(pk=pk)
    except Document.DoesNotExist:
        raise Http404("Document introuvable.") from None


def _intact(document: Document) -> bool:
    """A stored document is served only while its bytes match the SHA-256 taken when stored."""
    return hashlib.sha256(bytes(document.content)).hexdigest() == document.sha256


def _tampered(request, document: Document) -> HttpResponse:
    """The stored bytes changed behind the application: refused, and told to the auditors."""
    logger.error("document %s: stored bytes do not match their SHA-256", document.pk)
    security_event(
        SecurityEventKind.DOCUMENT_TAMPERED,
        actor=request.user,
        request=request,
        data={"document": document.pk, "number": document.number, "kind": document.kind},
    )
    return render(request, "billing/document_tampered.html", {"document": document}, status=409)


def _pdf_response(document: Document, content: bytes, *, suffix: str = ""):
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{document.number}{suffix}.pdf"'
    response["X-Original-SHA256"] = document.sha256
    return response  # no-store: SecurityHeadersMiddleware, for every PDF


def _may_print(user) -> bool:
    """Prints are recorded for the agency's staff; auditors and the admin read a consultation
    copy, and write nothing."""
    return user.acts_in_procedure


@require_POST
def document_print(request, pk: int):
    """ "Imprimer": the print is recorded (the original first, then numbered duplicates), then
    that copy opens."""
    document = services.document_produce_now(_document_for(request.user, pk))
    if document.status != DocumentStatus.READY:
        messages.error(request, "Ce document n'a pas pu être produit : régénérez-le d'abord.")
        return _back_to(document)
    if not _may_print(request.user):
        return redirect("document_consultation", pk=document.pk)
    if not _intact(document):
        return _tampered(request, document)
    printed = services.document_print_record(document, actor=request.user)
    return redirect("document_copy", pk=document.pk, copy=printed.copy)


def document_copy(request, pk: int, copy: int):
    """A recorded print, for the person who made it: the stored original (copy 0) or a copy
    stamped "DUPLICATA n° k"; an order of a cancelled request is stamped "ANNULÉ"."""
    document = _document_for(request.user, pk)
    if not document.prints.filter(copy=copy, printed_by=request.user).exists():
        raise Http404("Cette impression n'existe pas.")
    if not _intact(document):
        return _tampered(request, document)
    marks = copy_marks(document, copy)
    content = stamp_pdf(bytes(document.content), **marks)
    return _pdf_response(document, content, suffix=f"-duplicata-{copy}" if copy else "")


CONSULTATION = "COPIE DE CONSULTATION – NE VAUT PAS ORIGINAL"


def document_consultation(request, pk: int):
    """What an auditor (or the admin) sees of a document: a copy stamped as such."""
    return consultation_copy(request, _document_for(request.user, pk))


def consultation_copy(request, document: Document) -> HttpResponse:
    """A document, produced if it was not yet, stamped as a copy that is not the original (also
    what a field crew keeps of its orders on the phone). The caller has checked the reader."""
    document = services.document_produce_now(document)
    if document.status != DocumentStatus.READY:
        raise Http404("Ce document est à régénérer.")
    if not _intact(document):
        return _tampered(request, document)
    marks = copy_marks(document, 0)
    banner = " · ".join(
        b for b in ["COPIE DE CONSULTATION – NE VAUT PAS ORIGINAL", marks["banner"]] if b
    )
    content = stamp_pdf(
        bytes(document.content),
        banner=banner,
        cancelled=marks["cancelled"],
        signature=marks["signature"],
        report=marks["report"],
    )
    return _pdf_response(document, content, suffix="-consultation")


@require_POST
def document_regenerate(request, pk: int):
    document = _document_for(request.user, pk)
    if document.status == DocumentStatus.READY:
        messages.info(request, "Ce document est déjà prêt.")
        return _back_to(document)
    try:
        document = services.document_regenerate(document, actor=request.user)
    except StepRefused as error:
        messages.error(request, error.message)
    else:
        if document.status == DocumentStatus.READY:
            messages.success(request, f"Document {document.number} produit.")
        else:
            messages.error(request, f"Le rendu a encore échoué : {document.error}")
    return _back_to(document)


def _back_to(document: Document):
    """The page a document belongs to."""
    if document.request_id:
        return redirect("request_detail", pk=document.request_id)
    if document.settlement_id:
        return redirect("receipt", pk=document.settlement_id)
    return redirect("cash_closing", pk=document.cash_closing_id)


# --- Public: verifying an attestation --------------------------------------------------------

MAX_UPLOAD = 10 * 1024 * 1024  # BodySizeMiddleware refuses a larger body before it is read
VERIFY_THROTTLED = "Trop de vérifications depuis cette adresse : réessayez dans quelques minutes."


class VerifyForm(forms.Form):
    document = forms.FileField(
        label="Fichier PDF de l'attestation",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}),
        error_messages={"required": "Choisissez le fichier à vérifier."},
    )


@login_not_required
@require_http_methods(["GET", "POST"])
def attestation_verify(request, token: str):
    """The page the attestation's QR code leads to, open to anyone: its number, date, contract
    number and status, and whether a presented file is a copy SBEE issued (the original, or
    which numbered duplicate). Nothing personal. Uploads are throttled per address; one too
    large is refused before it is read (sbee_resiliation.middleware.BodySizeMiddleware)."""
    attestation = get_object_or_404(
        Attestation.objects.select_related("contract", "document"), token=token
    )
    form = VerifyForm()
    result = throttled = None
    status = 200
    if request.method == "POST":
        address = client_address(request)
        if services.attestation_checks_recent(address) >= settings.VERIFY_UPLOADS_PER_10_MINUTES:
            throttled, status = VERIFY_THROTTLED, 429
        elif (form := VerifyForm(request.POST, request.FILES)).is_valid():
            upload = form.cleaned_data["document"]
            if upload.size > MAX_UPLOAD:
                form.add_error("document", "Fichier trop volumineux (10 Mo au plus).")
            else:
                digest = hashlib.sha256()
                for chunk in upload.chunks():
                    digest.update(chunk)
                check = services.attestation_check_record(
                    attestation, sha256=digest.hexdigest(), address=address
                )
                result = {
                    "sha256": check.sha256,
                    "matches": check.copy is not None,
                    "copy": check.copy,
                }
    response = render(
        request,
        "billing/verify.html",
        {"attestation": attestation, "form": form, "result": result, "throttled": throttled},
        status=status,
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    # The token stays on this site (not "no-referrer": the form's POST would carry Origin: null,
    # which the CSRF check refuses).
    response["Referrer-Policy"] = "same-origin"
    return response
