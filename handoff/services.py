"""Writing the outbox, inside the caller's transaction: the fact and its record commit together
or not at all."""

import hashlib
import secrets

from django.db import connection, transaction

from contracts.audit import client_address
from handoff.enums import RecordKind
from handoff.models import Acknowledgement, ApiCall, OutboxRecord, ReceivingSystem

# Held until the writer's transaction ends: records take their ids in commit order, so that a
# reader's cursor never passes over a record still being written (an advisory lock, as for the
# security events' chain).
OUTBOX_LOCK = 7_364_521


__all__ = ["RecordKind", "acknowledge", "outbox_write", "receiving_system_create"]


def outbox_write(kind: str, *, key: str, agency_id: int, contract_number: str, payload: dict):
    if not connection.in_atomic_block:
        raise RuntimeError("L'outbox s'écrit dans la transaction du fait qu'elle rapporte.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [OUTBOX_LOCK])
    return OutboxRecord.objects.create(
        kind=kind,
        key=key,
        agency_id=agency_id,
        contract_number=contract_number,
        payload=payload,
    )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def receiving_system_create(name: str) -> tuple["ReceivingSystem", str]:
    """A new system and its token, returned once (only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    system = ReceivingSystem.objects.create(
        name=name, token_hash=token_digest(token), token_hint=token[:6]
    )
    return system, token


def system_for_token(token: str) -> "ReceivingSystem | None":
    return ReceivingSystem.objects.filter(token_hash=token_digest(token), active=True).first()


def api_call_log(request, *, system, status: int) -> None:
    ApiCall.objects.create(
        system=system,
        method=request.method[:8],
        path=request.get_full_path()[:300],
        status=status,
        ip_address=client_address(request),
    )


@transaction.atomic
def acknowledge(system: "ReceivingSystem", up_to: int) -> "Acknowledgement":
    """Every record up to `up_to` taken. Never backwards: an older acknowledgement sent again
    records nothing new."""
    if up_to < 1:
        raise ValueError("Le numéro acquitté est celui d'un enregistrement : 1 ou plus.")
    system = ReceivingSystem.objects.select_for_update().get(pk=system.pk)
    last = system.acks.order_by("-up_to").values_list("up_to", flat=True).first() or 0
    newest = OutboxRecord.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    if up_to > newest:
        raise ValueError(f"Aucun enregistrement n° {up_to} : le dernier est le n° {newest}.")
    if up_to <= last:
        return system.acks.order_by("-up_to").first()
    return Acknowledgement.objects.create(system=system, up_to=up_to)
