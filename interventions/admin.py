from django.contrib import admin

from contracts.admin import ReadOnlyAdmin
from interventions.models import InterventionOrder, InterventionReport


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
