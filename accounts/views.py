"""Accounts: the second factor (enrolment by QR code, recovery codes, the code at each login),
changing one's password, and the auditors' page of security events (DESIGN §11)."""

import base64

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.enrolment import enrolment_code_use, enrolment_code_waiting
from accounts.middleware import needs_second_factor
from accounts.rules import check_role
from contracts.audit import security_event
from contracts.enums import Role, SecurityEventKind
from contracts.forms import DateField
from contracts.models import SecurityEvent

RECOVERY_CODES = 10
CODE_REFUSED = "Code refusé : vérifiez l'heure du téléphone, ou utilisez un code de secours."
ENROLMENT_CODE_REFUSED = (
    "Code d'enrôlement refusé : ce n'est pas celui émis pour votre compte, ou il a déjà servi."
)
NO_ENROLMENT_CODE = (
    "Aucun code d'enrôlement n'a été émis pour votre compte. Demandez-le à l'administrateur "
    "DCC : un administrateur le demande, un second l'émet et vous le remet. Sans lui, le "
    "second facteur ne peut pas être enregistré (un mot de passe seul ne suffit pas)."
)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code à 6 chiffres (ou code de secours)",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


@require_http_methods(["GET", "POST"])
def second_factor(request):
    """The code of the authenticator application; the first time, its enrolment."""
    user = request.user
    if not needs_second_factor(user) or user.is_verified():
        return redirect(_next(request))
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return _enrol(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        matched = match_token(user, form.cleaned_data["code"].replace(" ", ""))
        if matched is not None:
            otp_login(request, matched)
            security_event(
                SecurityEventKind.SECOND_FACTOR,
                actor=user,
                user=user,
                request=request,
                data={"device": type(matched).__name__},
            )
            return redirect(_next(request))
        security_event(
            SecurityEventKind.SECOND_FACTOR_FAILED, actor=user, user=user, request=request
        )
        form.add_error("code", CODE_REFUSED)
    return render(
        request, "registration/second_factor.html", {"form": form, "next": _next(request)}
    )


class EnrolForm(CodeForm):
    enrolment_code = forms.CharField(
        label="Code d'enrôlement (remis par l'administrateur DCC)",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    field_order = ["enrolment_code", "code"]


class EnrolmentRefused(Exception):
    pass


def _enrol(request):
    user = request.user
    if not enrolment_code_waiting(user):
        # Without a code issued by two admins, a password alone does not enrol anything.
        return render(
            request,
            "registration/second_factor_enrol.html",
            {"no_code": NO_ENROLMENT_CODE, "next": _next(request)},
        )
    pending = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if pending is None:
        pending = TOTPDevice.objects.create(
            user=user, name="Application d'authentification", confirmed=False
        )
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if pending.verify_token(form.cleaned_data["code"].replace(" ", "")):
            try:
                codes = _confirm_enrolment(request, pending, form.cleaned_data["enrolment_code"])
            except EnrolmentRefused:
                security_event(
                    SecurityEventKind.SECOND_FACTOR_FAILED,
                    actor=user,
                    user=user,
                    request=request,
                    data={"motif": "code d'enrôlement refusé"},
                )
                form.add_error("enrolment_code", ENROLMENT_CODE_REFUSED)
            else:
                if codes is None:
                    return redirect(
                        reverse("second_factor") + "?" + urlencode({"next": _next(request)})
                    )
                return render(
                    request,
                    "registration/recovery_codes.html",
                    {"codes": codes, "next": _next(request)},
                )
        else:
            form.add_error("code", CODE_REFUSED)
    secret = base64.b32encode(pending.bin_key).decode()
    return render(
        request,
        "registration/second_factor_enrol.html",
        {
            "form": form,
            "next": _next(request),
            "qr": segno.make(pending.config_url, error="m").svg_data_uri(scale=5, border=2),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        },
    )


@transaction.atomic
def _confirm_enrolment(request, device: TOTPDevice, enrolment_code: str) -> list[str] | None:
    """The application's code matched: the enrolment code used up, the device confirmed, ten
    recovery codes (any earlier ones replaced), the session verified, the event recorded,
    together; None if a concurrent request confirmed it first; EnrolmentRefused (nothing
    written) when the enrolment code is not one issued for this account and still unused."""
    user = request.user
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if device.confirmed:
        return None
    if not enrolment_code_use(user, enrolment_code):
        raise EnrolmentRefused
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    static, _ = StaticDevice.objects.get_or_create(user=user, name="Codes de secours")
    static.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=static, token=c) for c in codes)
    otp_login(request, device)
    security_event(SecurityEventKind.SECOND_FACTOR_ENROLLED, actor=user, user=user, request=request)
    return codes


class PasswordChange(auth_views.PasswordChangeView):
    """Changing one's own password (the current one is asked): a security event."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        security_event(
            SecurityEventKind.PASSWORD_CHANGED,
            actor=self.request.user,
            user=self.request.user,
            request=self.request,
        )
        messages.success(self.request, "Mot de passe changé.")
        return response


class SecurityFilter(forms.Form):
    kind = forms.ChoiceField(
        label="Nature", choices=[("", "Toutes"), *SecurityEventKind.choices], required=False
    )
    who = forms.CharField(label="Compte ou identifiant", max_length=150, required=False)
    start = DateField(label="Du", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = DateField(label="Au", required=False, widget=forms.DateInput(attrs={"type": "date"}))


def security_events(request):
    """The auditors' page: every login, failure, lockout, grant and password change."""
    check_role(request.user, Role.AUDITOR)
    form = SecurityFilter(request.GET or None)
    events = SecurityEvent.objects.select_related("actor", "user").order_by("-at", "-id")
    if form.is_valid():
        data = form.cleaned_data
        if data["kind"]:
            events = events.filter(kind=data["kind"])
        if data["who"]:
            who = data["who"].strip()
            events = events.filter(
                Q(username__icontains=who)
                | Q(user__username__icontains=who)
                | Q(user__last_name__icontains=who)
            )
        if data["start"]:
            events = events.filter(at__date__gte=data["start"])
        if data["end"]:
            events = events.filter(at__date__lte=data["end"])
    elif form.is_bound:
        events = events.none()  # a filter typed wrong lists nothing rather than everything
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/security_events.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )
