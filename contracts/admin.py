from django import forms
from django.contrib import admin
from django.utils import timezone

from contracts.enums import Role
from contracts.models import (
    Agency,
    Contract,
    Customer,
    Delay,
    DeliveryPoint,
    Deposit,
    Direction,
    Meter,
    TerminationEvent,
    TerminationRequest,
)


class RoleAdmin(admin.ModelAdmin):
    """Everything the admin role may see and edit; subclasses narrow it."""

    def _is_admin(self, request) -> bool:
        return request.user.is_active and (
            request.user.is_superuser or request.user.has_role(Role.ADMIN)
        )

    def has_module_permission(self, request) -> bool:
        return self._is_admin(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._is_admin(request)

    def has_add_permission(self, request) -> bool:
        return self._is_admin(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._is_admin(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # reference data is referenced by contracts and invoices: never deleted


class ReadOnlyAdmin(RoleAdmin):
    """Business data is changed through the procedure's pages, never in the admin."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Direction)
class DirectionAdmin(RoleAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class AgencyForm(forms.ModelForm):
    class Meta:
        model = Agency
        fields = ["code", "name", "zone", "direction"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["direction"].required = True  # legacy rows may lack one; new ones may not


@admin.register(Agency)
class AgencyAdmin(RoleAdmin):
    form = AgencyForm
    list_display = ["code", "name", "zone", "direction"]
    list_filter = ["direction", "zone"]
    search_fields = ["code", "name"]


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "id_document_type", "id_document_number", "phone"]
    search_fields = ["name_normalized", "phone", "id_document_number"]


@admin.register(DeliveryPoint)
class DeliveryPointAdmin(ReadOnlyAdmin):
    """Read only, but for the connection's capacity (what a successor may subscribe), which a
    technical check sets; the database records each change (DataChange)."""

    list_display = ["reference", "agency", "voltage", "max_power_kva", "status"]
    list_filter = ["agency", "voltage", "status"]
    search_fields = ["reference"]
    fields = ["reference", "address", "agency", "voltage", "max_power_kva", "status"]
    readonly_fields = ["reference", "address", "agency", "voltage", "status"]

    def has_change_permission(self, request, obj=None) -> bool:
        return self._is_admin(request)


@admin.register(Meter)
class MeterAdmin(ReadOnlyAdmin):
    list_display = ["serial", "digits", "status"]
    search_fields = ["serial"]


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdmin):
    list_display = ["number", "customer", "agency", "tariff_category", "status"]
    list_filter = ["agency", "tariff_category", "status"]
    list_select_related = ["customer", "agency", "tariff_category"]
    search_fields = ["number"]


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = ["contract", "amount", "payer_name", "status"]
    list_select_related = ["contract"]


@admin.register(TerminationRequest)
class TerminationRequestAdmin(ReadOnlyAdmin):
    """For reading: requests change only through the procedure's pages."""

    list_display = ["pk", "contract", "agency", "kind", "state", "created_at"]
    list_filter = ["agency", "kind", "state"]
    list_select_related = ["contract", "agency"]
    search_fields = ["contract__number"]


@admin.register(TerminationEvent)
class TerminationEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "request", "step", "action", "actor", "from_state", "to_state"]
    list_filter = ["step", "action"]
    list_select_related = ["request__contract", "actor"]


@admin.register(Delay)
class DelayAdmin(RoleAdmin):
    """The délais of the procedure. A new value is a new row dated from when it applies: rows
    already in force are not edited (the requests already transferred were judged by them)."""

    list_display = ["kind", "days", "valid_from"]
    list_filter = ["kind"]
    save_as = True

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.valid_from <= timezone.localdate():
            return False
        return super().has_change_permission(request, obj)
