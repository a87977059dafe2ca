"""Formatting helpers available in every template (registered as builtins in the settings)."""

from django import template

from contracts.enums import Role
from contracts.phone import format_phone

register = template.Library()

NBSP = "\u00a0"


def format_fcfa(amount: int | None) -> str:
    """12345 -> '12 345 FCFA' (non-breaking spaces, so an amount never splits across lines)."""
    if amount is None:
        return ""
    sign = "-" if amount < 0 else ""
    grouped = f"{abs(int(amount)):,}".replace(",", NBSP)
    return f"{sign}{grouped}{NBSP}FCFA"


@register.filter
def fcfa(amount: int | None) -> str:
    return format_fcfa(amount)


@register.filter
def has_role(user, role: str) -> bool:
    return user.is_authenticated and user.has_role(role)


@register.filter
def phone(digits: str) -> str:
    return format_phone(digits) if digits else ""


def mask_id(number: str | None) -> str:
    """An identity document number shown by its last 3 characters only."""
    if not number:
        return ""
    return "•" * max(len(number) - 3, 3) + number[-3:]


@register.filter
def masked(number: str | None) -> str:
    return mask_id(number)


@register.filter
def id_for(number: str | None, user) -> str:
    """The cash desk checks a refund's beneficiary against the deposit payer's document: the
    cashier is never shown the numbers it would have to type (DESIGN §9)."""
    if (
        user.is_authenticated
        and user.has_role(Role.CASHIER)
        and not user.has_role(Role.RECEPTION, Role.AUDITOR)
    ):
        return mask_id(number)
    return number or ""
