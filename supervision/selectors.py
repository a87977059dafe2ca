"""What the supervision pages read: the request search, the dashboards' counts and sums, the
cash journal. Each count of a dashboard is the count of a search with the same filters: the
dashboard builds its links from the same conditions (tests/supervision checks they agree)."""

import datetime as dt
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.enums import InvoiceKind, InvoiceState, PaymentMode, SettlementKind, TransferKind
from billing.models import AccountTransfer, Invoice, Settlement
from contracts.enums import OPEN_REQUEST_STATES, RequestState, TerminationKind
from contracts.models import Normalize, TerminationEvent, User
from contracts.selectors import requests_visible_to
from procedure.selectors import with_deadline
from supervision.forms import AGE_BUCKETS, OPEN, SORTS
from supervision.scope import Scope

# The step each open state waits for (docs/procedure.md): what "étape en cours" filters on.
STATE_STEP = {
    RequestState.TAKEOVER_INVOICED: 7,
    RequestState.ORDER_ISSUED: 4,
    RequestState.FIELD_REPORTED: 5,
    RequestState.REPORT_APPROVED: 6,
    RequestState.INVOICED: 7,
    RequestState.SETTLED: 8,
    RequestState.REMOVAL_ORDERED: 8,
    RequestState.METER_REMOVED: 9,
    RequestState.REMOVAL_IMPOSSIBLE: 9,
}


def step_condition(step: int) -> Q:
    states = [s for s, n in STATE_STEP.items() if n == step]
    condition = Q(state__in=states)
    if step == 2:
        condition |= Q(state=RequestState.RECEIVED, kind=TerminationKind.WITH_TAKEOVER)
    if step == 3:
        condition |= Q(state=RequestState.RECEIVED, kind=TerminationKind.WITHOUT_TAKEOVER)
    return condition


def local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def age_condition(bucket: str, today: dt.date, *, open_only: bool = True) -> Q:
    """Open requests whose days in their state (today minus the day they entered it) are in
    the bucket. `open_only=False` leaves out the state test, for rows already open ones (the
    dashboard counts each bucket over its 50 000 open rows: the test cost 15 % of that)."""
    low, high = AGE_BUCKETS[bucket]
    condition = Q(state__in=OPEN_REQUEST_STATES) if open_only else Q()
    # Entered on or before today - low, and on or after today - high.
    condition &= Q(state_since__lt=local_midnight(today - dt.timedelta(days=low - 1)))
    if high is not None:
        condition &= Q(state_since__gte=local_midnight(today - dt.timedelta(days=high)))
    return condition


def _balance_invoices():
    return Invoice.objects.filter(
        request=OuterRef("pk"),
        kind__in=[InvoiceKind.BALANCE, InvoiceKind.SUBSCRIPTION],
        state=InvoiceState.VALIDATED,
    )


MONEY_CONDITIONS = {
    "a_encaisser": lambda: Q(Exists(_balance_invoices().filter(balance__gt=0))),
    "a_rembourser": lambda: Q(
        Exists(_balance_invoices().filter(kind=InvoiceKind.BALANCE, balance__lt=0))
    ),
    "recouvrement": lambda: Q(
        Exists(
            AccountTransfer.objects.filter(
                invoice__request=OuterRef("pk"), kind=TransferKind.RECOVERY
            )
        )
    ),
}


def _event_dates(step: int, start, end) -> Q:
    events = TerminationEvent.objects.filter(request=OuterRef("pk"), step=step)
    if start:
        events = events.filter(at__gte=start)
    if end:
        events = events.filter(at__lt=end)
    return Q(Exists(events))


def with_balance(requests: QuerySet) -> QuerySet:
    """Annotate `balance`: the balance invoice's balance (FCFA; negative a refund), None before
    it is validated. A cancelled invoice (credit note) does not count."""
    balance = (
        Invoice.objects.filter(request=OuterRef("pk"), kind=InvoiceKind.BALANCE)
        .exclude(state__in=[InvoiceState.DRAFT, InvoiceState.CANCELLED])
        .order_by("-id")
        .values("balance")[:1]
    )
    return requests.annotate(balance=Subquery(balance, output_field=IntegerField()))


def search_requests(user: User, scope: Scope, data: dict, today: dt.date) -> QuerySet:
    """The requests matching the search form's cleaned data, sorted, with `late` and `balance`
    annotated."""
    qs = requests_visible_to(user).filter(scope.q())
    if data.get("numero"):
        qs = qs.filter(pk=data["numero"])
    if data.get("contrat"):
        qs = qs.filter(contract__number__startswith=data["contrat"])
    if data.get("nom"):
        qs = qs.filter(contract__customer__name_normalized__contains=Normalize(Value(data["nom"])))
    if data.get("piece"):
        qs = qs.filter(requester_id_document_number__iexact=data["piece"])
    state = data.get("etat")
    if state == OPEN:
        qs = qs.filter(state__in=OPEN_REQUEST_STATES)
    elif state:
        qs = qs.filter(state=state)
    if data.get("etape"):
        qs = qs.filter(step_condition(data["etape"]))
    if data.get("anciennete"):
        qs = qs.filter(age_condition(data["anciennete"], today))
    if data.get("solde"):
        qs = qs.filter(MONEY_CONDITIONS[data["solde"]]())
    start = local_midnight(data["du"]) if data.get("du") else None
    end = local_midnight(data["au"] + dt.timedelta(days=1)) if data.get("au") else None
    if start or end:
        column = {"depot": "created_at", "etat": "state_since", "cloture": "closed_at"}.get(
            data.get("date_de") or "depot"
        )
        if column:
            if start:
                qs = qs.filter(**{f"{column}__gte": start})
            if end:
                qs = qs.filter(**{f"{column}__lt": end})
        else:
            qs = qs.filter(_event_dates(int(data["date_de"]), start, end))
    qs = with_deadline(qs)
    now = timezone.now()
    if data.get("retard") == "oui":  # the stored deadline, through its index
        qs = qs.filter(deadline__lt=now)
    elif data.get("retard") == "non":
        qs = qs.filter(
            Q(deadline__isnull=True) | Q(deadline__gte=now), state__in=OPEN_REQUEST_STATES
        )
    qs = with_balance(qs)
    if data.get("montant_min") is not None:
        qs = qs.filter(balance__gte=data["montant_min"])
    if data.get("montant_max") is not None:
        qs = qs.filter(balance__lte=data["montant_max"])
    order = SORTS.get(data.get("tri") or "-numero")
    return qs.order_by(*[_nulls_last(o) for o in order])


def _nulls_last(name: str):
    if name.startswith("-"):
        return F(name[1:]).desc(nulls_last=True)
    return F(name).asc(nulls_last=True)


# --- Dashboards ------------------------------------------------------------------------------

WEEKS = 12


@dataclass
class StateLine:
    state: str
    label: str
    count: int = 0
    late: int = 0


@dataclass
class Dashboard:
    scope: Scope
    today: dt.date
    states: list[StateLine]
    ages: dict[str, int]
    weeks: list[tuple[dt.date, int, int]]  # (monday, opened, closed)
    money: dict[str, tuple[int, int]]  # key -> (number, amount in FCFA)
    advances: tuple[int, int] = (0, 0)
    open_total: int = 0
    late_total: int = 0
    first_week: dt.date | None = None


def _money(scope: Scope) -> dict[str, tuple[int, int]]:
    """Number of requests and amount for each money line: the termination invoices validated and
    not settled (an index on their state), the transfers to recovery. Two queries."""
    validated = Invoice.objects.filter(
        scope.q(),  # the invoice's own agency: its request's (an index: agency, state)
        request__isnull=False,
        kind__in=[InvoiceKind.BALANCE, InvoiceKind.SUBSCRIPTION],
        state=InvoiceState.VALIDATED,
    )
    collect = Q(balance__gt=0)
    refund = Q(kind=InvoiceKind.BALANCE, balance__lt=0)
    sums = validated.aggregate(
        n_collect=Count("request_id", distinct=True, filter=collect),
        s_collect=Coalesce(Sum("balance", filter=collect), 0),
        n_refund=Count("request_id", distinct=True, filter=refund),
        s_refund=Coalesce(Sum("balance", filter=refund), 0),
    )
    recovery = AccountTransfer.objects.filter(
        scope.q(), invoice__request__isnull=False, kind=TransferKind.RECOVERY
    ).aggregate(n=Count("invoice__request_id", distinct=True), s=Coalesce(Sum("amount"), 0))
    return {
        "a_encaisser": (sums["n_collect"], sums["s_collect"]),
        "a_rembourser": (sums["n_refund"], -sums["s_refund"]),
        "recouvrement": (recovery["n"], recovery["s"]),
    }


def _weeks(requests: QuerySet, mondays: list[dt.date]) -> list[tuple[dt.date, int, int]]:
    """Requests deposited and closed in each of these weeks (Monday to Sunday, local time), in
    one pass over the requests deposited or closed since the first (an index on each date)."""
    bounds = [local_midnight(day) for day in [*mondays, mondays[-1] + dt.timedelta(weeks=1)]]
    buckets = {}
    for n in range(len(mondays)):
        buckets[f"opened_{n}"] = Count(
            "pk", filter=Q(created_at__gte=bounds[n], created_at__lt=bounds[n + 1])
        )
        buckets[f"closed_{n}"] = Count(
            "pk",
            filter=Q(
                state=RequestState.CLOSED, closed_at__gte=bounds[n], closed_at__lt=bounds[n + 1]
            ),
        )
    window = Q(created_at__gte=bounds[0], created_at__lt=bounds[-1]) | Q(
        closed_at__gte=bounds[0], closed_at__lt=bounds[-1]
    )
    counts = requests.filter(window).aggregate(**buckets)
    return [(day, counts[f"opened_{n}"], counts[f"closed_{n}"]) for n, day in enumerate(mondays)]


def _past_weeks(requests: QuerySet, scope: Scope, first: dt.date, count: int):
    """The weeks before this one. What they count never changes (a request's deposit date and
    closing date are written once, and nothing is deleted), so each process counts them once a
    week per scope: the dashboard then reads only this week's requests."""
    key = "dashboard-weeks:{}:{}:{}".format(
        scope.agency.pk if scope.agency else "",
        scope.direction.pk if scope.direction else "",
        first.isoformat(),
    )
    weeks = cache.get(key)
    if weeks is None:
        weeks = _weeks(requests, [first + dt.timedelta(weeks=n) for n in range(count)])
        cache.set(key, weeks, timeout=8 * 24 * 3600)
    return weeks


def dashboard(user: User, scope: Scope, today: dt.date) -> Dashboard:
    """Open requests per state with their late ones and their ages (one query), requests opened
    and closed per week (one), money (two), advances collected over the same weeks (one)."""
    requests = requests_visible_to(user).filter(scope.q())
    ages = {
        f"age_{n}": Count("pk", filter=age_condition(b, today, open_only=False))
        for n, b in enumerate(AGE_BUCKETS)
    }
    rows = (
        requests.filter(state__in=OPEN_REQUEST_STATES)
        .values("state")
        .annotate(n=Count("pk"), late_n=Count("pk", filter=Q(deadline__lt=timezone.now())), **ages)
        .order_by()
    )
    lines = {
        s: StateLine(s, label) for s, label in RequestState.choices if s in OPEN_REQUEST_STATES
    }
    age_totals = dict.fromkeys(AGE_BUCKETS, 0)
    for row in rows:
        line = lines[row["state"]]
        line.count, line.late = row["n"], row["late_n"]
        for n, bucket in enumerate(AGE_BUCKETS):
            age_totals[bucket] += row[f"age_{n}"]
    monday = today - dt.timedelta(days=today.weekday())
    first = monday - dt.timedelta(weeks=WEEKS - 1)
    since = local_midnight(first)
    weeks = _past_weeks(requests, scope, first, WEEKS - 1) + _weeks(requests, [monday])
    advances = Settlement.objects.filter(
        scope.q(), kind=SettlementKind.ADVANCE, created_at__gte=since
    ).aggregate(n=Count("pk"), s=Coalesce(Sum("amount"), 0))
    states = [lines[s] for s in OPEN_REQUEST_STATES]
    return Dashboard(
        scope=scope,
        today=today,
        states=states,
        ages=age_totals,
        weeks=weeks,
        money=_money(scope),
        advances=(advances["n"], advances["s"]),
        open_total=sum(line.count for line in states),
        late_total=sum(line.late for line in states),
        first_week=first,
    )


# --- Cash journal ----------------------------------------------------------------------------


def cash_journal(scope: Scope, data: dict) -> QuerySet[Settlement]:
    qs = Settlement.objects.filter(scope.q())
    if data.get("caissier"):
        qs = qs.filter(cashier=data["caissier"])
    if data.get("nature"):
        qs = qs.filter(kind=data["nature"])
    if data.get("mode"):
        qs = qs.filter(mode=data["mode"])
    if data.get("du"):
        qs = qs.filter(created_at__gte=local_midnight(data["du"]))
    if data.get("au"):
        qs = qs.filter(created_at__lt=local_midnight(data["au"] + dt.timedelta(days=1)))
    return qs


def cash_totals(qs: QuerySet[Settlement]) -> tuple[list[dict], dict]:
    """Per mode: collected, refunded, advances; and the grand totals. One query."""
    rows = (
        qs.values("mode")
        .annotate(
            collected=Coalesce(Sum("amount", filter=Q(kind=SettlementKind.COLLECTION)), 0),
            refunded=Coalesce(Sum("amount", filter=Q(kind=SettlementKind.REFUND)), 0),
            advances=Coalesce(Sum("amount", filter=Q(kind=SettlementKind.ADVANCE)), 0),
            n=Count("pk"),
        )
        .order_by("mode")
    )
    labels = dict(PaymentMode.choices)
    lines = [{**row, "label": labels.get(row["mode"], "Solde nul")} for row in rows]
    total = {
        key: sum(line[key] for line in lines) for key in ("collected", "refunded", "advances", "n")
    }
    return lines, total
