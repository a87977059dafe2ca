from collections import defaultdict

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from billing import services
from billing.documents import document_issue
from billing.enums import DocumentKind, DocumentStatus
from billing.forms import AdvanceForm
from billing.models import Document, Invoice, Settlement
from billing.selectors import day_journal, invoices_to_settle
from contracts.enums import Role
from contracts.rules import StepRefused, check_role
from contracts.selectors import get_contract_for_user


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
    qs = Document.objects.select_related("request", "order", "invoice")
    if not user.sees_all_agencies:
        qs = qs.filter(request__agency_id=user.agency_id)
    try:
        return qs.get(pk=pk)
    except Document.DoesNotExist:
        raise Http404("Document introuvable.") from None


def document_pdf(request, pk: int):
    """The stored bytes, exactly as issued, inline, with the number in the file name."""
    document = _document_for(request.user, pk)
    if document.status != DocumentStatus.READY:
        raise Http404("Ce document est à régénérer.")
    response = HttpResponse(bytes(document.content), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{document.filename}"'
    response["X-Content-SHA256"] = document.sha256
    return response


@require_POST
def document_print(request, pk: int):
    """ "Imprimer": the print is recorded in the request's events, then the PDF opens."""
    document = _document_for(request.user, pk)
    if document.status != DocumentStatus.READY:
        messages.error(request, "Ce document n'a pas pu être produit : régénérez-le d'abord.")
        return redirect("request_detail", pk=document.request_id)
    services.document_print_record(document, actor=request.user)
    return redirect("document_pdf", pk=document.pk)


@require_POST
def document_regenerate(request, pk: int):
    document = _document_for(request.user, pk)
    if document.status == DocumentStatus.READY:
        messages.info(request, "Ce document est déjà prêt.")
    else:
        source_id = document.order_id or document.invoice_id or document.settlement_id
        if document.kind == DocumentKind.SUCCESSOR_CONTRACT:
            source_id = document.request_id
        document = document_issue(document.kind, source_id)
        if document.status == DocumentStatus.READY:
            messages.success(request, f"Document {document.number} produit.")
        else:
            messages.error(request, f"Le rendu a encore échoué : {document.error}")
    return redirect("request_detail", pk=document.request_id)
