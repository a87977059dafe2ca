"""What the supervision pages read: the request search, the dashboards' counts and sums, the
cash journal. Each count of a dashboard is the count of a search with the same filters: the
dashboard builds its links from the same conditions (tests/supervision checks they agree)."""

import datetime as dt
from dataclasses import dataclass, field

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
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from billing.enums import InvoiceKind, InvoiceState, PaymentMode, SettlementKind, TransferKind
from billing.models import AccountTransfer, Invoice, Settlement
from contracts.enums import OPEN_REQUEST_STATES, RequestState, TerminationKind
from contracts.models import Normalize, TerminationEvent, User
from contracts.procedure.selectors import with_deadline
from contracts.selectors import REQUEST_RELATED, requests_visible_to
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


def age_condition(bucket: str, today: dt.date) -> Q:
    """Open requests whose days in their state (today minus the day they entered it) are in
    the bucket."""
    low, high = AGE_BUCKETS[bucket]
    condition = Q(state__in=OPEN_REQUEST_STATES)
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
    """The requests matching the search form's cleaned data, sorted, with `deadline`, `late`
    and `balance` annotated."""
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
    qs = with_deadline(qs, today)
    if data.get("retard") == "oui":
        qs = qs.filter(state__in=OPEN_REQUEST_STATES, late=True)
    elif data.get("retard") == "non":
        qs = qs.filter(state__in=OPEN_REQUEST_STATES, late=False)
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


def search_page_rows(qs: QuerySet) -> QuerySet:
    return qs.select_related(*REQUEST_RELATED)


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
    extra: dict = field(default_factory=dict)


def _money(requests: QuerySet, scope: Scope) -> dict[str, tuple[int, int]]:
    """Number of requests and amount for each money line, in three aggregate queries."""
    in_scope = requests.values("pk")
    validated = Invoice.objects.filter(
        request__in=in_scope,
        kind__in=[InvoiceKind.BALANCE, InvoiceKind.SUBSCRIPTION],
        state=InvoiceState.VALIDATED,
    )
    to_collect = validated.filter(balance__gt=0).aggregate(
        n=Count("request_id", distinct=True), s=Coalesce(Sum("balance"), 0)
    )
    to_refund = validated.filter(kind=InvoiceKind.BALANCE, balance__lt=0).aggregate(
        n=Count("request_id", distinct=True), s=Coalesce(Sum("balance"), 0)
    )
    recovery = AccountTransfer.objects.filter(
        invoice__request__in=in_scope, kind=TransferKind.RECOVERY
    ).aggregate(n=Count("invoice__request_id", distinct=True), s=Coalesce(Sum("amount"), 0))
    return {
        "a_encaisser": (to_collect["n"], to_collect["s"]),
        "a_rembourser": (to_refund["n"], -to_refund["s"]),
        "recouvrement": (recovery["n"], recovery["s"]),
    }


def dashboard(user: User, scope: Scope, today: dt.date) -> Dashboard:
    """Open requests per state with their late ones and their ages (one query), requests opened
    and closed per week (two), money (three), advances collected over the same weeks (one)."""
    requests = requests_visible_to(user).filter(scope.q())
    ages = {
        f"age_{bucket.replace('-', '_').replace('+', '_plus')}": Count(
            "pk", filter=age_condition(bucket, today)
        )
        for bucket in AGE_BUCKETS
    }
    rows = (
        with_deadline(requests.filter(state__in=OPEN_REQUEST_STATES), today)
        .values("state")
        .annotate(n=Count("pk"), late_n=Count("pk", filter=Q(late=True)), **ages)
        .order_by()
    )
    lines = {
        s: StateLine(s, label) for s, label in RequestState.choices if s in OPEN_REQUEST_STATES
    }
    age_totals = dict.fromkeys(AGE_BUCKETS, 0)
    for row in rows:
        line = lines[row["state"]]
        line.count, line.late = row["n"], row["late_n"]
        for bucket in AGE_BUCKETS:
            age_totals[bucket] += row[f"age_{bucket.replace('-', '_').replace('+', '_plus')}"]
    monday = today - dt.timedelta(days=today.weekday())
    first = monday - dt.timedelta(weeks=WEEKS - 1)
    since = local_midnight(first)
    zone = timezone.get_current_timezone()
    opened = dict(
        requests.filter(created_at__gte=since)
        .annotate(week=TruncWeek("created_at", tzinfo=zone))
        .values("week")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("week", "n")
    )
    closed = dict(
        requests.filter(state=RequestState.CLOSED, closed_at__gte=since)
        .annotate(week=TruncWeek("closed_at", tzinfo=zone))
        .values("week")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("week", "n")
    )
    opened = {_day(k): v for k, v in opened.items()}
    closed = {_day(k): v for k, v in closed.items()}
    weeks = []
    for n in range(WEEKS):
        week = first + dt.timedelta(weeks=n)
        weeks.append((week, opened.get(week, 0), closed.get(week, 0)))
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
        money=_money(requests, scope),
        advances=(advances["n"], advances["s"]),
        open_total=sum(line.count for line in states),
        late_total=sum(line.late for line in states),
        first_week=first,
    )


def _day(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


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
