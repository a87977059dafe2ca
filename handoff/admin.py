from django.contrib import admin

from contracts.admin import ReadOnlyAdmin, RoleAdmin
from handoff.models import Acknowledgement, ApiCall, OutboxRecord, ReceivingSystem
from handoff.selectors import unacknowledged


class UnacknowledgedFilter(admin.SimpleListFilter):
    title = "accusé de réception"
    parameter_name = "non_acquitte"

    def lookups(self, request, model_admin):
        return [("1", "Non acquittés depuis plus d'un jour")]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(pk__in=unacknowledged().values("pk"))
        return queryset


@admin.register(OutboxRecord)
class OutboxRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "agency", "contract_number", "created_at"]
    list_filter = [UnacknowledgedFilter, "kind", "agency"]
    search_fields = ["contract_number"]
    list_select_related = ["agency"]


@admin.register(ReceivingSystem)
class ReceivingSystemAdmin(RoleAdmin):
    """Made with `manage.py handoff_token NAME` (the token is shown once); here the admin sees
    them and may deactivate one."""

    list_display = ["name", "token_hint", "active", "created_at"]
    fields = ["name", "token_hint", "active", "created_at"]
    readonly_fields = ["name", "token_hint", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Acknowledgement)
class AcknowledgementAdmin(ReadOnlyAdmin):
    list_display = ["system", "up_to", "at"]
    list_filter = ["system"]


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyAdmin):
    list_display = ["at", "system", "method", "path", "status", "ip_address"]
    list_filter = ["system", "status"]
