"""The request's tracking code: what the customer types, with the request's number, on the
public page (/suivi/). Derived from the number with a key of the server (TRACKING_KEY): printed
on the order and sent by SMS, never stored, and no one can work it out from the number."""

import hashlib
import hmac

from django.conf import settings

DIGITS = 8


def tracking_code(request_id: int) -> str:
    mac = hmac.new(settings.TRACKING_KEY.encode(), f"suivi:{request_id}".encode(), hashlib.sha256)
    return f"{int.from_bytes(mac.digest()[:8], 'big') % 10**DIGITS:0{DIGITS}d}"


def tracking_code_matches(request_id: int, code: str) -> bool:
    return hmac.compare_digest(tracking_code(request_id), "".join(code.split()))
