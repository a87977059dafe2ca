from django.contrib import admin

from contracts.admin import ReadOnlyAdmin, RoleAdmin
from interventions.models import (
    FieldSubmission,
    InterventionOrder,
    InterventionReport,
    PhotoRule,
)


@admin.register(InterventionOrder)
class InterventionOrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "agency", "issued_on", "due_on", "status"]
    list_filter = ["agency", "kind", "status"]
    list_select_related = ["agency"]
    search_fields = ["number"]


@admin.register(InterventionReport)
class InterventionReportAdmin(ReadOnlyAdmin):
    list_display = ["order", "index_read", "read_on", "cut_done", "signed_by"]
    list_select_related = ["order", "signed_by"]


@admin.register(FieldSubmission)
class FieldSubmissionAdmin(ReadOnlyAdmin):
    """What came from the field app, as it came, with its outcome (read only)."""

    list_display = ["received_at", "order", "kind", "agent", "outcome", "message"]
    list_filter = ["outcome", "kind"]
    list_select_related = ["order", "agent"]
    search_fields = ["order__number", "client_id"]
    exclude = ["report", "attempt"]


@admin.register(PhotoRule)
class PhotoRuleAdmin(RoleAdmin):
    """Per kind of report: whether the photo of the meter's display is required."""

    list_display = ["kind", "required"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
