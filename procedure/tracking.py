"""The customer's page, /suivi/: the request's number and its tracking code (on the order and
in the first SMS), then in plain French where the request stands, what comes next and when,
what to pay or to collect and until when. Nothing else about the customer (no identity, no
address, no meter). A wrong code and an unknown number get the same answer, and the page is
throttled per address and per number. No JavaScript; a few kilobytes."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from billing.enums import InvoiceKind, InvoiceState
from contracts.audit import client_address
from contracts.enums import RequestState
from contracts.models import TerminationRequest
from contracts.money import format_fcfa
from contracts.tracking import tracking_code_matches
from interventions.enums import AWAITING_AGENT, REMOVAL_ORDER_KINDS
from notifications.services import tracking_lookup_record, tracking_lookups_recent
from procedure.services import balance_limit

NOT_FOUND = (
    "Aucune demande ne correspond à ce numéro et à ce code. Vérifiez-les sur l'ordre "
    "d'intervention ou dans le SMS reçu."
)
TOO_MANY = "Trop d'essais : réessayez dans dix minutes."
PER_ADDRESS, PER_REQUEST = 20, 5  # lookups in ten minutes

WHERE = {
    RequestState.RECEIVED: "Votre demande est enregistrée.",
    RequestState.TAKEOVER_INVOICED: (
        "La reprise du contrat est établie ; ses factures sont à régler."
    ),
    RequestState.ORDER_ISSUED: "Un agent doit passer relever l'index du compteur.",
    RequestState.FIELD_REPORTED: "L'agent est passé ; l'agence contrôle son compte-rendu.",
    RequestState.REPORT_APPROVED: "L'agent est passé ; l'agence établit votre facture de solde.",
    RequestState.INVOICED: "Votre facture de solde est établie.",
    RequestState.SETTLED: "Le solde est réglé.",
    RequestState.REMOVAL_ORDERED: "Un agent doit passer pour la fin de la fourniture.",
    RequestState.METER_REMOVED: "L'agent est passé ; l'agence termine la résiliation.",
    RequestState.REMOVAL_IMPOSSIBLE: "Le courant est coupé au branchement ; l'agence termine la "
    "résiliation.",
    RequestState.CLOSED: "Votre contrat est résilié.",
    RequestState.CANCELLED: "Cette demande a été annulée.",
}


class TrackingForm(forms.Form):
    demande = forms.IntegerField(label="Numéro de la demande", min_value=1, max_value=2**31 - 1)
    code = forms.CharField(label="Code de suivi", max_length=12, strip=True)


def customer_lines(req: TerminationRequest) -> list[str]:
    """What the customer reads about the request, in order."""
    lines = [WHERE[req.state]]
    orders = sorted(req.orders.all(), key=lambda o: o.pk)
    visit = next((o for o in reversed(orders) if o.status in AWAITING_AGENT), None)
    if visit is not None and req.state in (RequestState.ORDER_ISSUED, RequestState.REMOVAL_ORDERED):
        work = (
            "la fin de la fourniture"
            if visit.kind in REMOVAL_ORDER_KINDS
            else "le relevé de l'index"
        )
        lines.append(
            f"Passage prévu le {visit.due_on:%d/%m/%Y}, {settings.VISIT_WINDOW}, pour {work} : "
            "soyez présent et laissez le compteur accessible."
        )
    for invoice in req.invoices.filter(state=InvoiceState.VALIDATED).order_by("id"):
        if invoice.balance == 0:
            continue
        refund = invoice.balance < 0
        until = balance_limit(invoice)
        what = invoice.get_kind_display().lower()
        if refund:
            lines.append(
                f"Remboursement de {format_fcfa(-invoice.balance)} à retirer à l'agence "
                f"{req.agency.name} jusqu'au {until:%d/%m/%Y}, avec la pièce d'identité du "
                "déposant."
            )
        else:
            lines.append(
                f"{format_fcfa(invoice.balance)} à payer à l'agence {req.agency.name} "
                f"({what} {invoice.number}) avant le {until:%d/%m/%Y}."
            )
    if req.state == RequestState.CLOSED and hasattr(req, "attestation"):
        lines.append(f"Attestation de résiliation n° {req.attestation.number}.")
    if (
        req.state == RequestState.SETTLED
        and req.cut_date
        and req.invoices.filter(kind=InvoiceKind.BALANCE).exists()
    ):
        lines.append(f"La fin de la fourniture est prévue le {req.cut_date:%d/%m/%Y}.")
    return lines


@never_cache
@login_not_required
@require_http_methods(["GET", "POST"])
def tracking(request):
    form = TrackingForm(request.POST or None)
    context = {"form": form, "lines": None, "refusal": None}
    status = 200
    if request.method == "POST":
        address = client_address(request)
        number = form.data.get("demande", "")
        if tracking_lookups_recent(address=address) >= PER_ADDRESS or (
            number.isdigit() and tracking_lookups_recent(number=int(number)) >= PER_REQUEST
        ):
            context["refusal"], status = TOO_MANY, 429
        elif form.is_valid():
            pk, code = form.cleaned_data["demande"], form.cleaned_data["code"]
            req = TerminationRequest.objects.select_related("contract", "agency").filter(pk=pk)
            req = req.first()
            # The code is checked whether the request exists or not, and nothing more is read
            # before it matches: the same work, the same queries, either way.
            matches = tracking_code_matches(pk, code) and req is not None
            tracking_lookup_record(address=address, number=pk, found=matches)
            if matches:
                context.update(req=req, lines=customer_lines(req))
            else:
                context["refusal"] = NOT_FOUND
    return render(request, "procedure/tracking.html", context, status=status)
