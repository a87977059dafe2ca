from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.utils import timezone

from contracts.models import (
    Agency,
    Contract,
    Customer,
    Delay,
    DeliveryPoint,
    Deposit,
    Meter,
    TerminationEvent,
    TerminationRequest,
    User,
)
from sbee_resiliation.admin import ReadOnlyAdmin, RoleAdmin

admin.site.unregister(Group)  # roles are fixed by the procedure; users get them on their page


@admin.register(Agency)
class AgencyAdmin(RoleAdmin):
    list_display = ["code", "name", "zone"]
    list_filter = ["zone"]
    search_fields = ["code", "name"]


@admin.register(User)
class StaffUserAdmin(RoleAdmin, UserAdmin):
    list_display = ["username", "last_name", "first_name", "agency", "is_active", "is_demo"]
    list_filter = ["agency", "groups", "is_active", "is_demo"]
    list_select_related = ["agency"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Identité", {"fields": ["last_name", "first_name", "email"]}),
        ("Agence et rôles", {"fields": ["agency", "groups", "is_active", "is_demo"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["username", "last_name", "first_name", "agency", "groups"],
            },
        ),
        ("Mot de passe", {"fields": ["password1", "password2"]}),
    ]
    readonly_fields = ["last_login", "date_joined"]
    filter_horizontal = ["groups"]


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "id_document_type", "id_document_number", "phone"]
    search_fields = ["name_normalized", "phone", "id_document_number"]


@admin.register(DeliveryPoint)
class DeliveryPointAdmin(ReadOnlyAdmin):
    list_display = ["reference", "agency", "voltage", "status"]
    list_filter = ["agency", "voltage", "status"]


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
