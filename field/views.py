"""The field app (/terrain/): an installable page for the readers and ARPNT crews that keeps
the day's orders on the phone, takes the reports without a network and sends them when it
returns. Its service worker and manifest are served from /terrain/ (their scope); its data
comes as JSON: the day's orders, then each report sent by its own identifier."""

import hashlib
import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.http import Http404, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.rules import StepRefused, check_role
from billing.documents import qr_data_uri, render_pdf
from billing.models import Document
from billing.views import consultation_copy
from contracts.enums import Role
from contracts.models import User
from field import selectors, services
from interventions.enums import (
    SAFETY_STEPS,
    Remark,
    SubmissionOutcome,
    VisitFailure,
)
from interventions.models import FieldSubmission
from procedure import services as procedure
from procedure.forms import ConfirmForm

FIELD_ROLES = (Role.READER, Role.ARPNT)
# The app's own files, kept on the phone by the service worker (their hashed names).
APP_FILES = [
    "css/app.css",
    "field/queue.js",
    "field/field.js",
    "vendor/idb-keyval/idb-keyval.umd.js",
    "vendor/compressorjs/compressor.min.js",
    "field/icon.svg",
]


@never_cache
@require_GET
def app(request):
    check_role(request.user, *FIELD_ROLES)
    return render(
        request,
        "field/app.html",
        {
            "remarks": Remark.choices,
            "reasons": VisitFailure.choices,
            "agent": request.user.username,
            "safety_steps": SAFETY_STEPS,
        },
    )


def _order(order) -> dict:
    contract = order.request.contract
    return {
        "numero": order.number,
        "nature": order.kind,
        "envoi": services.report_kind(order),
        "travail": selectors.WORK[order.kind],
        "a_executer_le": order.due_on.isoformat(),
        "contrat": contract.number,
        "client": contract.customer.name,
        "adresse": contract.delivery_point.address,
        "quartier": selectors.neighbourhood(contract.delivery_point.address),
        "point_de_livraison": contract.delivery_point.reference,
        "compteur": contract.meter.serial,
        "chiffres": contract.meter.digits,
        "dernier_index": contract.last_billed_index,
        "dernier_index_le": contract.last_billed_date.isoformat(),
        "renvoye": order.status == "returned",
        "pdf": reverse("field_order_pdf", args=[order.number]),
    }


def _to_sign(report) -> dict:
    """A report entered for the agent from their paper order: what it says, to be signed."""
    order, contract = report.order, report.order.request.contract
    return {
        "numero": order.number,
        "cr": report.pk,
        "travail": selectors.WORK[order.kind],
        "adresse": contract.delivery_point.address,
        "client": contract.customer.name,
        "index": report.index_read,
        "le": report.read_on.strftime("%d/%m/%Y"),
        "coupure": report.cut_index if report.cut_done else None,
        "remarques": ", ".join(r for r in [*report.remark_labels, report.remarks_other] if r),
        "saisi_par": report.entered_by.display_name,
        "saisi_le": timezone.localtime(report.entered_at).strftime("%d/%m/%Y %H:%M"),
    }


@never_cache
@require_GET
def day(request):
    """The crew's orders, and what it sent that did not go through."""
    check_role(request.user, *FIELD_ROLES)
    return JsonResponse(
        {
            "agent": request.user.username,
            "charge_le": timezone.localtime().strftime("%d/%m/%Y %H:%M"),
            "jeton": get_token(request),
            "ordres": [_order(o) for o in selectors.day_orders(request.user)],
            "a_signer": [_to_sign(r) for r in selectors.reports_to_sign(request.user)],
            "envois": [
                {
                    "id": str(s.client_id),
                    "ordre": s.order.number,
                    "resultat": s.outcome,
                    "libelle": s.get_outcome_display(),
                    "message": s.message,
                }
                for s in selectors.open_submissions(request.user)
            ],
        },
        json_dumps_params={"ensure_ascii": False, "separators": (",", ":")},
    )


def _position(post) -> tuple[float, float, int | None] | None:
    try:
        latitude, longitude = float(post["lat"]), float(post["lon"])
    except (KeyError, ValueError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    try:
        accuracy = max(0, min(int(float(post.get("precision", ""))), 100_000))
    except ValueError:
        accuracy = None
    return latitude, longitude, accuracy


@never_cache
@require_POST
def send(request):
    """One report from the phone (multipart: its identifier, nature, order, fields as JSON, the
    phone's time, its position if given, its photo if taken). Answered in JSON: 200 with the
    outcome (accepted, refused, conflict: final for this identifier), 409 when the identifier
    was used for other content or by someone else, 400 when nothing can be kept."""
    check_role(request.user, *FIELD_ROLES)
    post = request.POST
    try:
        fields = json.loads(post.get("champs", "{}"))
        if not isinstance(fields, dict):
            raise ValueError
    except ValueError:
        return JsonResponse({"id": post.get("id", ""), "message": "Contenu illisible."}, status=400)
    made_at = parse_datetime(post.get("fait_le", "")) if post.get("fait_le") else None
    if made_at is not None and timezone.is_naive(made_at):
        made_at = timezone.make_aware(made_at)
    upload = request.FILES.get("photo")
    photo = upload.read(services.PHOTO_MAX + 1) if upload else None
    try:
        answer = services.submission_receive(
            actor=request.user,
            client_id=post.get("id", ""),
            kind=post.get("nature", ""),
            order_number=post.get("ordre", ""),
            fields=fields,
            made_at=made_at,
            position=_position(post),
            photo=photo,
        )
    except StepRefused as refusal:
        status = 409 if isinstance(refusal, services.ReplayRefused) else 400
        return JsonResponse(
            {"id": post.get("id", ""), "resultat": "refused", "message": refusal.message},
            status=status,
            json_dumps_params={"ensure_ascii": False},
        )
    return JsonResponse(answer.as_json(), json_dumps_params={"ensure_ascii": False})


@login_not_required  # fetched again by the browser on its own; nothing in it is private
@never_cache
@require_GET
def service_worker(request):
    """The service worker, from /terrain/ so that its scope is the field app."""
    return render(
        request,
        "field/sw.js",
        {
            "files": [static(f) for f in APP_FILES],
            "version": _version(),
            # Hashed names change with their content: the worker keeps them as the page got
            # them (the browser's cache, no second download); plain names carry a revision.
            "hashed": isinstance(staticfiles_storage, ManifestFilesMixin),
        },
        content_type="application/javascript; charset=utf-8",
    )


def _version() -> str:
    """Changes with the app's files (their hashed names): a new worker then."""
    names = "|".join(static(f) for f in APP_FILES)
    return hashlib.sha256(names.encode()).hexdigest()[:12]


@login_not_required  # browsers fetch the manifest without the session's cookie
@require_GET
def manifest(request):
    data = {
        "name": "SBEE – Ma tournée",
        "short_name": "Ma tournée",
        "lang": "fr",
        "start_url": "/terrain/",
        "scope": "/terrain/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b4f8a",
        "icons": [{"src": static("field/icon.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }
    return JsonResponse(
        data,
        content_type="application/manifest+json",
        json_dumps_params={"ensure_ascii": False},
    )


@never_cache
@require_GET
def order_pdf(request, number: str):
    """An order of the crew's day as a consultation copy, kept on the phone by the app (the
    original is the paper the crew carries)."""
    check_role(request.user, *FIELD_ROLES)
    order = selectors.day_order(request.user, number)
    document = Document.objects.filter(order=order).first() if order else None
    if document is None:
        raise Http404("Cet ordre n'est pas dans votre tournée.")
    return consultation_copy(request, document)


# Who may print a crew's route sheet at the agency, besides the crew itself.
ROUTE_SHEET_READERS = (Role.SUPERVISOR, Role.RECEPTION, Role.MANAGER)


@never_cache
@require_GET
def route_sheet(request, username: str):
    """The crew's route sheet for the day: one PDF, printed at the agency or kept on the phone."""
    agent = User.objects.filter(username=username, agency_id=request.user.agency_id).first()
    if agent is None or not agent.has_role(*FIELD_ROLES):
        raise Http404("Agent de terrain introuvable dans votre agence.")
    if agent != request.user:
        check_role(request.user, *ROUTE_SHEET_READERS)
    today = timezone.localdate()
    url = request.build_absolute_uri(reverse("field_app"))
    pdf = render_pdf(
        "documents/route_sheet.html",
        {
            "title": "Feuille de route",
            "number": f"{agent.username} du {today:%d/%m/%Y}",
            "date": today,
            "agency": agent.agency,
            "request_url": url,
            "footer_url": url,
            "qr": qr_data_uri(url),
            "qr_alt": "QR code de l'application de terrain",
            "agent": agent,
            "orders": [_order(o) for o in selectors.day_orders(agent)],
        },
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="feuille-de-route-{agent.username}.pdf"'
    return response


class ConflictReviewForm(forms.Form):
    note = forms.CharField(
        label="Suite donnée",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Par exemple : compte-rendu ressaisi par l'agent désigné, ou écarté et pourquoi.",
    )
    confirm = ConfirmForm.base_fields["confirm"]


@require_http_methods(["GET", "POST"])
def conflict_review(request, pk: int):
    """The supervisor reads a report that came in conflict, as it was typed, and says what was
    done with it."""
    check_role(request.user, Role.SUPERVISOR)
    submission = (
        FieldSubmission.objects.select_related("order__request", "agent")
        .filter(pk=pk, order__agency_id=request.user.agency_id, outcome=SubmissionOutcome.CONFLICT)
        .first()
    )
    if submission is None:
        raise Http404("Conflit introuvable dans votre agence.")
    form = ConflictReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            procedure.termination_request_review_field_conflict(
                submission, actor=request.user, note=form.cleaned_data["note"]
            )
        except StepRefused as refusal:
            refusal.show_in(form)
        else:
            messages.success(request, "Conflit examiné : la suite donnée est au journal.")
            return redirect("request_detail", pk=submission.order.request_id)
    return render(
        request,
        "field/conflict.html",
        {"submission": submission, "form": form, "reviewed": hasattr(submission, "review")},
    )
