"""The procedure's pages: work queues, the request list and page, and one page per step.
Thin: fetch for the user, validate the form, call one service, redirect."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from billing.enums import InvoiceKind, InvoiceState
from billing.forms import SettlementForm
from billing.selectors import invoices_to_settle
from billing.views import invoice_for_user
from contracts.enums import RequestState, Role
from contracts.procedure import services
from contracts.procedure.forms import (
    CancelForm,
    ConfirmForm,
    FieldReportForm,
    IssueOrderForm,
    RemovalReportForm,
    TakeOverForm,
    TerminationRequestForm,
)
from contracts.procedure.selectors import timeline
from contracts.procedure.selectors import work_queue as select_work_queue
from contracts.rules import StepRefused, check_role
from contracts.selectors import get_contract_for_user, get_request_for_user, requests_visible_to
from interventions.enums import FIELD_ORDER_KINDS, REMOVAL_ORDER_KINDS, OrderStatus


def work_queue(request):
    today = timezone.localdate()
    items = select_work_queue(request.user, today)
    invoices = []
    if request.user.has_role(Role.CASHIER):
        invoices = [
            (invoice, (today - timezone.localtime(invoice.validated_at).date()).days)
            for invoice in invoices_to_settle(request.user.agency)[:50]
        ]
    return render(request, "contracts/work_queue.html", {"items": items, "invoices": invoices})


def request_list(request):
    state = request.GET.get("etat", "")
    qs = (
        requests_visible_to(request.user)
        .select_related("contract__customer", "agency")
        .order_by("-created_at")
    )
    if state in RequestState.values:
        qs = qs.filter(state=state)
    return render(
        request,
        "contracts/request_list.html",
        {"requests": qs[:100], "states": RequestState.choices, "state": state},
    )


@require_http_methods(["GET", "POST"])
def request_create(request, number: str):
    """Step 1."""
    check_role(request.user, Role.RECEPTION)
    contract = get_contract_for_user(request.user, number)
    customer = contract.customer
    initial = {
        "requester_name": customer.name,
        "requester_id_document_type": customer.id_document_type,
        "requester_id_document_number": customer.id_document_number,
        "requester_phone": customer.phone,
    }
    form = TerminationRequestForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.termination_request_create(
                contract, actor=request.user, **form.cleaned_data
            )
        except StepRefused as error:
            error.show_in(form)
        else:
            messages.success(request, "Demande de résiliation enregistrée.")
            return redirect("request_detail", pk=created.pk)
    return render(request, "contracts/request_create.html", {"contract": contract, "form": form})


ACTIONS = {
    # transition name -> (label, url name)
    "take_over": ("Établir la reprise (étape 2)", "request_take_over"),
    "issue_order": ("Émettre l'ordre d'intervention (étape 3)", "request_issue_order"),
    "report_field": ("Saisir le compte-rendu d'intervention (étape 5)", "request_field_report"),
    "approve_report": (
        "Contrôler et signer l'ordre de coupure (étape 5)",
        "request_approve_report",
    ),
    "invoice": ("Calculer et valider la facture de solde (étape 6)", "request_invoice"),
    "report_removal": ("Saisir le compte-rendu de dépose (étape 9)", "request_removal_report"),
    "confirm_codification": ("Confirmer la codification (étape 9)", "request_confirm"),
    "confirm_codification_without_removal": (
        "Confirmer la codification (étape 9)",
        "request_confirm",
    ),
    "cancel": ("Annuler la demande", "request_cancel"),  # shown last, as a secondary action
}


def available_actions(req, user) -> list[tuple[str, str]]:
    """Only what this user may do now (the services check again)."""
    if user.agency_id != req.agency_id:
        return []
    actions = []
    for transition in req.get_available_user_state_transitions(user):
        if transition.name in ACTIONS:
            label, url_name = ACTIONS[transition.name]
            actions.append((label, reverse(url_name, args=[req.pk])))
    if user.has_role(Role.CASHIER) and req.state in (
        RequestState.INVOICED,
        RequestState.TAKEOVER_INVOICED,
    ):
        for invoice in req.invoices.filter(state=InvoiceState.VALIDATED):
            actions.append(
                (
                    f"Régler la facture {invoice.number} (étape 7)",
                    reverse("invoice_settle", args=[invoice.pk]),
                )
            )
    if (
        user.has_role(Role.SUPERVISOR)
        and req.state == RequestState.METER_REMOVED
        and req.orders.filter(kind__in=REMOVAL_ORDER_KINDS, status=OrderStatus.REPORTED).exists()
    ):
        actions.append(
            (
                "Contrôler et signer le compte-rendu de dépose (étape 9)",
                reverse("request_sign_removal", args=[req.pk]),
            )
        )
    return actions


def request_detail(request, pk: int):
    req = get_request_for_user(request.user, pk)
    events = list(req.events.select_related("actor"))
    orders = list(req.orders.select_related("report__entered_by", "report__signed_by", "assignee"))
    invoices = list(req.invoices.select_related("contract", "settlement").order_by("id"))
    documents = list(req.documents.order_by("id").defer("content"))
    return render(
        request,
        "contracts/request_detail.html",
        {
            "req": req,
            "timeline": timeline(req, events),
            "events": events,
            "orders": orders,
            "invoices": invoices,
            "documents": documents,
            "actions": available_actions(req, request.user),
        },
    )


def order_and_report(kinds, **more):
    """The step page's order (and its report, if entered) shown above the form."""

    def extra(req):
        order = req.orders.select_related("report").filter(kind__in=kinds).first()
        return {"order": order, "report": getattr(order, "report", None), **more}

    return extra


def _step(
    request, pk, *, role, form_class, template, title, act, success, form_kwargs=None, extra=None
):
    """A step's page: GET shows the form, POST runs the service; refusals stay on the page."""
    check_role(request.user, role)
    req = get_request_for_user(request.user, pk)
    form = form_class(request.POST or None, **(form_kwargs or {}))
    if request.method == "POST" and form.is_valid():
        try:
            act(req, form.cleaned_data)
        except StepRefused as error:
            error.show_in(form)
        else:
            messages.success(request, success)
            return redirect("request_detail", pk=req.pk)
    context = {"req": req, "form": form, "title": title}
    context.update(extra(req) if extra else {})
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def request_take_over(request, pk: int):
    def act(req, data):
        services.termination_request_take_over(
            req,
            actor=request.user,
            successor={
                "id_document_type": data["successor_id_document_type"],
                "id_document_number": data["successor_id_document_number"],
                "name": data["successor_name"],
                "phone": data["successor_phone"],
                "address": data["successor_address"],
            },
            mutation_index=data["mutation_index"],
            mutation_date=data["mutation_date"],
            rollover_confirmed=data["rollover_confirmed"],
            high_consumption_confirmed=data["high_consumption_confirmed"],
        )

    return _step(
        request,
        pk,
        role=Role.RECEPTION,
        form_class=TakeOverForm,
        template="contracts/step_form.html",
        title="Étape 2 – Reprise d'abonnement",
        act=act,
        success="Reprise établie : les deux factures sont validées, "
        "le contrat du successeur est ouvert. Orientez les clients vers la caisse.",
    )


@require_http_methods(["GET", "POST"])
def request_issue_order(request, pk: int):
    def act(req, data):
        services.termination_request_issue_order(req, actor=request.user, **data)

    return _step(
        request,
        pk,
        role=Role.RECEPTION,
        form_class=IssueOrderForm,
        template="contracts/step_form.html",
        title="Étape 3 – Ordre d'intervention",
        act=act,
        success="Ordre d'intervention émis. Imprimez-le et remettez-le à l'agent de relève.",
        form_kwargs={"agency": request.user.agency},
    )


@require_http_methods(["GET", "POST"])
def request_field_report(request, pk: int):
    def act(req, data):
        data.pop("confirm")
        services.termination_request_report_field(req, actor=request.user, **data)

    return _step(
        request,
        pk,
        role=Role.READER,
        form_class=FieldReportForm,
        template="contracts/step_form.html",
        title="Étapes 4-5 – Compte-rendu d'intervention",
        act=act,
        success="Compte-rendu d'intervention enregistré.",
        extra=order_and_report(FIELD_ORDER_KINDS),
    )


@require_http_methods(["GET", "POST"])
def request_approve_report(request, pk: int):
    def act(req, data):
        services.termination_request_approve_report(req, actor=request.user)

    return _step(
        request,
        pk,
        role=Role.SUPERVISOR,
        form_class=ConfirmForm,
        template="contracts/step_form.html",
        title="Étape 5 – Contrôle et signature de l'ordre de coupure",
        act=act,
        success="Ordre de coupure signé.",
        extra=order_and_report(FIELD_ORDER_KINDS),
    )


@require_http_methods(["GET", "POST"])
def request_invoice(request, pk: int):
    """Step 6: compute the draft (POST), view it, then validate it (POST, confirmed)."""
    check_role(request.user, Role.RECEPTION)
    req = get_request_for_user(request.user, pk)
    form = ConfirmForm(request.POST if request.POST.get("action") == "validate" else None)
    error = None
    if request.method == "POST":
        try:
            if request.POST.get("action") == "compute":
                services.termination_request_compute_invoice(req, actor=request.user)
                messages.info(request, "Facture calculée : vérifiez-la avant de la valider.")
                return redirect("request_invoice", pk=req.pk)
            if form.is_valid():
                invoice = services.termination_request_invoice(req, actor=request.user)
                messages.success(
                    request,
                    f"Facture {invoice.number} validée. Imprimez-la et "
                    "orientez le client vers la caisse.",
                )
                return redirect("request_detail", pk=req.pk)
        except StepRefused as refused:
            error = refused.message
    draft = req.invoices.filter(kind=InvoiceKind.BALANCE).prefetch_related("lines").first()
    return render(
        request,
        "contracts/request_invoice.html",
        {"req": req, "invoice": draft, "form": form, "error": error},
    )


@require_http_methods(["GET", "POST"])
def request_removal_report(request, pk: int):
    def act(req, data):
        data.pop("confirm")
        services.termination_request_report_removal(req, actor=request.user, **data)

    return _step(
        request,
        pk,
        role=Role.ARPNT,
        form_class=RemovalReportForm,
        template="contracts/step_form.html",
        title="Étape 9 – Compte-rendu de dépose",
        act=act,
        success="Compte-rendu de dépose enregistré.",
        extra=order_and_report(REMOVAL_ORDER_KINDS),
    )


@require_http_methods(["GET", "POST"])
def request_sign_removal(request, pk: int):
    def act(req, data):
        services.termination_request_sign_removal(req, actor=request.user)

    return _step(
        request,
        pk,
        role=Role.SUPERVISOR,
        form_class=ConfirmForm,
        template="contracts/step_form.html",
        title="Étape 9 – Contrôle et signature du compte-rendu de dépose",
        act=act,
        success="Compte-rendu de dépose signé. Transmis à l'ACFF.",
        extra=order_and_report(REMOVAL_ORDER_KINDS),
    )


@require_http_methods(["GET", "POST"])
def request_confirm(request, pk: int):
    def act(req, data):
        services.termination_request_confirm_codification(req, actor=request.user)

    return _step(
        request,
        pk,
        role=Role.ACFF,
        form_class=ConfirmForm,
        template="contracts/step_form.html",
        title="Étape 9 – Confirmation de la codification",
        act=act,
        success="Codification confirmée : contrat résilié, point de livraison libéré.",
        extra=order_and_report(REMOVAL_ORDER_KINDS, codification=True),
    )


@require_http_methods(["GET", "POST"])
def request_cancel(request, pk: int):
    def act(req, data):
        services.termination_request_cancel(req, actor=request.user, reason=data["reason"])

    return _step(
        request,
        pk,
        role=Role.RECEPTION,
        form_class=CancelForm,
        template="contracts/step_form.html",
        title="Annuler la demande",
        act=act,
        success="Demande annulée.",
    )


@require_http_methods(["GET", "POST"])
def invoice_settle(request, pk: int):
    check_role(request.user, Role.CASHIER)
    invoice = invoice_for_user(request.user, pk)
    deposit = getattr(invoice.contract, "deposit", None) if invoice.balance < 0 else None
    initial = {"amount": abs(invoice.balance)}
    form = SettlementForm(request.POST or None, refund=invoice.balance < 0, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        data.pop("confirm")
        try:
            settlement = services.termination_request_settle(invoice, actor=request.user, **data)
        except StepRefused as error:
            error.show_in(form)
        else:
            messages.success(request, f"Règlement enregistré : reçu {settlement.number}.")
            return redirect("receipt", pk=settlement.pk)
    return render(
        request, "billing/settle.html", {"invoice": invoice, "form": form, "deposit": deposit}
    )
