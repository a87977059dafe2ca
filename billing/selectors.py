"""Reads of the billing side: tariffs in force, what an account holds, the cash desk's lists."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from billing.computation import Item
from billing.enums import EntryKind, InvoiceKind, InvoiceState
from billing.models import (
    AccountEntry,
    BilledReading,
    CashClosing,
    Invoice,
    Settlement,
    TariffCategory,
    TariffItem,
)
from contracts.enums import ContractStatus
from contracts.models import Agency, Contract


def tariff_items_in_force(category: TariffCategory, on: dt.date) -> list[Item]:
    """For each item code of the category, the version in force on that date."""
    rows = (
        TariffItem.objects.filter(category=category, valid_from__lte=on)
        .order_by("code", "-valid_from")
        .distinct("code")
    )
    return [
        Item(
            code=r.code,
            label=r.label,
            kind=r.kind,
            value=r.value,
            from_kwh=r.from_kwh,
            to_kwh=r.to_kwh,
            vat_applies=r.vat_applies,
            zone=r.zone,
        )
        for r in rows
    ]


def unpaid_invoices(contract: Contract) -> QuerySet[Invoice]:
    """Consumption invoices validated and not settled: what the balance invoice takes over."""
    return contract.invoices.filter(kind=InvoiceKind.CONSUMPTION, state=InvoiceState.VALIDATED)


def advances_in_account(contract: Contract) -> int:
    total = contract.account_entries.filter(kind=EntryKind.ADVANCE).aggregate(s=Sum("credit"))["s"]
    return total or 0


def billable_contracts() -> QuerySet[Contract]:
    """Contracts that the periodic billing (maintenance invoices included) may still bill."""
    return Contract.objects.filter(status=ContractStatus.ACTIVE)


HISTORY_PERIODS = 12


def usual_consumption(contract: Contract, days: int) -> int:
    """The contract's usual consumption over `days` days: the daily average of its last 12
    billed periods when the billing system gave them; otherwise its lifetime daily average (the
    meter started at zero when the contract did), which a successor's contract, started on a
    running meter, makes meaningless."""
    history = (
        BilledReading.objects.filter(contract=contract)
        .order_by("-period_end")
        .values_list("days", "consumption")[:HISTORY_PERIODS]
    )
    periods = list(history)
    if periods:
        total_days = sum(d for d, _ in periods)
        return sum(kwh for _, kwh in periods) * days // total_days
    lifetime = max(1, (contract.last_billed_date - contract.start_date).days)
    return contract.last_billed_index * days // lifetime


def invoices_to_settle(agency: Agency) -> QuerySet[Invoice]:
    """The cashier's queue: the agency's termination invoices validated and not settled."""
    return (
        Invoice.objects.filter(
            contract__agency=agency,
            state=InvoiceState.VALIDATED,
            kind__in=[InvoiceKind.BALANCE, InvoiceKind.SUBSCRIPTION],
        )
        .select_related("contract__customer", "request")
        .order_by("validated_at", "id")
    )


def day_journal(agency: Agency, day: dt.date) -> QuerySet[Settlement]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return (
        Settlement.objects.filter(
            agency=agency, created_at__gte=start, created_at__lt=start + dt.timedelta(days=1)
        )
        .select_related("invoice", "contract__customer", "cashier")
        .order_by("created_at", "id")
    )


def cash_closings(agency: Agency, day: dt.date) -> QuerySet[CashClosing]:
    """The agency's arrêtés de caisse of the day and those still waiting for a countersignature."""
    return (
        CashClosing.objects.filter(agency=agency)
        .filter(Q(day=day) | Q(countersigned_at__isnull=True))
        .select_related("cashier", "countersigned_by")
        .order_by("-day", "id")
    )


@dataclass(frozen=True)
class Account:
    """A contract's customer account: balance > 0 means the customer owes it."""

    balance: int
    unpaid_invoices: list[Invoice]
    unpaid_total: int
    advances_total: int
    entries: list[AccountEntry]


def contract_account(contract: Contract) -> Account:
    entries = list(contract.account_entries.order_by("posted_on", "id"))
    unpaid = list(
        contract.invoices.filter(state=InvoiceState.VALIDATED).order_by("issued_on", "id")
    )
    return Account(
        balance=sum(e.debit for e in entries) - sum(e.credit for e in entries),
        unpaid_invoices=unpaid,
        unpaid_total=sum(invoice.total for invoice in unpaid),
        advances_total=sum(e.credit for e in entries if e.kind == EntryKind.ADVANCE),
        entries=entries,
    )
