"""Writing the outbox, inside the caller's transaction: the fact and its record commit together
or not at all."""

from django.db import connection

from handoff.enums import RecordKind
from handoff.models import OutboxRecord

# Held until the writer's transaction ends: records take their ids in commit order, so that a
# reader's cursor never passes over a record still being written (an advisory lock, as for the
# security events' chain).
OUTBOX_LOCK = 7_364_521


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


__all__ = ["RecordKind", "outbox_write"]
