"""The invoice computation of DESIGN.md §5, as pure functions on plain values.

No database, no float: quantities are kWh, amounts whole francs CFA; every line is rounded half up
to the franc, and VAT is computed once on the sum of its base.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from billing.enums import TariffItemKind
from contracts.money import format_fcfa

ROLLOVER_REQUIRED = (
    "L'index relevé ({final}) est inférieur au dernier index facturé ({last}). "
    "Vérifiez la saisie, ou confirmez un passage du compteur par zéro."
)
ROLLOVER_IMPOSSIBLE = "Un index de {digits} chiffres ne peut pas dépasser {maximum}."
DATE_BEFORE_LAST = (
    "La date de relève ne peut pas précéder la date du dernier index facturé ({last})."
)


class ComputationError(ValueError):
    pass


def round_half_up(numerator: int, denominator: int = 1) -> int:
    """numerator / denominator rounded half up to an integer (both non-negative)."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("round_half_up expects a non-negative fraction")
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class Item:
    """A tariff item in force, as plain values (see billing.models.TariffItem)."""

    code: str
    label: str
    kind: str
    value: int
    from_kwh: int | None = None
    to_kwh: int | None = None
    vat_applies: bool = False
    zone: str = ""


@dataclass(frozen=True)
class Line:
    code: str
    label: str
    quantity: int
    unit: str
    unit_price: int
    amount: int
    vat_applies: bool
    basis: str = ""  # what makes the amount, as printed: "500 FCFA × 6 kVA × 29/30 j"


def base_label(label: str) -> str:
    """A tariff item's label without the per-30-days bounds it may carry in parentheses: the
    invoice prints the bounds of its own period instead."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", label)


@dataclass(frozen=True)
class Computation:
    days: int
    consumption: int
    lines: list[Line] = field(default_factory=list)
    vat_rate: int = 0
    vat_base: int = 0
    vat_amount: int = 0
    total: int = 0


def period_days(last_date: dt.date, final_date: dt.date) -> int:
    if final_date < last_date:
        raise ComputationError(DATE_BEFORE_LAST.format(last=last_date.strftime("%d/%m/%Y")))
    return max(1, (final_date - last_date).days)


def consumption_kwh(*, last_index: int, final_index: int, digits: int, rollover: bool) -> int:
    maximum = 10**digits - 1
    if final_index > maximum:
        raise ComputationError(ROLLOVER_IMPOSSIBLE.format(digits=digits, maximum=maximum))
    if final_index >= last_index:
        return final_index - last_index
    if not rollover:
        raise ComputationError(ROLLOVER_REQUIRED.format(final=final_index, last=last_index))
    return 10**digits - last_index + final_index


def scaled_bound(bound30: int, days: int) -> int:
    """A tranche bound given per 30 days, for a period of `days` days."""
    return round_half_up(bound30 * days, 30)


def compute_consumption_invoice(
    *,
    items: list[Item],
    power_kva: int,
    zone: str,
    last_index: int,
    last_date: dt.date,
    final_index: int,
    final_date: dt.date,
    digits: int,
    rollover: bool = False,
) -> Computation:
    """The consumption part of a balance (or complementary) invoice: energy by tranche, fixed
    charges prorated to the period, levies per kWh, VAT on its base."""
    days = period_days(last_date, final_date)
    kwh = consumption_kwh(
        last_index=last_index, final_index=final_index, digits=digits, rollover=rollover
    )
    lines: list[Line] = []
    tranches = sorted(
        (i for i in items if i.kind == TariffItemKind.ENERGY), key=lambda i: i.from_kwh or 0
    )
    for item in tranches:
        lower = scaled_bound(item.from_kwh or 0, days)
        bound = None if item.to_kwh is None else scaled_bound(item.to_kwh, days)
        upper = kwh if bound is None else min(kwh, bound)
        quantity = max(0, upper - lower)
        if quantity or item is tranches[0]:
            if bound is None and lower == 0:
                scope = f"sur {days} j"
            elif bound is None:
                scope = f"au-delà de {lower} kWh sur {days} j"
            else:
                scope = f"{lower + 1 if lower else 0} à {bound} kWh sur {days} j"
            lines.append(
                Line(
                    item.code,
                    f"{base_label(item.label)} ({scope})",
                    quantity,
                    "kWh",
                    item.value,
                    quantity * item.value,
                    item.vat_applies,
                    f"{quantity} kWh × {format_fcfa(item.value)}",
                )
            )
    for item in items:
        if item.kind == TariffItemKind.FIXED_PER_KVA:
            amount = round_half_up(item.value * power_kva * days, 30)
            lines.append(
                Line(
                    item.code,
                    f"{base_label(item.label)} ({power_kva} kVA, {days} j)",
                    power_kva,
                    "kVA",
                    item.value,
                    amount,
                    item.vat_applies,
                    f"{format_fcfa(item.value)} × {power_kva} kVA × {days}/30 j",
                )
            )
        elif item.kind == TariffItemKind.FIXED_PER_CONTRACT:
            amount = round_half_up(item.value * days, 30)
            lines.append(
                Line(
                    item.code,
                    f"{base_label(item.label)} ({days} j)",
                    1,
                    "contrat",
                    item.value,
                    amount,
                    item.vat_applies,
                    f"{format_fcfa(item.value)} × {days}/30 j",
                )
            )
    for item in items:
        if item.kind == TariffItemKind.LEVY_PER_KWH and item.zone in ("", zone):
            lines.append(
                Line(
                    item.code,
                    item.label,
                    kwh,
                    "kWh",
                    item.value,
                    kwh * item.value,
                    False,
                    f"{kwh} kWh × {format_fcfa(item.value)}",
                )
            )
    vat_rate = next((i.value for i in items if i.kind == TariffItemKind.VAT_RATE), 0)
    vat_base = sum(line.amount for line in lines if line.vat_applies)
    vat_amount = round_half_up(vat_base * vat_rate, 100)
    total = sum(line.amount for line in lines) + vat_amount
    return Computation(
        days=days,
        consumption=kwh,
        lines=lines,
        vat_rate=vat_rate,
        vat_base=vat_base,
        vat_amount=vat_amount,
        total=total,
    )


def compute_subscription_invoice(*, items: list[Item], power_kva: int) -> Computation:
    """The successor's subscription invoice: the deposit per kVA and the flat fees; no VAT."""
    lines: list[Line] = []
    for item in items:
        if item.kind == TariffItemKind.DEPOSIT_PER_KVA:
            lines.append(
                Line(
                    item.code,
                    item.label,
                    power_kva,
                    "kVA",
                    item.value,
                    item.value * power_kva,
                    False,
                    f"{power_kva} kVA × {format_fcfa(item.value)}",
                )
            )
    for item in items:
        if item.kind == TariffItemKind.SUBSCRIPTION_FEE:
            lines.append(
                Line(
                    item.code,
                    item.label,
                    1,
                    "forfait",
                    item.value,
                    item.value,
                    False,
                    f"forfait {format_fcfa(item.value)}",
                )
            )
    return Computation(days=0, consumption=0, lines=lines, total=sum(li.amount for li in lines))


def balance(*, total: int, unpaid: int, advances: int, deposit: int) -> int:
    """What the customer owes at termination: positive to collect, negative to refund."""
    return total + unpaid - advances - deposit
