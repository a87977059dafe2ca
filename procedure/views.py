"""The procedure's pages: the home page, the contract search and page (where a request begins),
the work queues, the request list and page, and one page per step.
Thin: fetch for the user, validate the form, call one service, redirect."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django import forms
from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.rules import DraftChanged, StepRefused, check_role
from billing import services as billing_services
from billing.enums import InvoiceKind, InvoiceState
from billing.forms import (
    CreditNoteForm,
    RefundAuthorisationForm,
    SettlementForm,
    TakeoverCreditNoteForm,
)
from billing.models import CashClosing, DocumentPrint
from billing.selectors import contract_account, invoices_to_settle
from billing.views import REPLAYED, invoice_for_user
from contracts.audit import duties_refused
from contracts.enums import (
    OPEN_REQUEST_STATES,
    ContractStatus,
    RequestState,
    Role,
    TerminationKind,
)
from contracts.forms import ContractSearchForm
from contracts.models import TerminationRequest, User
from contracts.phone import format_phone
from contracts.selectors import get_contract_for_user, get_request_for_user, search_contracts
from interventions.enums import (
    FIELD_ORDER_KINDS,
    REMOVAL_ORDER_KINDS,
    OrderKind,
    OrderStatus,
    SubmissionOutcome,
)
from interventions.models import (
    FieldSubmission,
    InterventionOrder,
    InterventionReport,
    VisitAttempt,
)
from interventions.services import (
    FIELD_AGENT_ROLES,
    NOT_THE_AGENT,
    REMOVAL_AGENT_ROLES,
    agent_roles,
)
from notifications import services as notifications
from notifications.enums import DeliveryStatus
from procedure import services
from procedure.forms import (
    CancelForm,
    ConfirmForm,
    FailedVisitForm,
    FieldReportForm,
    FinalInterruptionReportForm,
    IssueOrderForm,
    ReassignForm,
    RemovalImpossibleForm,
    RemovalReportForm,
    RescheduleForm,
    SendBackForm,
    SignatureField,
    SmsChoiceForm,
    TakeOverForm,
    TerminationRequestForm,
)
from procedure.queues import AFTER_STEP_8
from procedure.rules import act_refusal, act_roles
from procedure.selectors import (
    AGENT_SIGNATURE_AWAITED,
    journal,
    step_title,
    timeline,
    waiting,
    why_not,
)
from procedure.selectors import work_queue as select_work_queue


def home(request):
    if request.user.roles & {
        Role.RECEPTION,
        Role.READER,
        Role.SUPERVISOR,
        Role.CASHIER,
        Role.ARPNT,
        Role.ACFF,
    }:
        return redirect("work_queue")
    if request.user.supervises:
        return redirect("dashboard")
    return redirect("contract_search")


def contract_search(request):
    form = ContractSearchForm(request.GET or None)
    contracts, truncated, searched = [], False, False
    if form.is_valid() and form.cleaned_data["q"]:
        searched = True
        contracts, truncated = search_contracts(request.user, form.cleaned_data["q"])
    return render(
        request,
        "procedure/search.html",
        {"form": form, "contracts": contracts, "truncated": truncated, "searched": searched},
    )


def contract_detail(request, number: str):
    contract = get_contract_for_user(request.user, number)
    open_request = contract.termination_requests.filter(state__in=OPEN_REQUEST_STATES).first()
    return render(
        request,
        "procedure/detail.html",
        {
            "contract": contract,
            "account": contract_account(contract),
            "open_request": open_request,
            "may_terminate": contract.status == ContractStatus.ACTIVE
            and open_request is None
            and request.user.has_role(Role.RECEPTION)
            and contract.agency_id == request.user.agency_id,
        },
    )


def work_queue(request):
    today = timezone.localdate()
    items = select_work_queue(request.user, today)
    invoices = []
    if request.user.has_role(Role.CASHIER):
        invoices = [
            (invoice, (today - timezone.localtime(invoice.validated_at).date()).days)
            for invoice in invoices_to_settle(request.user.agency)[:50]
        ]
    unsent = []
    if request.user.has_role(Role.RECEPTION):
        unsent = list(notifications.failed_for(request.user.agency)[:50])
    closings = []
    if request.user.has_role(Role.SUPERVISOR):
        closings = list(
            CashClosing.objects.filter(
                agency_id=request.user.agency_id, countersigned_at__isnull=True
            )
            .exclude(cashier=request.user)
            .select_related("cashier")
            .order_by("day", "id")[:50]
        )
    conflicts = []
    if request.user.has_role(Role.SUPERVISOR):
        conflicts = list(
            FieldSubmission.objects.filter(
                order__agency_id=request.user.agency_id,
                outcome=SubmissionOutcome.CONFLICT,
                review__isnull=True,
            )
            .select_related("order", "agent")
            .order_by("received_at")[:50]
        )
    crews = []
    if request.user.has_role(Role.SUPERVISOR, Role.RECEPTION, Role.MANAGER):
        # Their route sheets for the day, to print at the agency.
        crews = list(
            User.objects.filter(
                agency_id=request.user.agency_id,
                is_active=True,
                groups__name__in=[Role.READER, Role.ARPNT],
            )
            .distinct()
            .order_by("last_name", "first_name", "username")
        )
    return render(
        request,
        "procedure/work_queue.html",
        {
            "items": items,
            "invoices": invoices,
            "closings": closings,
            "unsent": unsent,
            "crews": crews,
            "conflicts": conflicts,
        },
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
        "requester_phone": format_phone(customer.phone),
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
    return render(request, "procedure/request_create.html", {"contract": contract, "form": form})


# --- The request page ------------------------------------------------------------------------


def _orders(req: TerminationRequest) -> list[InterventionOrder]:
    """The request's orders with their visits, reports and agents, in four queries."""
    return list(
        req.orders.select_related(
            "assignee", "requester_signature_recorded_by", "closed_by", "document"
        )
        .defer("document__content")
        .prefetch_related(
            Prefetch(
                "reports",
                queryset=InterventionReport.objects.select_related(
                    "entered_by", "agent", "signed_by", "superseded_by"
                ),
            ),
            Prefetch(
                "attempts",
                queryset=VisitAttempt.objects.select_related("entered_by", "rescheduled_by"),
            ),
        )
        .order_by("id")
    )


def _with_orders(req: TerminationRequest) -> TerminationRequest:
    """The request, its orders prefetched once for why_not(), the timeline and the page."""
    req._prefetched_objects_cache = {"orders": _orders(req)}
    return req


# The acts the request page offers, in the order shown: (act, label, secondary). Who may do
# each, and when, is procedure/rules.py's; the page asks why_not() for the rest.
def _page_actions(req: TerminationRequest) -> list[tuple[str, str, bool]]:
    removal = "la coupure définitive" if req.is_mt else "la dépose"
    removal_report = "de coupure définitive" if req.is_mt else "de dépose"
    return [
        ("request_take_over", "Établir la reprise (étape 2)", False),
        ("request_issue_order", "Émettre l'ordre d'intervention (étape 3)", False),
        ("request_signature", "Faire signer l'ordre imprimé par le demandeur (étape 3)", False),
        ("request_field_report", "Saisir le compte-rendu d'intervention (étapes 4-5)", False),
        ("request_agent_sign", "Signer mon compte-rendu (agent de l'intervention)", False),
        ("request_approve_report", "Contrôler et signer l'ordre de coupure (étape 5)", False),
        ("request_invoice", "Calculer et valider la facture de solde (étape 6)", False),
        ("request_removal_report", f"Saisir le compte-rendu {removal_report} (étapes 8-9)", False),
        ("request_sign_removal", "Contrôler et signer le compte-rendu (étape 9)", False),
        ("request_confirm", "Confirmer la codification (étape 9)", False),
        (
            "request_refund_authorisation",
            "Autoriser un autre bénéficiaire du remboursement",
            True,
        ),
        (
            "request_credit_note",
            "Annuler par avoir "
            + ("les factures de la reprise" if req.kind == "with_takeover" else "la facture"),
            True,
        ),
        ("request_reschedule", "Fixer une nouvelle date de visite", True),
        ("request_removal_impossible", f"Déclarer {removal} impossible", True),
        ("request_reassign", "Réaffecter l'ordre à un autre agent", True),
        ("request_cancel", "Annuler la demande", True),
    ]


def _may(user, req: TerminationRequest, act: str) -> bool:
    """The user holds a role of the act (the new date: the role of the order's kind)."""
    roles = act_roles(act)
    if act == "request_reschedule":
        order = next(
            (o for o in req.orders.all() if o.kind in REMOVAL_ORDER_KINDS),
            next((o for o in req.orders.all() if o.kind in FIELD_ORDER_KINDS), None),
        )
        roles = (services.rescheduler_role(order),) if order else roles
    if act == "request_agent_sign":  # only the agent who did the work signs their report
        reports = [o.report for o in req.orders.all() if o.status == OrderStatus.UNSIGNED]
        return any(r is not None and r.agent_id == user.pk for r in reports)
    return user.has_role(*roles)


def available_actions(req: TerminationRequest, user) -> list[tuple[str, str, bool]]:
    """(label, address, secondary) of what this user may do now (the services check again)."""
    if user.agency_id != req.agency_id:
        return []
    actions = [
        (label, reverse(act, args=[req.pk]), secondary)
        for act, label, secondary in _page_actions(req)
        if _may(user, req, act) and why_not(req, act) is None
    ]
    if user.has_role(*act_roles("invoice_settle")) and act_refusal(req, "invoice_settle") is None:
        for invoice in req.invoices.filter(state=InvoiceState.VALIDATED):
            actions.insert(
                0,
                (
                    f"Régler la facture {invoice.number} (étape 7)",
                    reverse("invoice_settle", args=[invoice.pk]),
                    False,
                ),
            )
    return sorted(actions, key=lambda a: a[2])


def _sms(req: TerminationRequest) -> list:
    """The messages the customer was sent about the request, with where each stands."""
    labels = dict(DeliveryStatus.choices)
    messages_ = list(notifications.with_status(req.notifications.all()).order_by("id"))
    for message in messages_:
        message.status_label = labels.get(message.last_status, "En attente d'envoi")
    return messages_


@require_http_methods(["GET", "POST"])
def request_sms_choice(request, pk: int):
    """At the counter: the requester's language for the SMS, or their refusal."""
    check_role(request.user, Role.RECEPTION)
    req = get_request_for_user(request.user, pk)
    chosen = notifications.preference(notifications.e164(req.requester_phone) or "")
    initial = {
        "language": chosen.language if chosen else "fr",
        "opted_out": bool(chosen and chosen.opted_out),
    }
    form = SmsChoiceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.termination_request_record_sms_choice(
                req, actor=request.user, **form.cleaned_data
            )
        except StepRefused as error:
            error.show_in(form)
        else:
            messages.success(request, "Choix du demandeur pour les SMS enregistré.")
            return redirect("request_detail", pk=req.pk)
    return render(
        request, "procedure/sms_choice.html", {"req": req, "form": form, "chosen": chosen}
    )


def request_detail(request, pk: int):
    req = _with_orders(get_request_for_user(request.user, pk))
    events = list(req.events.select_related("actor"))
    lines = journal(req, events)
    invoices = list(
        req.invoices.select_related("contract", "settlement", "credit_note", "transfer").order_by(
            "id"
        )
    )
    documents = list(
        req.documents.order_by("id")
        .defer("content")
        .prefetch_related(
            Prefetch("prints", queryset=DocumentPrint.objects.select_related("printed_by"))
        )
    )
    return render(
        request,
        "procedure/request_detail.html",
        {
            "req": req,
            "timeline": timeline(req, lines),
            "journal": lines,
            "orders": req.orders.all(),
            "invoices": invoices,
            "documents": documents,
            "actions": available_actions(req, request.user),
            "sms": _sms(req),
            "may_choose_sms": request.user.has_role(Role.RECEPTION)
            and request.user.agency_id == req.agency_id,
            "waiting": waiting(req, timezone.localdate()),
            "field_sent": FieldSubmission.objects.filter(order__request=req)
            .select_related("agent", "order__request__contract__delivery_point", "photo")
            .defer("photo__content")
            .order_by("received_at"),
        },
    )


# --- Step pages ------------------------------------------------------------------------------


@dataclass
class Panel:
    """One form of a step page, with the service it calls."""

    action: str
    form_class: type[forms.Form]
    act: Callable[[TerminationRequest, dict], object]
    button: str
    success: str
    title: str = ""
    intro: str = ""
    collapsed: bool = False  # folded under its title until opened (a less common outcome)
    on_top: bool = False  # folded right under the page's title, before the request's summary
    secondary: bool = False
    form_kwargs: dict = field(default_factory=dict)
    hidden: dict = field(default_factory=dict)  # sent back with the form (a digest of figures)
    then: str = "request_detail"  # where to go once done
    form: forms.Form | None = None


def _order_context(req: TerminationRequest, kinds) -> dict:
    order = next((o for o in req.orders.all() if o.kind in kinds), None)
    return {"order": order, "report": order.report if order else None}


def _step(
    request,
    pk: int,
    *,
    page: str,
    title: str,
    roles: tuple[str, ...] = (),
    panels: Callable[[TerminationRequest], list[Panel]],
    order_kinds=None,
    extra: dict | None = None,
    not_yours: Callable[[TerminationRequest], str | None] | None = None,
):
    """A step's page. If the step cannot be done now, GET says why (no blank form). Otherwise
    each panel is a form; POST runs the one sent, and a refusal stays on the page with what
    was typed. `not_yours`: why this user, though of the role, may not do it here."""
    check_role(request.user, *(roles or act_roles(page)))  # procedure/rules.py
    req = _with_orders(get_request_for_user(request.user, pk))
    refusal = why_not(req, page) or (not_yours(req) if not_yours else None)
    built = [] if refusal else panels(req)
    sent = request.POST.get("action") if request.method == "POST" else None
    for panel in built:
        data = request.POST if panel.action == sent else None
        panel.form = panel.form_class(data, **panel.form_kwargs)
        if data is None or not panel.form.is_valid():
            continue
        cleaned = {k: v for k, v in panel.form.cleaned_data.items() if k != "confirm"}
        try:
            panel.act(req, cleaned)
        except StepRefused as error:
            duties_refused(error, actor=request.user, request=request, what=f"{page} {req.pk}")
            error.show_in(panel.form)
        else:
            messages.success(request, panel.success)
            if panel.then == "work_queue":
                return redirect("work_queue")
            return redirect(panel.then, pk=req.pk)
    context = {"req": req, "title": title, "refusal": refusal, "panels": built}
    if order_kinds:
        context.update(_order_context(req, order_kinds))
    context.update(extra or {})
    return render(request, "procedure/step_form.html", context)


def _successor(data: dict) -> dict:
    return {
        "id_document_type": data["successor_id_document_type"],
        "id_document_number": data["successor_id_document_number"],
        "name": data["successor_name"],
        "phone": data["successor_phone"],
        "address": data["successor_address"],
    }


@require_http_methods(["GET", "POST"])
def request_take_over(request, pk: int):
    """Step 2: compute both invoices as drafts and show them (nothing is written), then
    validate them together, as shown."""
    check_role(request.user, *act_roles("request_take_over"))
    req = _with_orders(get_request_for_user(request.user, pk))
    refusal = why_not(req, "request_take_over")
    action = request.POST.get("action") if request.method == "POST" else None
    successor_contract = {
        "contract": req.contract,
        "limit": services.successor_contract_limit(req.contract),
    }
    form = TakeOverForm(request.POST if action else None, **successor_contract)
    preview = None
    refused = None
    confirm_missing = False
    if not refusal and action and form.is_valid():
        data = form.cleaned_data
        arguments = {
            "successor": _successor(data),
            "mutation_index": data["mutation_index"],
            "mutation_date": data["mutation_date"],
            "rollover_confirmed": data["rollover_confirmed"],
            "high_consumption_confirmed": data["high_consumption_confirmed"],
            "tariff_category": data["tariff_category"],
            "subscribed_power_kva": data["subscribed_power_kva"],
        }
        if action == "validate" and data["confirm"]:
            try:
                services.termination_request_take_over(
                    req, actor=request.user, preview_digest=data["preview_digest"], **arguments
                )
            except StepRefused as error:
                refused = error
            else:
                messages.success(
                    request,
                    "Reprise établie : les deux factures sont validées, le contrat du "
                    "successeur est ouvert. Imprimez-les et orientez les clients vers la caisse.",
                )
                return redirect("request_detail", pk=req.pk)
        elif action == "validate":
            confirm_missing = True
        try:
            preview = services.termination_request_preview_take_over(
                req, actor=request.user, **arguments
            )
        except StepRefused as error:
            refused = error  # the same refusal the validation would give
        if preview is not None:
            # The drafts as computed now; the confirmation is asked again for these figures.
            fresh = request.POST.copy()
            fresh["preview_digest"] = preview.digest
            fresh.pop("confirm", None)
            form = TakeOverForm(fresh, **successor_contract)
            form.is_valid()
        if refused is not None:
            refused.show_in(form)
        if confirm_missing:
            form.add_error("confirm", "Cochez la case pour valider les deux factures.")
    return render(
        request,
        "procedure/take_over.html",
        {"req": req, "form": form, "preview": preview, "refusal": refusal},
    )


@require_http_methods(["GET", "POST"])
def request_issue_order(request, pk: int):
    def panels(req):
        return [
            Panel(
                "issue",
                IssueOrderForm,
                lambda r, d: services.termination_request_issue_order(r, actor=request.user, **d),
                button="Émettre l'ordre",
                success="Ordre d'intervention émis. Imprimez-le et faites-le signer par le "
                "demandeur.",
                form_kwargs={"agency": request.user.agency},
                then="request_signature",
            )
        ]

    return _step(
        request,
        pk,
        page="request_issue_order",
        title="Étape 3 – Ordre d'intervention",
        panels=panels,
    )


class SignatureForm(forms.Form):
    drawing = SignatureField(required=False)
    confirm = forms.BooleanField(
        label="Le demandeur a signé l'ordre devant moi (sur papier, ou ci-dessus à l'écran).",
        error_messages={"required": "Cochez la case pour confirmer la signature."},
    )

    def clean(self):
        # The drawing's field is hidden: its error is said above the form.
        if errors := self.errors.pop("drawing", None):
            self.add_error(None, errors)
        return super().clean()


@require_http_methods(["GET", "POST"])
def request_signature(request, pk: int):
    def panels(req):
        return [
            Panel(
                "sign",
                SignatureForm,
                lambda r, d: services.termination_request_record_signature(
                    r, actor=request.user, drawing=d["drawing"]
                ),
                button="Enregistrer la signature",
                success="Signature du demandeur enregistrée : l'ordre est transmis à l'agent "
                "de relève.",
                intro="Imprimez l'ordre et faites-le signer, ou faites lire l'ordre à l'écran "
                "et signer le demandeur dans le cadre ci-dessous ; puis confirmez. L'ordre "
                "n'est exécuté qu'une fois signé.",
            )
        ]

    return _step(
        request,
        pk,
        page="request_signature",
        title="Étape 3 – Signature de l'ordre par le demandeur",
        panels=panels,
        order_kinds=FIELD_ORDER_KINDS,
    )


def _failed_visit_panel(request) -> Panel:
    return Panel(
        "failed_visit",
        FailedVisitForm,
        lambda r, d: services.termination_request_record_failed_visit(r, actor=request.user, **d),
        button="Enregistrer la visite infructueuse",
        success="Visite infructueuse enregistrée : une nouvelle date sera fixée.",
        title="Visite infructueuse ?",
        intro="Le client est absent, l'accès est refusé, le compteur inaccessible… Enregistrez "
        "la visite : l'ordre reste ouvert et une nouvelle date sera fixée.",
        collapsed=True,
        on_top=True,
        secondary=True,
        then="work_queue",
    )


@require_http_methods(["GET", "POST"])
def request_field_report(request, pk: int):
    def panels(req):
        order = _order_context(req, FIELD_ORDER_KINDS)["order"]
        reading_only = order is not None and order.kind == OrderKind.READING
        # The failed visit first, folded under the title: a phone reaches it without scrolling.
        return [
            _failed_visit_panel(request),
            Panel(
                "report",
                FieldReportForm,
                lambda r, d: services.termination_request_report_field(r, actor=request.user, **d),
                button="Enregistrer le compte-rendu",
                success="Compte-rendu d'intervention enregistré.",
                title="Compte-rendu de relève" if reading_only else "Compte-rendu d'intervention",
                form_kwargs={
                    "reading_only": reading_only,
                    "agency": req.agency,
                    "roles": FIELD_AGENT_ROLES,
                    "user": request.user,
                },
            ),
        ]

    return _step(
        request,
        pk,
        page="request_field_report",
        title="Étapes 4-5 – Compte-rendu d'intervention",
        panels=panels,
        order_kinds=FIELD_ORDER_KINDS,
    )


def _send_back_panel(request, act) -> Panel:
    return Panel(
        "send_back",
        SendBackForm,
        act,
        button="Renvoyer pour correction",
        success="Compte-rendu renvoyé à l'agent pour correction.",
        title="Renvoyer pour correction",
        intro="Le compte-rendu est conservé, marqué « remplacé », et l'ordre retourne dans la "
        "corbeille de l'agent qui en saisit un nouveau.",
        collapsed=True,
        secondary=True,
    )


def _sign_or_send_back(request, pk, *, page, title, sign, send_back, button, success, kinds):
    """The supervisor's page at steps 5 and 9: sign the report, or send it back with a reason."""

    def panels(req):
        send_back_panel = _send_back_panel(
            request, lambda r, d: send_back(r, actor=request.user, reason=d["reason"])
        )
        report = _order_context(req, kinds)["report"]
        if report is not None and report.agent_signed_at is None:
            # Entered from the paper, not yet signed by its agent: nothing to sign yet, but
            # the report may go back (an agent who cannot sign it, a mistake seen meanwhile).
            send_back_panel.collapsed = False
            send_back_panel.intro = (
                AGENT_SIGNATURE_AWAITED.format(
                    entered_by=report.entered_by.display_name, agent=report.agent.display_name
                )
                + " Vous le signerez ensuite. S'il ne peut pas être signé tel quel, renvoyez-le "
                "pour correction : il est conservé, marqué « remplacé »."
            )
            return [send_back_panel]
        return [
            Panel(
                "sign",
                ConfirmForm,
                lambda r, d: sign(r, actor=request.user),
                button=button,
                success=success,
                title="Contrôler et signer",
            ),
            send_back_panel,
        ]

    return _step(
        request,
        pk,
        page=page,
        title=title,
        panels=panels,
        order_kinds=kinds,
    )


@require_http_methods(["GET", "POST"])
def request_approve_report(request, pk: int):
    return _sign_or_send_back(
        request,
        pk,
        page="request_approve_report",
        title="Étape 5 – Contrôle et signature de l'ordre de coupure",
        sign=services.termination_request_approve_report,
        send_back=services.termination_request_send_back_field_report,
        button="Signer l'ordre de coupure",
        success="Ordre de coupure signé.",
        kinds=FIELD_ORDER_KINDS,
    )


class AgentSignForm(forms.Form):
    confirm = forms.BooleanField(
        label="Ce compte-rendu est conforme à mon intervention et à mon ordre papier : je le "
        "signe comme le mien.",
        error_messages={"required": "Cochez la case pour signer."},
    )


@require_http_methods(["GET", "POST"])
def request_agent_sign(request, pk: int):
    """Steps 5 and 9: the agent who did the work signs the report entered on their behalf."""
    req_for_step = get_request_for_user(request.user, pk)
    removal = req_for_step.state == RequestState.METER_REMOVED
    step = 9 if removal else 5

    def panels(req):
        return [
            Panel(
                "sign",
                AgentSignForm,
                lambda r, d: services.termination_request_agent_sign_report(r, actor=request.user),
                button="Signer mon compte-rendu",
                success="Compte-rendu signé : il attend le contrôle du responsable.",
                title="Signer le compte-rendu",
                intro="Vérifiez le compte-rendu saisi d'après votre ordre papier. Votre "
                "signature le fait vôtre ; le responsable le contrôle et le signe ensuite.",
                then="work_queue",
            )
        ]

    def not_yours(req) -> str | None:
        report = _order_context(req, REMOVAL_ORDER_KINDS if removal else FIELD_ORDER_KINDS)[
            "report"
        ]
        if report is not None and report.agent_id != request.user.pk:
            return NOT_THE_AGENT.format(agent=report.agent.display_name)
        return None

    return _step(
        request,
        pk,
        page="request_agent_sign",
        title=f"Étape {step} – Signature du compte-rendu par l'agent",
        panels=panels,
        order_kinds=REMOVAL_ORDER_KINDS if removal else FIELD_ORDER_KINDS,
        not_yours=not_yours,
    )


@require_http_methods(["GET", "POST"])
def request_reschedule(request, pk: int):
    req_for_title = get_request_for_user(request.user, pk)
    removal = req_for_title.state == RequestState.REMOVAL_ORDERED

    def panels(req):
        return [
            Panel(
                "reschedule",
                RescheduleForm,
                lambda r, d: services.termination_request_reschedule_visit(
                    r, actor=request.user, **d
                ),
                button="Fixer la nouvelle date",
                success="Nouvelle date fixée : l'ordre retourne dans la corbeille de l'agent.",
            )
        ]

    return _step(
        request,
        pk,
        page="request_reschedule",
        roles=(Role.SUPERVISOR,) if removal else (Role.RECEPTION,),
        title="Visite infructueuse – nouvelle date d'exécution",
        panels=panels,
        order_kinds=REMOVAL_ORDER_KINDS if removal else FIELD_ORDER_KINDS,
        extra={"may_declare_impossible": removal},
    )


@require_http_methods(["GET", "POST"])
def request_reassign(request, pk: int):
    def panels(req):
        order = next(
            o
            for o in req.orders.all()
            if o.kind in (REMOVAL_ORDER_KINDS if _after_step_8(req) else FIELD_ORDER_KINDS)
        )
        return [
            Panel(
                "reassign",
                ReassignForm,
                lambda r, d: services.termination_request_reassign_order(
                    r, actor=request.user, **d
                ),
                button="Réaffecter",
                success="Ordre réaffecté : il est dans la corbeille du nouvel agent.",
                form_kwargs={"agency": req.agency, "roles": agent_roles(order)},
            )
        ]

    req = get_request_for_user(request.user, pk)
    return _step(
        request,
        pk,
        page="request_reassign",
        title="Réaffecter l'ordre d'intervention",
        panels=panels,
        order_kinds=REMOVAL_ORDER_KINDS if _after_step_8(req) else FIELD_ORDER_KINDS,
    )


def _after_step_8(req: TerminationRequest) -> bool:
    return req.state in AFTER_STEP_8


@require_http_methods(["GET", "POST"])
def request_invoice(request, pk: int):
    """Step 6: compute the draft (POST), view it, then validate it (POST, confirmed)."""
    check_role(request.user, *act_roles("request_invoice"))
    req = _with_orders(get_request_for_user(request.user, pk))
    refusal = why_not(req, "request_invoice")
    form = ConfirmForm(request.POST if request.POST.get("action") == "validate" else None)
    error = None
    if request.method == "POST" and not refusal:
        try:
            if request.POST.get("action") == "compute":
                services.termination_request_compute_invoice(req, actor=request.user)
                messages.info(request, "Facture calculée : vérifiez-la avant de la valider.")
                return redirect("request_invoice", pk=req.pk)
            if form.is_valid():
                invoice = services.termination_request_invoice(
                    req, actor=request.user, draft_digest=request.POST.get("shown", "")
                )
                messages.success(
                    request,
                    f"Facture {invoice.number} validée. Imprimez-la et "
                    "orientez le client vers la caisse.",
                )
                return redirect("request_detail", pk=req.pk)
        except DraftChanged as changed:
            # Nothing was validated: the new draft is saved and shown, to be confirmed again.
            error = changed.message
            form = ConfirmForm()
            try:
                services.termination_request_compute_invoice(req, actor=request.user)
            except StepRefused as refused:
                error = refused.message
        except StepRefused as refused:
            error = refused.message
    draft = (
        req.invoices.filter(kind=InvoiceKind.BALANCE)
        .exclude(state=InvoiceState.CANCELLED)
        .prefetch_related("lines")
        .first()
    )
    # The confirmation carries the digest of the draft shown on this very page.
    shown = (
        billing_services.invoice_digest(draft)
        if draft is not None and draft.state == InvoiceState.DRAFT
        else ""
    )
    return render(
        request,
        "procedure/request_invoice.html",
        {
            "req": req,
            "invoice": draft,
            "form": form,
            "error": error,
            "refusal": refusal,
            "shown": shown,
        },
    )


@require_http_methods(["GET", "POST"])
def request_removal_report(request, pk: int):
    req_for_kind = get_request_for_user(request.user, pk)
    mt = req_for_kind.is_mt

    def panels(req):
        return [
            _failed_visit_panel(request),
            Panel(
                "report",
                FinalInterruptionReportForm if mt else RemovalReportForm,
                lambda r, d: services.termination_request_report_removal(
                    r, actor=request.user, **d
                ),
                button="Enregistrer le compte-rendu",
                success="Compte-rendu de coupure définitive enregistré."
                if mt
                else "Compte-rendu de dépose enregistré.",
                title=step_title(req, 9),
                form_kwargs={
                    "agency": req.agency,
                    "roles": REMOVAL_AGENT_ROLES,
                    "user": request.user,
                },
            ),
        ]

    return _step(
        request,
        pk,
        page="request_removal_report",
        title="Étapes 8-9 – Coupure définitive (MT)" if mt else "Étapes 8-9 – Dépose du compteur",
        panels=panels,
        order_kinds=REMOVAL_ORDER_KINDS,
    )


@require_http_methods(["GET", "POST"])
def request_sign_removal(request, pk: int):
    what = "de coupure définitive" if get_request_for_user(request.user, pk).is_mt else "de dépose"
    return _sign_or_send_back(
        request,
        pk,
        page="request_sign_removal",
        title=f"Étape 9 – Contrôle et signature du compte-rendu {what}",
        sign=services.termination_request_sign_removal,
        send_back=services.termination_request_send_back_removal_report,
        button="Signer le compte-rendu",
        success=f"Compte-rendu {what} signé. Transmis à l'ACFF.",
        kinds=REMOVAL_ORDER_KINDS,
    )


@require_http_methods(["GET", "POST"])
def request_removal_impossible(request, pk: int):
    req_for_kind = get_request_for_user(request.user, pk)
    what = "La coupure définitive" if req_for_kind.is_mt else "La dépose"

    def panels(req):
        return [
            Panel(
                "impossible",
                RemovalImpossibleForm,
                lambda r, d: services.termination_request_declare_removal_impossible(
                    r, actor=request.user, **d
                ),
                button="Déclarer l'intervention impossible",
                success=f"{what} est déclarée impossible (coupure au branchement). "
                "L'ACFF confirme la codification.",
                intro="Après trois visites infructueuses, l'intervention peut être close : la "
                "fourniture est coupée au branchement, et l'ACFF codifie la résiliation.",
            )
        ]

    return _step(
        request,
        pk,
        page="request_removal_impossible",
        title=f"Étape 9 – {what} impossible",
        panels=panels,
        order_kinds=REMOVAL_ORDER_KINDS,
    )


@require_http_methods(["GET", "POST"])
def request_confirm(request, pk: int):
    # An anticipated termination's complementary invoice is shown before it is issued, and the
    # confirmation carries the digest of what was shown.
    preview = None
    if request.user.has_role(Role.ACFF):
        try:
            preview = services.termination_request_codification_preview(
                get_request_for_user(request.user, pk)
            )
        except StepRefused:
            preview = None  # the confirmation says why
    shown = services.complementary_digest(preview) if preview else ""

    def panels(req):
        return [
            Panel(
                "confirm",
                ConfirmForm,
                lambda r, d: services.termination_request_confirm_codification(
                    r, actor=request.user, shown=request.POST.get("shown", "")
                ),
                button="Confirmer la codification",
                success="Codification confirmée : contrat résilié, point de livraison libéré. "
                "L'attestation de résiliation est prête à imprimer.",
                hidden={"shown": shown},
            )
        ]

    return _step(
        request,
        pk,
        page="request_confirm",
        title="Étape 9 – Confirmation de la codification",
        panels=panels,
        order_kinds=REMOVAL_ORDER_KINDS,
        extra={"codification": True, "complementary": preview},
    )


@require_http_methods(["GET", "POST"])
def request_cancel(request, pk: int):
    def panels(req):
        return [
            Panel(
                "cancel",
                CancelForm,
                lambda r, d: services.termination_request_cancel(
                    r, actor=request.user, reason=d["reason"]
                ),
                button="Annuler la demande",
                success="Demande annulée.",
            )
        ]

    return _step(
        request,
        pk,
        page="request_cancel",
        title="Annuler la demande",
        panels=panels,
    )


@require_http_methods(["GET", "POST"])
def invoice_settle(request, pk: int):
    """Step 7 at the cash desk. A form sent twice (a double click, a second tab) settles once
    and shows the first receipt."""
    check_role(request.user, *act_roles("invoice_settle"))
    invoice = invoice_for_user(request.user, pk)
    deposit = getattr(invoice.contract, "deposit", None) if invoice.balance < 0 else None
    authorisation = invoice.refund_authorisations.select_related("authorised_by").last()
    initial = {"amount": abs(invoice.balance)}
    cash_closed = billing_services.cash_closed_refusal(request.user)
    form = SettlementForm(request.POST or None, refund=invoice.balance < 0, initial=initial)
    if request.method == "POST" and not cash_closed and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "confirm"}
        try:
            settlement = services.termination_request_settle(invoice, actor=request.user, **data)
        except StepRefused as error:
            duties_refused(error, actor=request.user, request=request, what=f"règlement {pk}")
            error.show_in(form)
        else:
            if getattr(settlement, "replayed", False):
                messages.info(request, REPLAYED)
            else:
                messages.success(request, f"Règlement enregistré : reçu {settlement.number}.")
            return redirect("receipt", pk=settlement.pk)
    return render(
        request,
        "billing/settle.html",
        {
            "invoice": invoice,
            "form": form,
            "deposit": deposit,
            "authorisation": authorisation,
            "cash_closed": cash_closed,
        },
    )


# --- Money corrections -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def request_credit_note(request, pk: int):
    """The supervisor cancels the balance invoice (or the reprise's two invoices) by credit
    notes, before settlement."""
    req_for_kind = get_request_for_user(request.user, pk)
    takeover = req_for_kind.kind == TerminationKind.WITH_TAKEOVER

    # The invoices shown now, and their digest sent back with the confirmation.
    invoices = services.credit_note_shown(req_for_kind)
    shown = billing_services.invoices_digest(invoices)

    def act(r, d):
        sent = request.POST.get("shown", "")
        if takeover:
            return services.termination_request_cancel_takeover_invoices(
                r, actor=request.user, reason=d["reason"], shown=sent
            )
        return services.termination_request_cancel_balance_invoice(
            r,
            actor=request.user,
            reason=d["reason"],
            shown=sent,
            send_back_report=d["send_back_report"],
        )

    def panels(req):
        return [
            Panel(
                "credit_note",
                TakeoverCreditNoteForm if takeover else CreditNoteForm,
                act,
                button="Émettre l'avoir" + ("s" if takeover else ""),
                success="Avoir émis : la reprise est rouverte, à établir de nouveau (étape 2)."
                if takeover
                else "Avoir émis : la facture de solde est annulée ; une nouvelle facture, sous "
                "un nouveau numéro, la remplacera.",
                intro="Avant tout règlement seulement. L'avoir annule la facture pour son montant "
                "entier, sous son propre numéro ; rien n'est effacé.",
                hidden={"shown": shown},
            )
        ]

    return _step(
        request,
        pk,
        page="request_credit_note",
        title="Annuler par avoir "
        + ("les factures de la reprise" if takeover else "la facture de solde"),
        panels=panels,
        extra={"credited_invoices": invoices, "takeover": takeover},
    )


@require_http_methods(["GET", "POST"])
def request_refund_authorisation(request, pk: int):
    """The supervisor names who may receive the refund when the presented ID is not the
    deposit payer's, or no payer is recorded."""
    req_for_invoice = get_request_for_user(request.user, pk)
    invoice = req_for_invoice.invoices.filter(state=InvoiceState.VALIDATED, balance__lt=0).first()

    def panels(req):
        return [
            Panel(
                "authorise",
                RefundAuthorisationForm,
                lambda r, d: services.termination_request_authorise_refund(
                    invoice, actor=request.user, shown=request.POST.get("shown", ""), **d
                ),
                button="Autoriser ce bénéficiaire",
                success="Bénéficiaire autorisé : un caissier peut maintenant payer le "
                "remboursement (pas vous).",
                intro="Quand la pièce présentée n'est pas celle du déposant (pièce renouvelée, "
                "héritier, représentant d'une entreprise) ou qu'aucun déposant n'est "
                "enregistré. Vous ne pourrez pas payer vous-même ce remboursement.",
                hidden={"shown": billing_services.invoices_digest([invoice] if invoice else [])},
            )
        ]

    deposit = getattr(req_for_invoice.contract, "deposit", None)
    return _step(
        request,
        pk,
        page="request_refund_authorisation",
        title="Étape 7 – Autoriser un autre bénéficiaire du remboursement",
        panels=panels,
        extra={"refund_invoice": invoice, "deposit": deposit},
    )
