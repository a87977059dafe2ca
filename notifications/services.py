"""Telling the customer: a notification is written in the transaction of the step that causes
it, once per fact and number (its key is unique), then sent by the worker (tasks.py), outside
the quiet hours unless the customer asked for it at the counter. Each delivery step is a row."""

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, router, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from contracts.database import in_step_transaction
from contracts.enums import RequesterQuality, TerminationKind
from contracts.models import TerminationRequest, User
from contracts.phone import normalize_phone
from notifications.backends import GatewayError, backend
from notifications.enums import DONE, DeliveryStatus, Language, NotificationKind
from notifications.models import (
    Delivery,
    KindSetting,
    Notification,
    Preference,
    QuietHours,
    Template,
    TrackingLookup,
)
from notifications.texts import DEFAULTS, render

logger = logging.getLogger("sbee.sms")

# What the successor of a reprise is told besides the requester (their contract begins).
TO_SUCCESSOR = {NotificationKind.REGISTERED, NotificationKind.TERMINATED}


def e164(phone: str) -> str | None:
    """A number as the gateways want it (E.164), or None; stored numbers already are."""
    return normalize_phone(phone)


def preference(phone: str) -> Preference | None:
    return Preference.objects.filter(phone=phone).order_by("-id").first()


@transaction.atomic
def preference_record(
    phone: str, *, actor: User | None, language: str = Language.FRENCH, opted_out: bool = False
) -> Preference:
    """A customer's choice, recorded with its date (a new row: the earlier ones stay)."""
    number = e164(phone)
    if number is None:
        raise ValueError(phone)
    return Preference.objects.create(
        phone=number, language=language, opted_out=opted_out, recorded_by=actor
    )


def text_of(kind: str, language: str) -> str:
    template = Template.objects.filter(kind=kind, language=language).first()
    if template is not None:
        return template.text
    return DEFAULTS.get((kind, language)) or DEFAULTS[(kind, Language.FRENCH)]


def send_after(now: dt.datetime, *, asked_at_counter: bool = False) -> dt.datetime:
    """Now, or the end of the quiet hours when now falls within them."""
    if asked_at_counter:
        return now
    quiet = QuietHours.objects.first() or QuietHours()
    local = timezone.localtime(now)
    start, end, time = quiet.start, quiet.end, local.time()
    within = (start <= time or time < end) if start > end else (start <= time < end)
    if not within:
        return now
    morning = local.date() if time < end else local.date() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(morning, end), local.tzinfo)


def recipients(request: TerminationRequest, kind: str) -> list[tuple[str, str, str]]:
    """(quality, name, phone) of whom the fact concerns: the requester, the holder when the
    requester is a proxy, the successor of a reprise for its start and its end."""
    people = [("demandeur", request.requester_name, request.requester_phone)]
    if request.requester_quality == RequesterQuality.PROXY:
        holder = request.contract.customer
        people.append(("titulaire", holder.name, holder.phone))
    if (
        request.kind == TerminationKind.WITH_TAKEOVER
        and request.successor_id
        and kind in TO_SUCCESSOR
    ):
        people.append(("successeur", request.successor.name, request.successor.phone))
    return people


@in_step_transaction
def notify(
    request: TerminationRequest,
    kind: str,
    *,
    fact: str,
    context: dict,
    asked_at_counter: bool = False,
) -> list[Notification]:
    """Write the fact's messages, one per person and number, and queue their sending, in the
    step's transaction. A fact already told to a number is not told again."""
    return notify_many([(request, kind, fact, context)], asked_at_counter=asked_at_counter)


@in_step_transaction
def notify_many(
    facts: list[tuple[TerminationRequest, str, str, dict]], *, asked_at_counter: bool = False
) -> list[Notification]:
    """notify() for many facts at once (step 8 tells thousands of customers each morning): the
    same rules, a few queries for the whole batch, one sending job for its messages."""
    from notifications.tasks import send_notifications  # tasks import this module

    now = timezone.now()
    after = send_after(now, asked_at_counter=asked_at_counter)
    switched_off = set(KindSetting.objects.filter(enabled=False).values_list("kind", flat=True))
    planned = []  # (request, kind, role, name, number, context, key)
    for request, kind, fact, context in facts:
        if kind in switched_off:
            continue
        seen = set()
        for role, name, phone in recipients(request, kind):
            number = e164(phone)
            if number is None or number in seen:
                continue
            seen.add(number)
            planned.append((request, kind, role, name, number, context, f"{kind}:{fact}:{number}"))
    if not planned:
        return []
    numbers = {item[4] for item in planned}
    chosen = {
        p.phone: p
        for p in Preference.objects.filter(phone__in=numbers)
        .order_by("phone", "-id")
        .distinct("phone")
    }
    told = set(
        Notification.objects.filter(key__in=[item[6] for item in planned]).values_list(
            "key", flat=True
        )
    )
    texts: dict[tuple[str, str], str] = {}
    rows = []
    for request, kind, role, name, number, context, key in planned:
        preference_ = chosen.get(number)
        if key in told or (preference_ is not None and preference_.opted_out):
            continue
        told.add(key)
        language = preference_.language if preference_ else Language.FRENCH
        if (kind, language) not in texts:
            texts[kind, language] = text_of(kind, language)
        rows.append(
            Notification(
                key=key,
                request=request,
                kind=kind,
                recipient=name,
                role=role,
                phone=number,
                language=language,
                text=render(texts[kind, language], context),
                send_after=after,
            )
        )
    if not rows:
        return []
    try:
        with transaction.atomic():
            written = Notification.objects.bulk_create(rows)
    except IntegrityError:  # told meanwhile by another path: one by one, the unique key decides
        written = []
        for row in rows:
            try:
                with transaction.atomic():
                    row.save()
            except IntegrityError:
                continue
            written.append(row)
    if written:
        # Held for the morning only in the quiet hours; otherwise sent at once (the database's
        # clock then decides nothing).
        send_notifications.configure(schedule_at=after if after > now else None).defer(
            notification_ids=[n.pk for n in written]
        )
    return written


class SendFailed(Exception):
    """Raised to the worker after a failed attempt was recorded, so that it tries again."""


def deliver(notification_id: int, *, last_attempt: bool) -> Delivery:
    """Hand one message to the gateway, once: under the message's lock, unless it was already
    sent (or failed for good). The attempt is recorded whatever happens; a failure that may be
    tried again raises SendFailed after it is recorded."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        latest = notification.deliveries.order_by("-id").first()
        if latest is not None and latest.status in DONE:
            return latest
        try:
            reference = backend().send(notification)
        except GatewayError as error:
            delivery = Delivery.objects.create(
                notification=notification,
                status=DeliveryStatus.FAILED if last_attempt else DeliveryStatus.RETRYING,
                detail=str(error)[:255],
            )
        else:
            delivery = Delivery.objects.create(
                notification=notification, status=DeliveryStatus.SENT, reference=reference
            )
    if delivery.status == DeliveryStatus.RETRYING:
        raise SendFailed(delivery.detail)
    return delivery


def delivery_report(reference: str, *, delivered: bool, detail: str = "") -> Delivery | None:
    """The gateway's report on a message it took: delivered to the phone, or not. None when
    there is nothing new (an unknown reference, a report told twice)."""
    with transaction.atomic():
        sent = (
            Delivery.objects.select_related("notification")
            .filter(reference=reference, status=DeliveryStatus.SENT)
            .first()
        )
        if sent is None:
            return None
        Notification.objects.select_for_update().get(pk=sent.notification_id)
        latest = sent.notification.deliveries.order_by("-id").first()
        if latest.status != DeliveryStatus.SENT:
            return None  # a report told twice: nothing new
        return Delivery.objects.create(
            notification=sent.notification,
            status=DeliveryStatus.DELIVERED if delivered else DeliveryStatus.FAILED,
            reference=reference,
            detail=detail[:255],
        )


def site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def with_status(notifications):
    """The messages with their latest delivery step (`last_status`, None: not sent yet)."""
    latest = Delivery.objects.filter(notification=OuterRef("pk")).order_by("-id")
    return notifications.annotate(
        last_status=Subquery(latest.values("status")[:1]),
        last_detail=Subquery(latest.values("detail")[:1]),
    )


def failed_for(agency):
    """The agency's messages that failed for good: reception calls the customer instead."""
    ever_failed = Delivery.objects.filter(status=DeliveryStatus.FAILED).values("notification")
    return (
        with_status(Notification.objects.filter(request__agency=agency, pk__in=ever_failed))
        .filter(last_status=DeliveryStatus.FAILED)
        .select_related("request__contract")
        .order_by("id")
    )


def tracking_lookups_recent(*, address: str | None = None, number: int | None = None) -> int:
    """Tries on the customer's page in the last ten minutes, from an address or on a number."""
    since = timezone.now() - dt.timedelta(minutes=10)
    # Counted where the tries are written: a replica a few milliseconds behind would let a
    # burst of tries through.
    primary = router.db_for_write(TrackingLookup)
    lookups = TrackingLookup.objects.db_manager(primary).filter(at__gte=since)
    if number is not None:
        return lookups.filter(number=number).count()
    return lookups.filter(address=address).count()


def tracking_lookup_record(*, address: str | None, number: int, found: bool) -> None:
    TrackingLookup.objects.create(address=address, number=number, found=found)
