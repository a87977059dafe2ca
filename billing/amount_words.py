"""Amounts in French words, for invoices: 26417 -> 'vingt-six mille quatre cent dix-sept'.

Traditional spelling (hyphens below one hundred, "et un" in 21-71, "quatre-vingts" and "cents"
plural only when they end the number, "mille" invariable)."""

UNITS = [
    "zéro",
    "un",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "onze",
    "douze",
    "treize",
    "quatorze",
    "quinze",
    "seize",
    "dix-sept",
    "dix-huit",
    "dix-neuf",
]
TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}


def _below_100(n: int) -> str:
    if n < 20:
        return UNITS[n]
    tens, unit = divmod(n, 10)
    if tens in (7, 9):  # soixante-dix..., quatre-vingt-dix...
        base = "soixante" if tens == 7 else "quatre-vingt"
        rest = 10 + unit
        if tens == 7 and unit == 1:
            return "soixante et onze"
        return f"{base}-{UNITS[rest]}"
    if tens == 8:
        return "quatre-vingts" if unit == 0 else f"quatre-vingt-{UNITS[unit]}"
    if unit == 0:
        return TENS[tens]
    if unit == 1:
        return f"{TENS[tens]} et un"
    return f"{TENS[tens]}-{UNITS[unit]}"


def _below_1000(n: int, *, final: bool) -> str:
    hundreds, rest = divmod(n, 100)
    words = []
    if hundreds:
        if hundreds == 1:
            words.append("cent")
        else:
            plural = rest == 0 and final
            words.append(f"{UNITS[hundreds]} cent{'s' if plural else ''}")
    if rest:
        text = _below_100(rest)
        if text == "quatre-vingts" and not final:
            text = "quatre-vingt"
        words.append(text)
    return " ".join(words)


def amount_in_words(n: int) -> str:
    if n < 0:
        return "moins " + amount_in_words(-n)
    if n == 0:
        return "zéro"
    parts = []
    for value, singular, plural in (
        (10**9, "milliard", "milliards"),
        (10**6, "million", "millions"),
    ):
        count, n = divmod(n, value)
        if count:
            parts.append(f"{_below_1000(count, final=True)} {singular if count == 1 else plural}")
    thousands, n = divmod(n, 1000)
    if thousands:
        parts.append("mille" if thousands == 1 else f"{_below_1000(thousands, final=False)} mille")
    if n:
        parts.append(_below_1000(n, final=True))
    return " ".join(parts)


def francs_cfa_in_words(n: int) -> str:
    return f"{amount_in_words(n)} francs CFA"
