"""Formatting helpers available in every template (registered as builtins in the settings)."""

from django import template

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
