"""Amounts as the customer reads them, in the pages, the documents and the messages."""

NBSP = "\u00a0"


def format_fcfa(amount: int | None) -> str:
    """12345 -> '12 345 FCFA' (non-breaking spaces, so an amount never splits across lines)."""
    if amount is None:
        return ""
    sign = "-" if amount < 0 else ""
    grouped = f"{abs(int(amount)):,}".replace(",", NBSP)
    return f"{sign}{grouped}{NBSP}FCFA"
