from django.contrib import admin
from django.utils import timezone

from billing.models import AccountEntry, Invoice, TariffCategory, TariffItem
from sbee_resiliation.admin import ReadOnlyAdmin, RoleAdmin


@admin.register(TariffCategory)
class TariffCategoryAdmin(RoleAdmin):
    list_display = ["code", "name", "voltage"]


@admin.register(TariffItem)
class TariffItemAdmin(RoleAdmin):
    """A new grid is entered as new items dated from when they apply. Items already in force
    cannot be edited: that would rewrite the history that validated invoices were built on."""

    list_display = ["category", "code", "label", "kind", "value", "valid_from", "zone"]
    list_filter = ["category", "kind", "valid_from"]
    list_select_related = ["category"]
    save_as = True

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.valid_from <= timezone.localdate():
            return False
        return super().has_change_permission(request, obj)


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "contract", "state", "total", "issued_on"]
    list_filter = ["kind", "state"]
    list_select_related = ["contract"]


@admin.register(AccountEntry)
class AccountEntryAdmin(ReadOnlyAdmin):
    list_display = ["contract", "posted_on", "kind", "label", "debit", "credit"]
    list_select_related = ["contract"]
