"""The admin's pages for the customers' messages: the texts (with their cost and a preview),
the kinds switched on or off, the quiet hours; the messages written and their delivery, read
only (the demo's file backend shows each SMS here as the customer would read it)."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from contracts.admin import ReadOnlyAdmin, RoleAdmin
from notifications.backends import FileBackend
from notifications.enums import DeliveryStatus
from notifications.models import (
    Delivery,
    KindSetting,
    Notification,
    Preference,
    QuietHours,
    Template,
)
from notifications.services import with_status
from notifications.texts import VARIABLES, render, segments, unknown_variables

EXAMPLE = {
    "demande": "1234",
    "contrat": "1010004503",
    "code": "48213907",
    "suivi": "https://resiliation.sbee.bj/suivi/",
    "date": "15/12/2026",
    "creneau": "entre 8h et 17h",
    "travaux": "relève et coupure",
    "facture": "FAC-AKP-2026-000123",
    "montant": "21 417 FCFA",
    "agence": "Cotonou Akpakpa",
    "limite": "05/01/2027",
    "attestation": "ATT-AKP-2026-000045",
    "verification": "https://resiliation.sbee.bj/verification/…",
}


class TemplateForm(forms.ModelForm):
    class Meta:
        model = Template
        fields = ["kind", "language", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 4, "cols": 80})}

    # The variables are checked by Template.clean (the model), as for any other writer.


@admin.register(Template)
class TemplateAdmin(RoleAdmin):
    form = TemplateForm
    list_display = ["kind", "language", "cost"]
    list_filter = ["kind", "language"]
    readonly_fields = ["variables", "preview"]

    @admin.display(description="variables possibles")
    def variables(self, template):
        if not template.kind:
            return "—"
        return format_html_join(", ", "<code>{{{}}}</code> ({})", VARIABLES[template.kind].items())

    @admin.display(description="aperçu (exemple)")
    def preview(self, template):
        if not template.text or unknown_variables(template.kind, template.text):
            return "—"
        text = render(template.text, EXAMPLE)
        encoding, length, parts = segments(text)
        return format_html(
            "<p>{}</p><p>{} caractères, {}, {} SMS</p>", text, length, encoding, parts
        )

    @admin.display(description="coût")
    def cost(self, template):
        return template.cost


@admin.register(KindSetting)
class KindSettingAdmin(RoleAdmin):
    list_display = ["kind", "enabled"]
    list_editable = ["enabled"]


@admin.register(QuietHours)
class QuietHoursAdmin(RoleAdmin):
    list_display = ["__str__"]


@admin.register(Preference)
class PreferenceAdmin(ReadOnlyAdmin):
    list_display = ["phone", "language", "opted_out", "at", "recorded_by"]
    search_fields = ["phone"]


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ["at", "status", "reference", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "request", "kind", "recipient", "phone", "text", "status"]
    list_filter = ["kind"]
    search_fields = ["phone", "request__contract__number"]
    fields = [
        "created_at",
        "request",
        "kind",
        "recipient",
        "role",
        "phone",
        "language",
        "send_after",
        "text",
        "received",
    ]
    readonly_fields = fields
    inlines = [DeliveryInline]

    def get_queryset(self, request):
        return with_status(super().get_queryset(request))

    @admin.display(description="état")
    def status(self, notification) -> str:
        if notification.last_status is None:
            return "en attente d'envoi"
        return DeliveryStatus(notification.last_status).label

    @admin.display(description="reçu par le téléphone")
    def received(self, notification) -> str:
        """With the file backend (development, demo): the SMS as the phone received it."""
        got = FileBackend.received(notification)
        if got is None:
            return (
                "—"
                if settings.SMS_BACKEND.endswith(".FileBackend")
                else "voir les remises ci-dessous (passerelle)"
            )
        return format_html(
            '<div class="sms"><strong>À {}</strong><br>{}</div>',
            got["to"],
            got["text"],
        )
