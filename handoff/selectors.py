"""Reading the outbox from a cursor: the records after it, in order, the same each time."""

from django.db.models import QuerySet

from handoff.models import OutboxRecord


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
