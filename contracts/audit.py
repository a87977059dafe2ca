"""The audit chains: every request event and every security event stores the seal of the one
before it (the request's previous event; the previous security event), so that an edit made
behind the application's back, by someone who could bypass the database's triggers, shows as a
broken link (`manage.py verify_audit`).

A seal is an HMAC-SHA256 under AUDIT_KEY, a key kept outside the database: an edit cannot be
re-sealed by whoever can only write in the database. A tail cut off a chain leaves no broken
link, so the chains' heads are anchored outside the database each day (`anchor()`: written to
the log and to AUDIT_ANCHOR_FILE, and printed on each arrêté de caisse), and `verify_audit
--ancre` checks that the chains still reach what an anchor saw."""

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from contracts.enums import SecurityEventKind
from contracts.models import SecurityEvent, TerminationEvent, User

# One chain of security events for the whole system: its writers take turns on this lock.
SECURITY_CHAIN_LOCK = 7_331_001


def _seal(text: str) -> str:
    return hmac.new(settings.AUDIT_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


def _digest(prev_hash: str, payload: list) -> str:
    canonical = json.dumps([prev_hash, *payload], ensure_ascii=False, sort_keys=True, default=str)
    return _seal(canonical)


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


# --- Anchors: the chains' heads, kept outside the database ---------------------------------

ANCHOR_PATTERN = re.compile(
    r"ANCRE (?P<at>\S+) securite=(?P<sec_id>\d+):(?P<sec>[0-9a-f]{16,64}) "
    r"demandes=(?P<evt_id>\d+):(?P<evt>[0-9a-f]{16,64})"
)


@dataclass(frozen=True)
class Anchor:
    """Where the chains stood at a moment: the last security event and its seal; the last
    request event and a seal over every request chain's head up to it."""

    at: dt.datetime
    security_id: int
    security_head: str
    events_id: int
    events_heads: str

    def line(self) -> str:
        return (
            f"ANCRE {self.at.isoformat(timespec='seconds')} "
            f"securite={self.security_id}:{self.security_head} "
            f"demandes={self.events_id}:{self.events_heads}"
        )

    def short(self) -> str:
        """What a sheet of paper carries: enough of each seal to be checked (64 bits)."""
        return (
            f"sécurité n° {self.security_id} {self.security_head[:16]} · "
            f"demandes n° {self.events_id} {self.events_heads[:16]}"
        )


def _heads_seal(up_to: int) -> str:
    """A seal over each request chain's head among the events numbered up to `up_to`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (request_id) request_id, hash FROM contracts_terminationevent
             WHERE id <= %s ORDER BY request_id, id DESC
            """,
            [up_to],
        )
        heads = cursor.fetchall()
    return _seal(json.dumps(heads))


def anchor() -> Anchor:
    """The chains' heads now."""
    from django.utils import timezone

    security = SecurityEvent.objects.order_by("-id").values_list("id", "hash").first() or (0, "")
    events_id = TerminationEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return Anchor(
        at=timezone.now(),
        security_id=security[0],
        security_head=security[1] or "0" * 64,
        events_id=events_id,
        events_heads=_heads_seal(events_id),
    )


def parse_anchor(text: str) -> Anchor:
    match = ANCHOR_PATTERN.search(text)
    if match is None:
        raise ValueError(f"Ancre illisible : {text.strip()[:120]}")
    return Anchor(
        at=dt.datetime.fromisoformat(match["at"]),
        security_id=int(match["sec_id"]),
        security_head=match["sec"],
        events_id=int(match["evt_id"]),
        events_heads=match["evt"],
    )


def verify_anchor(kept: Anchor) -> list[str]:
    """What no longer matches an anchor kept outside the database (empty when the chains still
    reach it): a security event cut off the end, a request's last events cut off or changed.
    A seal printed in part (16 characters on the arrêté) is compared on that part."""
    problems = []
    when = f"{kept.at:%d/%m/%Y %H:%M}"
    if kept.security_id:
        head = SecurityEvent.objects.filter(pk=kept.security_id).values_list("hash", flat=True)
        head = head.first()
        if head is None:
            problems.append(
                f"Sécurité : l'événement n° {kept.security_id}, dernier de la chaîne à l'ancre du "
                f"{when}, manque : la fin de la chaîne a été coupée."
            )
        elif not head.startswith(kept.security_head):
            problems.append(
                f"Sécurité : l'événement n° {kept.security_id} n'est plus celui de l'ancre du "
                f"{when}."
            )
    if kept.events_id and not _heads_seal(kept.events_id).startswith(kept.events_heads):
        problems.append(
            f"Demandes : les chaînes ne sont plus celles de l'ancre du {when} (des événements "
            f"jusqu'au n° {kept.events_id} ont été coupés ou changés)."
        )
    return problems


def anchor_write() -> Anchor:
    """Today's anchor, out of the database: in the log and appended to AUDIT_ANCHOR_FILE."""
    import logging

    kept = anchor()
    logging.getLogger("sbee.audit").info("%s", kept.line())
    path = settings.AUDIT_ANCHOR_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        out.write(kept.line() + "\n")
    return kept
