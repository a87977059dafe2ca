"""Reading the outbox from a cursor: the records after it, in order, the same each time."""

import datetime as dt

from django.db.models import Max, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from handoff.models import OutboxRecord, ReceivingSystem


def records_after(cursor: int, limit: int) -> QuerySet[OutboxRecord]:
    return (
        OutboxRecord.objects.filter(pk__gt=cursor).select_related("agency").order_by("pk")[:limit]
    )


def as_dict(record: OutboxRecord) -> dict:
    return {
        "id": record.pk,
        "nature": record.kind,
        "agence": record.agency.code,
        "contrat": record.contract_number,
        "ecrit_le": record.created_at.isoformat(),
        "contenu": record.payload,
    }


UNACKNOWLEDGED_AFTER = dt.timedelta(days=1)


def unacknowledged(now: dt.datetime | None = None) -> QuerySet[OutboxRecord]:
    """Records written more than a day ago that a receiving system has not acknowledged yet
    (the least advanced of the active systems; every record when none is active)."""
    now = now or timezone.now()
    systems = ReceivingSystem.objects.filter(active=True).annotate(
        last=Coalesce(Max("acks__up_to"), 0)
    )
    behind = min((s.last for s in systems), default=0)
    return OutboxRecord.objects.filter(pk__gt=behind, created_at__lt=now - UNACKNOWLEDGED_AFTER)
