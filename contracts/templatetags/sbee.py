"""Formatting helpers available in every template (registered as builtins in the settings)."""

import functools
from urllib.parse import quote

from django import template
from django.urls import get_script_prefix, reverse

from contracts.enums import Role
from contracts.money import format_fcfa
from contracts.phone import format_phone

register = template.Library()


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


_PLACEHOLDER = "7364519"


@functools.cache
def _url_parts(name: str, script_prefix: str) -> tuple[str, str] | None:
    url = reverse(name, args=[_PLACEHOLDER])
    if url.count(_PLACEHOLDER) != 1:
        return None
    before, after = url.split(_PLACEHOLDER)
    return before, after


@register.filter
def url_of(arg, name: str) -> str:
    """{{ pk|url_of:"request_detail" }} is {% url "request_detail" pk %} for the rows of a long
    list: the address is reversed once per process, then only its argument changes (a list of 50
    rows spent 3 ms in reverse())."""
    parts = _url_parts(name, get_script_prefix())
    if parts is None:
        return reverse(name, args=[arg])
    return f"{parts[0]}{quote(str(arg), safe='')}{parts[1]}"
