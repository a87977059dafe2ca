import re

BENIN_PREFIX = "229"


def normalize_phone(text: str) -> str | None:
    """A Beninese number as stored: its ten digits (01 97 12 34 56 -> '0197123456').

    Accepts the international prefix (+229 / 00229) and the former eight-digit numbers, which
    became ten digits by prefixing 01 in 2024. None when the text is not a phone number.
    """
    digits = re.sub(r"\D", "", text)
    if digits.startswith("00" + BENIN_PREFIX):
        digits = digits[5:]
    elif digits.startswith(BENIN_PREFIX) and len(digits) in (11, 13):
        digits = digits[3:]
    if len(digits) == 8:
        digits = "01" + digits
    if len(digits) == 10 and digits.startswith("01"):
        return digits
    return None


def format_phone(digits: str) -> str:
    """'0197123456' -> '01 97 12 34 56'."""
    return " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))
