from django.contrib import admin
from django.utils import timezone

from billing.models import (
    AccountEntry,
    AccountTransfer,
    BilledReading,
    CashClosing,
    CreditNote,
    Invoice,
    RefundAuthorisation,
    Settlement,
    TariffCategory,
    TariffItem,
)
from contracts.admin import ReadOnlyAdmin, RoleAdmin


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


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "contract", "amount", "mode", "cashier", "created_at"]
    list_filter = ["kind", "mode", "agency"]
    list_select_related = ["contract", "cashier"]
    search_fields = ["number"]


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = ["number", "invoice", "total", "issued_on", "created_by"]
    list_select_related = ["invoice", "created_by"]


@admin.register(RefundAuthorisation)
class RefundAuthorisationAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "beneficiary_name", "quality", "authorised_by", "authorised_at"]
    list_select_related = ["invoice", "authorised_by"]


@admin.register(AccountTransfer)
class AccountTransferAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "kind", "amount", "since", "transferred_on", "agency"]
    list_filter = ["kind", "agency"]
    list_select_related = ["invoice", "agency"]


@admin.register(CashClosing)
class CashClosingAdmin(ReadOnlyAdmin):
    list_display = ["number", "cashier", "day", "collected", "refunded", "advances"]
    list_select_related = ["cashier"]


@admin.register(BilledReading)
class BilledReadingAdmin(ReadOnlyAdmin):
    """The consumption history the billing system gave (read-only: it comes with the imports)."""

    list_display = ["contract", "period_end", "index", "days", "consumption"]
    search_fields = ["contract__number"]
    list_select_related = ["contract"]
