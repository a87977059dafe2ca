import hashlib
import logging
from collections import defaultdict

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from billing import services
from billing.documents import copy_marks, document_issue, stamp_pdf
from billing.enums import DocumentKind, DocumentStatus
from billing.forms import AdvanceForm
from billing.models import Attestation, Document, Invoice, Settlement
from billing.selectors import day_journal, invoices_to_settle
from contracts.enums import OPERATIONAL_ROLES, Role
from contracts.rules import StepRefused, check_role
from contracts.selectors import get_contract_for_user

logger = logging.getLogger(__name__)


def _visible(user, qs):
    return qs if user.sees_all_agencies else qs.filter(contract__agency_id=user.agency_id)


def cash_desk(request):
    """The cashier's queue and the day's journal with totals per mode."""
    check_role(request.user, Role.CASHIER, Role.AUDITOR)
    today = timezone.localdate()
    journal = list(day_journal(request.user.agency, today))
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"collected": 0, "refunded": 0})
    for s in journal:
        key = s.get_mode_display() or "Solde nul"
        totals[key]["refunded" if s.kind == "refund" else "collected"] += s.amount
    return render(
        request,
        "billing/cash_desk.html",
        {
            "queue": list(invoices_to_settle(request.user.agency)),
            "journal": journal,
            "totals": dict(totals),
            "collected": sum(s.amount for s in journal if s.kind == "collection"),
            "refunded": sum(s.amount for s in journal if s.kind == "refund"),
            "today": today,
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
        "invoice__contract__customer", "invoice__contract__agency", "cashier"
    )
    if not request.user.sees_all_agencies:
        qs = qs.filter(agency_id=request.user.agency_id)
    try:
        settlement = qs.get(pk=pk)
    except Settlement.DoesNotExist:
        raise Http404("Reçu introuvable.") from None
    return render(request, "billing/receipt.html", {"settlement": settlement})


@require_http_methods(["GET", "POST"])
def advance_record(request, number: str):
    check_role(request.user, Role.CASHIER)
    contract = get_contract_for_user(request.user, number)
    form = AdvanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.account_advance_record(
                contract,
                actor=request.user,
                amount=data["amount"],
                mode=data["mode"],
                reference=data["reference"],
            )
        except StepRefused as error:
            error.show_in(form)
        else:
            messages.success(request, "Avance en compte enregistrée.")
            return redirect("contract_detail", number=contract.number)
    return render(request, "billing/advance.html", {"contract": contract, "form": form})


def _document_for(user, pk: int) -> Document:
    qs = Document.objects.select_related(
        "request__contract__tariff_category", "order__assignee", "invoice"
    )
    if not user.sees_all_agencies:
        qs = qs.filter(request__agency_id=user.agency_id)
    try:
        return qs.get(pk=pk)
    except Document.DoesNotExist:
        raise Http404("Document introuvable.") from None


TAMPERED = (
    "Le document stocké ne correspond plus à son empreinte SHA-256 : il n'est pas servi. "
    "Prévenez l'administrateur."
)


def _pdf_response(document: Document, content: bytes, *, suffix: str = "") -> HttpResponse:
    stored = bytes(document.content)
    if hashlib.sha256(stored).hexdigest() != document.sha256:
        logger.error("document %s: stored bytes do not match their SHA-256", document.pk)
        return HttpResponse(TAMPERED, status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{document.number}{suffix}.pdf"'
    response["X-Original-SHA256"] = document.sha256
    response["Cache-Control"] = "no-store"
    return response


def _may_print(user) -> bool:
    """Prints are recorded for the agency's staff; auditors and the admin read a consultation
    copy, and write nothing."""
    return user.acts_in_procedure


@require_POST
def document_print(request, pk: int):
    """ "Imprimer": the print is recorded (the original first, then numbered duplicates), then
    that copy opens."""
    document = _document_for(request.user, pk)
    if document.status != DocumentStatus.READY:
        messages.error(request, "Ce document n'a pas pu être produit : régénérez-le d'abord.")
        return redirect("request_detail", pk=document.request_id)
    if not _may_print(request.user):
        return redirect("document_consultation", pk=document.pk)
    printed = services.document_print_record(document, actor=request.user)
    return redirect("document_copy", pk=document.pk, copy=printed.copy)


def document_copy(request, pk: int, copy: int):
    """A recorded print, for the person who made it: the stored original (copy 0) or a copy
    stamped "DUPLICATA n° k"; an order of a cancelled request is stamped "ANNULÉ"."""
    document = _document_for(request.user, pk)
    if not document.prints.filter(copy=copy, printed_by=request.user).exists():
        raise Http404("Cette impression n'existe pas.")
    marks = copy_marks(document, copy)
    content = stamp_pdf(bytes(document.content), **marks)
    return _pdf_response(document, content, suffix=f"-duplicata-{copy}" if copy else "")


CONSULTATION = "COPIE DE CONSULTATION – NE VAUT PAS ORIGINAL"


def document_consultation(request, pk: int):
    """What an auditor (or the admin) sees of a document: a copy stamped as such."""
    document = _document_for(request.user, pk)
    if document.status != DocumentStatus.READY:
        raise Http404("Ce document est à régénérer.")
    marks = copy_marks(document, 0)
    banner = " · ".join(
        b for b in ["COPIE DE CONSULTATION – NE VAUT PAS ORIGINAL", marks["banner"]] if b
    )
    content = stamp_pdf(bytes(document.content), banner=banner, cancelled=marks["cancelled"])
    return _pdf_response(document, content, suffix="-consultation")


@require_POST
def document_regenerate(request, pk: int):
    check_role(request.user, *OPERATIONAL_ROLES)
    document = _document_for(request.user, pk)
    if document.status == DocumentStatus.READY:
        messages.info(request, "Ce document est déjà prêt.")
    else:
        source_id = (
            document.order_id
            or document.invoice_id
            or document.settlement_id
            or document.attestation_id
        )
        if document.kind == DocumentKind.SUCCESSOR_CONTRACT:
            source_id = document.request_id
        document = document_issue(document.kind, source_id)
        if document.status == DocumentStatus.READY:
            messages.success(request, f"Document {document.number} produit.")
        else:
            messages.error(request, f"Le rendu a encore échoué : {document.error}")
    return redirect("request_detail", pk=document.request_id)


# --- Public: verifying an attestation --------------------------------------------------------

MAX_UPLOAD = 10 * 1024 * 1024


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
    number and status, and whether a presented file is the one issued. Nothing personal."""
    attestation = get_object_or_404(
        Attestation.objects.select_related("contract", "document"), token=token
    )
    form = VerifyForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["document"]
        if upload.size > MAX_UPLOAD:
            form.add_error("document", "Fichier trop volumineux (10 Mo au plus).")
        else:
            digest = hashlib.sha256()
            for chunk in upload.chunks():
                digest.update(chunk)
            document = getattr(attestation, "document", None)
            result = {
                "sha256": digest.hexdigest(),
                "matches": document is not None and digest.hexdigest() == document.sha256,
            }
    response = render(
        request,
        "billing/verify.html",
        {"attestation": attestation, "form": form, "result": result},
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    # The token stays on this site (not "no-referrer": the form's POST would carry Origin: null,
    # which the CSRF check refuses).
    response["Referrer-Policy"] = "same-origin"
    return response
