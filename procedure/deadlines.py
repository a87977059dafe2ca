"""The délai that runs in each state of a request (DESIGN §10), kept on the request as its
`deadline` column so that lateness, "sort by deadline", the work queues and the dashboards read
an index instead of working it out for every open request.

`deadline_expression` is the rule, in SQL: when the délai runs from (the state's start, the
removal order's date, the removal report's signature) and how long it lasts (the délais in force
today). `refresh_deadlines` writes it: for a request, in the transaction of each of its events
(procedure/transitions.py); for every open request, when a délai changes (an admin's new value,
or one that takes effect today: the night's task), which also corrects anything that drifted."""

import datetime as dt
import logging

from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    Subquery,
    When,
)
from django.utils import timezone

from billing.enums import InvoiceKind, InvoiceState
from billing.models import Invoice
from contracts.enums import OPEN_REQUEST_STATES, DelayKind, RequestState, Timing, Voltage
from contracts.models import Contract, Delay, TerminationRequest
from interventions.enums import REMOVAL_ORDER_KINDS, OrderStatus
from interventions.models import InterventionOrder, InterventionReport

logger = logging.getLogger(__name__)


def _local_midnight(date_expression):
    """A date as the instant it begins in Benin."""
    zone = timezone.get_default_timezone_name()
    return Func(
        date_expression,
        template=f"((%(expressions)s)::timestamp AT TIME ZONE '{zone}')",
        output_field=DateTimeField(),
    )


def deadline_expression(today: dt.date) -> Case:
    """The end of the délai that runs in a request's state (None where none runs), from the
    délais in force on `today`."""
    days = {kind: dt.timedelta(days=n) for kind, n in Delay.all_on(today).items()}
    removal_order = InterventionOrder.objects.filter(
        request=OuterRef("pk"), kind__in=REMOVAL_ORDER_KINDS
    ).exclude(status=OrderStatus.CANCELLED)
    removal_signed = InterventionReport.objects.filter(
        order__request=OuterRef("pk"),
        order__kind__in=REMOVAL_ORDER_KINDS,
        superseded_at__isnull=True,
        signed_at__isnull=False,
    )
    refund = Invoice.objects.filter(
        request=OuterRef("pk"),
        kind=InvoiceKind.BALANCE,
        state=InvoiceState.VALIDATED,
        balance__lt=0,
    )
    mt_contract = Contract.objects.filter(
        pk=OuterRef("contract_id"), tariff_category__voltage=Voltage.MT
    )
    since = F("state_since")
    return Case(
        When(state=RequestState.ORDER_ISSUED, then=since + days[DelayKind.ORDER_REPORT]),
        When(state=RequestState.FIELD_REPORTED, then=since + days[DelayKind.REPORT_SIGNATURE]),
        When(state=RequestState.REPORT_APPROVED, then=since + days[DelayKind.INVOICING]),
        When(
            Q(state=RequestState.INVOICED) & Exists(refund),
            then=since + days[DelayKind.REFUND_CLAIM],
        ),
        When(
            state__in=[RequestState.INVOICED, RequestState.TAKEOVER_INVOICED],
            then=since + days[DelayKind.SETTLEMENT],
        ),
        When(
            state=RequestState.REMOVAL_ORDERED,
            then=_local_midnight(Subquery(removal_order.order_by("-id").values("due_on")[:1]))
            + days[DelayKind.REMOVAL_REPORT],
        ),
        When(
            Q(state=RequestState.METER_REMOVED) & ~Exists(removal_signed),
            then=since + days[DelayKind.REMOVAL_SIGNATURE],
        ),
        When(
            state=RequestState.METER_REMOVED,
            then=Subquery(removal_signed.order_by("-signed_at").values("signed_at")[:1])
            + days[DelayKind.CODIFICATION],
        ),
        When(state=RequestState.REMOVAL_IMPOSSIBLE, then=since + days[DelayKind.CODIFICATION]),
        When(
            Q(state=RequestState.SETTLED, timing=Timing.CLASSIC) & Exists(mt_contract),
            then=since + days[DelayKind.CODIFICATION],
        ),
        default=None,
        output_field=DateTimeField(),
    )


def refresh_deadlines(request_ids: list[int] | None = None, *, today: dt.date | None = None) -> int:
    """Write the stored deadline of these requests (of every open one when None) where it
    differs from the rule; in the caller's transaction. Returns how many rows changed."""
    today = today or timezone.localdate()
    requests = TerminationRequest.objects.all()
    if request_ids is None:
        # Closed and cancelled requests keep none; only the open ones can change.
        requests = requests.filter(Q(state__in=OPEN_REQUEST_STATES) | Q(deadline__isnull=False))
    else:
        requests = requests.filter(pk__in=request_ids)
    rule = deadline_expression(today)
    # IS DISTINCT FROM, spelt out: either side may be NULL.
    differs = (
        Q(deadline__isnull=True, rule__isnull=False)
        | Q(deadline__isnull=False, rule__isnull=True)
        | (Q(deadline__isnull=False, rule__isnull=False) & ~Q(deadline=F("rule")))
    )
    return requests.annotate(rule=rule).filter(differs).update(deadline=rule)


def refresh_all_deadlines(today: dt.date | None = None) -> int:
    """Every open request's deadline from the délais in force today (a délai changed, or the
    night's check); logs how many moved."""
    moved = refresh_deadlines(today=today)
    if moved:
        logger.info("délais: %s fin(s) de délai recalculée(s)", moved)
    return moved


def delay_saved(sender, instance: Delay, raw: bool = False, **kwargs) -> None:
    """A délai entered in the admin that is in force already moves the open requests' deadlines
    at once, in the admin's transaction; one that takes effect later, on its night."""
    if raw or instance.valid_from > timezone.localdate():
        return
    refresh_all_deadlines()
