"""The audit chains: every request event and every security event stores the hash of the one
before it (the request's previous event; the previous security event), so that an edit made
behind the application's back, by someone who could bypass the database's triggers, shows as a
broken link (`manage.py verify_audit`)."""

import hashlib
import ipaddress
import json

from django.conf import settings
from django.db import connection, transaction

from contracts.enums import SecurityEventKind
from contracts.models import SecurityEvent, TerminationEvent, User

# One chain of security events for the whole system: its writers take turns on this lock.
SECURITY_CHAIN_LOCK = 7_331_001


def _digest(prev_hash: str, payload: list) -> str:
    canonical = json.dumps([prev_hash, *payload], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def event_payload(event: TerminationEvent) -> list:
    return [
        event.request_id,
        event.actor_id,
        event.actor_role,
        event.step,
        event.action,
        event.from_state,
        event.to_state,
        event.at.isoformat(),
        event.data,
    ]


def seal_event(event: TerminationEvent, prev_hash: str) -> None:
    """Chain a request event (not saved yet) to the request's previous one. The step holds the
    request's lock, so nobody else appends to that chain meanwhile."""
    event.prev_hash = prev_hash
    event.hash = _digest(prev_hash, event_payload(event))


def last_event_hashes(request_ids: list[int]) -> dict[int, str]:
    """The hash of each request's latest event (empty for a request without events)."""
    hashes = dict.fromkeys(request_ids, "")
    rows = (
        TerminationEvent.objects.filter(request_id__in=request_ids)
        .order_by("request_id", "-id")
        .distinct("request_id")
        .values_list("request_id", "hash")
    )
    hashes.update(rows)
    return hashes


def security_payload(event: SecurityEvent) -> list:
    return [
        event.at.isoformat(),
        event.kind,
        event.actor_id,
        event.user_id,
        event.username,
        event.ip_address,
        event.data,
    ]


def client_address(request) -> str | None:
    """The address a request came from: the connection's, or behind a proxy that terminates TLS
    (SECURE_PROXY_SSL_HEADER on), the last address it adds to X-Forwarded-For. The login
    throttling counts failures per this address too (AXES_CLIENT_IP_CALLABLE)."""
    if request is None:
        return None
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass  # absent or not an address: the connection's
    return request.META.get("REMOTE_ADDR")


@transaction.atomic
def security_event(
    kind: str,
    *,
    actor: User | None = None,
    user: User | None = None,
    username: str = "",
    request=None,
    data: dict | None = None,
) -> SecurityEvent:
    """Record a security event at the end of the chain, under the chain's lock (held until the
    transaction ends: its own, or the caller's)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SECURITY_CHAIN_LOCK])
    previous = SecurityEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    event = SecurityEvent(
        kind=kind,
        actor=actor if actor is not None and actor.pk else None,
        user=user if user is not None and user.pk else None,
        username=username[:150],
        ip_address=client_address(request),
        data=data or {},
    )
    event.prev_hash = previous or ""
    event.hash = _digest(event.prev_hash, security_payload(event))
    event.save()
    return event


def verify_chains() -> list[str]:
    """Walk every chain; the first broken link of each, in French (empty when all hold)."""
    problems = []
    previous, request_id, broken = "", None, False
    for event in TerminationEvent.objects.order_by("request_id", "id").iterator(chunk_size=2000):
        if event.request_id != request_id:
            previous, request_id, broken = "", event.request_id, False
        if broken:
            continue  # one report per request: its first broken link
        if event.prev_hash != previous or event.hash != _digest(previous, event_payload(event)):
            problems.append(
                f"Demande {event.request_id} : chaîne rompue à l'événement {event.pk} "
                f"({event.action} du {event.at:%d/%m/%Y %H:%M})."
            )
            broken = True
            continue
        previous = event.hash
    previous = ""
    for event in SecurityEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != previous or event.hash != _digest(previous, security_payload(event)):
            problems.append(
                f"Sécurité : chaîne rompue à l'événement {event.pk} "
                f"({event.get_kind_display()} du {event.at:%d/%m/%Y %H:%M})."
            )
            break
        previous = event.hash
    return problems


def duties_refused(error, *, actor: User, request, what: str) -> None:
    """A step refused for separation of duties is recorded for the controllers (DESIGN §11), in
    its own transaction: the step's was rolled back."""
    if getattr(error, "duties", False):
        security_event(
            SecurityEventKind.DUTIES_REFUSED,
            actor=actor,
            user=actor,
            request=request,
            data={"action": what, "motif": error.message},
        )
