"""Phone numbers as stored: E.164 (+2290197123456), parsed with the phonenumbers library.

Benin's numbers have ten digits since 30 November 2024: the former eight-digit numbers took
"01" in front. A number typed or imported in the former format is converted.
"""

import re

import phonenumbers

REGION = "BJ"
# What the database accepts (the constraints of the customer and of the request).
E164_PATTERN = r"^\+[1-9][0-9]{7,14}$"
PHONE_E164_MESSAGE = "Numéro de téléphone au format international attendu (+229 01 97 12 34 56)."


def was_eight_digits(text: str) -> bool:
    """A Beninese number in its former eight-digit form (with or without +229)."""
    digits = re.sub(r"\D", "", text)
    if digits.startswith("00229"):
        digits = digits[5:]
    elif digits.startswith("229") and len(digits) == 11:
        digits = digits[3:]
    return len(digits) == 8


def normalize_phone(text: str) -> str | None:
    """The number in E.164 ('01 97 12 34 56' -> '+2290197123456'), or None when the text is not
    a valid number. Accepts +229 / 00229, a foreign number with its +prefix, and the former
    eight-digit Beninese numbers ('97 12 34 56' -> '+2290197123456')."""
    text = text.strip()
    if len(text) > 32 or not re.fullmatch(r"[0-9+ .()/-]+", text):
        return None
    plus = text.startswith("+") or text.startswith("00")
    digits = re.sub(r"\D", "", text)
    if digits.startswith("00"):
        digits = digits[2:]
    if was_eight_digits(text):
        national = digits[-8:]
        digits, plus = "22901" + national, True
    try:
        number = phonenumbers.parse(("+" if plus else "") + digits, REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(stored: str) -> str:
    """As agents read it: '+2290197123456' -> '01 97 12 34 56'; a foreign number with its prefix
    ('+228 90 12 34 56'). A value that is not a number is shown as it is."""
    try:
        number = phonenumbers.parse(stored, REGION)
    except phonenumbers.NumberParseException:
        return stored
    if number.country_code == phonenumbers.country_code_for_region(REGION):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
