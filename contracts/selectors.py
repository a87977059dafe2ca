"""Reads. Each function fetches what its page needs in a fixed number of queries."""

from dataclasses import dataclass

from django.db.models import QuerySet, Value
from django.http import Http404
from django.utils import timezone

from billing.enums import EntryKind, InvoiceState
from billing.models import AccountEntry, Invoice
from contracts.enums import RequestState, Role, TerminationKind
from contracts.models import (
    Contract,
    Customer,
    Normalize,
    TerminationEvent,
    TerminationRequest,
    User,
    closes_after_settlement,
)
from contracts.phone import normalize_phone
from interventions.enums import REMOVAL_ORDER_KINDS, OrderStatus

SEARCH_LIMIT = 30  # a page an agent can scan; beyond that, the page asks for precision
NAME_MIN_LENGTH = 3  # a trigram index needs three characters to narrow anything down
# A part of a name ("KOSSI") may be in tens of thousands of names out of a million; the agency's
# contracts are looked up among the first NAME_MATCH_CAP of them, and the page asks for more
# precision when the cap is reached.
NAME_MATCH_CAP = 300


def contracts_visible_to(user: User) -> QuerySet[Contract]:
    """Staff see their own agency's contracts; auditors see every agency's."""
    qs = Contract.objects.all()
    if not user.sees_all_agencies:
        qs = qs.filter(agency_id=user.agency_id)
    return qs


def search_contracts(user: User, query: str) -> tuple[list[Contract], bool]:
    """Contracts matching the query by number, meter serial, phone or customer name.

    Each criterion is its own indexed query (an OR across joined tables would scan the contract
    table); their ids are merged, then fetched once. Returns (contracts, truncated).
    """
    query = " ".join(query.split())
    if not query:
        return [], False
    visible = contracts_visible_to(user)
    code = query.replace(" ", "").upper()
    criteria = [
        visible.filter(number__startswith=code),
        visible.filter(meter__serial__startswith=code),
    ]
    if phone := normalize_phone(query):
        criteria.append(visible.filter(customer__phone=phone))
    ids: set[int] = set()
    for qs in criteria:
        ids.update(qs.values_list("pk", flat=True)[: SEARCH_LIMIT + 1])
    truncated = False
    if len(query) >= NAME_MIN_LENGTH and not query.isdigit():
        normalized = Normalize(Value(query))
        # Agents type the NOM first: names starting with the query, walking the B-tree in
        # order and stopping at the limit.
        by_name = list(
            visible.filter(customer__name_normalized__startswith=normalized)
            .order_by("customer__name_normalized")
            .values_list("pk", flat=True)[: SEARCH_LIMIT + 1]
        )
        if not by_name:
            # Otherwise names containing it (a first name, part of a compound name), through
            # the trigram index, among a bounded number of customers.
            customer_ids = list(
                Customer.objects.filter(name_normalized__contains=normalized)
                .order_by()
                .values_list("pk", flat=True)[: NAME_MATCH_CAP + 1]
            )
            truncated = len(customer_ids) > NAME_MATCH_CAP
            by_name = list(
                visible.filter(customer_id__in=customer_ids[:NAME_MATCH_CAP])
                .order_by()
                .values_list("pk", flat=True)[: SEARCH_LIMIT + 1]
            )
        ids.update(by_name)
    truncated = truncated or len(ids) > SEARCH_LIMIT
    contracts = list(
        Contract.objects.filter(pk__in=ids)
        .select_related("customer", "delivery_point", "meter", "tariff_category", "agency")
        .order_by("customer__name", "number")[:SEARCH_LIMIT]
    )
    return contracts, truncated


def get_contract_for_user(user: User, number: str) -> Contract:
    """The contract, if the user may see it; otherwise 404 (another agency's contract is not
    acknowledged to exist)."""
    try:
        return (
            contracts_visible_to(user)
            .select_related(
                "customer", "delivery_point", "meter", "tariff_category", "agency", "deposit"
            )
            .get(number=number)
        )
    except Contract.DoesNotExist:
        raise Http404("Contrat introuvable.") from None


@dataclass(frozen=True)
class Account:
    """A contract's customer account: balance > 0 means the customer owes it."""

    balance: int
    unpaid_invoices: list[Invoice]
    unpaid_total: int
    advances_total: int
    entries: list[AccountEntry]


def contract_account(contract: Contract) -> Account:
    entries = list(contract.account_entries.order_by("posted_on", "id"))
    unpaid = list(
        contract.invoices.filter(state=InvoiceState.VALIDATED).order_by("issued_on", "id")
    )
    return Account(
        balance=sum(e.debit for e in entries) - sum(e.credit for e in entries),
        unpaid_invoices=unpaid,
        unpaid_total=sum(invoice.total for invoice in unpaid),
        advances_total=sum(e.credit for e in entries if e.kind == EntryKind.ADVANCE),
        entries=entries,
    )


# --- Termination requests -------------------------------------------------------------------

REQUEST_RELATED = ("contract__customer", "contract__tariff_category", "agency")


def requests_visible_to(user: User) -> QuerySet[TerminationRequest]:
    qs = TerminationRequest.objects.all()
    if not user.sees_all_agencies:
        qs = qs.filter(agency_id=user.agency_id)
    return qs


def get_request_for_user(user: User, pk: int) -> TerminationRequest:
    try:
        return (
            requests_visible_to(user)
            .select_related(
                *REQUEST_RELATED,
                "contract__meter",
                "contract__delivery_point",
                "contract__agency",
                "successor",
                "successor_contract",
                "created_by",
            )
            .get(pk=pk)
        )
    except TerminationRequest.DoesNotExist:
        raise Http404("Demande introuvable.") from None


@dataclass(frozen=True)
class QueueItem:
    request: TerminationRequest
    task: str  # what the user is to do, in French
    url_name: str  # the page where it is done
    age_days: int


# For each role: the states whose requests wait for it, and what it is to do there.
QUEUES: dict[str, list[tuple[str, str, str]]] = {
    Role.RECEPTION: [
        (RequestState.RECEIVED, "Émettre l'ordre ou établir la reprise", "request_detail"),
        (
            RequestState.REPORT_APPROVED,
            "Calculer et valider la facture de solde",
            "request_invoice",
        ),
    ],
    Role.READER: [
        (RequestState.ORDER_ISSUED, "Saisir le compte-rendu d'intervention", "request_field_report")
    ],
    Role.SUPERVISOR: [
        (
            RequestState.FIELD_REPORTED,
            "Contrôler et signer l'ordre de coupure",
            "request_approve_report",
        ),
        (
            RequestState.METER_REMOVED,
            "Contrôler et signer le compte-rendu de dépose",
            "request_sign_removal",
        ),
    ],
    Role.ARPNT: [
        (
            RequestState.REMOVAL_ORDERED,
            "Déposer le compteur et saisir le compte-rendu",
            "request_removal_report",
        )
    ],
    Role.ACFF: [
        (RequestState.METER_REMOVED, "Confirmer la codification", "request_confirm"),
        (RequestState.SETTLED, "Confirmer la codification (MT, sans dépose)", "request_confirm"),
    ],
}


QUEUE_LIMIT = 50  # the oldest first; a longer queue is worked from its head


def work_queue(user: User, today) -> list[QueueItem]:
    """Ma corbeille: what waits for this user in the agency, oldest first. Age is counted from
    the last step done on the request."""
    wanted = [
        (state, task, url) for role in user.roles for state, task, url in QUEUES.get(role, [])
    ]
    if not wanted:
        return []
    states = {state for state, _, _ in wanted}
    requests = (
        requests_visible_to(user)
        .filter(state__in=states)
        .select_related(*REQUEST_RELATED)
        .prefetch_related("orders")
        .order_by("state_since", "id")[:QUEUE_LIMIT]
    )
    items = []
    for request in requests:
        age = (today - timezone.localtime(request.state_since).date()).days
        for state, task, url in wanted:
            if request.state == state and _queue_applies(request, url):
                items.append(QueueItem(request, task, url, age))
    return items


def _queue_applies(request: TerminationRequest, url_name: str) -> bool:
    """Refinements a state alone cannot say: which signature or confirmation is awaited."""
    if request.state == RequestState.SETTLED:
        return closes_after_settlement(request)
    if request.state == RequestState.METER_REMOVED:
        signed = any(
            o.kind in REMOVAL_ORDER_KINDS and o.status == OrderStatus.SIGNED
            for o in request.orders.all()
        )
        return signed if url_name == "request_confirm" else not signed
    return True


STEP_TITLES = {
    1: "Accueil et orientation",
    2: "Reprise d'abonnement",
    3: "Ordre d'interruption",
    4: "Intervention",
    5: "Compte-rendu d'intervention",
    6: "Résiliation (facture de solde)",
    7: "Encaissement ou remboursement",
    8: "Dépose du compteur",
    9: "Compte-rendu de dépose",
}


@dataclass(frozen=True)
class TimelineStep:
    number: int
    title: str
    status: str  # done, current, todo, not_applicable
    events: list[TerminationEvent]


def timeline(request: TerminationRequest, events: list[TerminationEvent]) -> list[TimelineStep]:
    """The procedure's nine steps for this request: done (who, when), current, to come, or not
    applicable (reprise skips 3 to 6 and 8-9; without reprise skips 2; MT classic skips 8)."""
    not_applicable = set()
    if request.kind == TerminationKind.WITH_TAKEOVER:
        not_applicable |= {3, 4, 5, 6, 8, 9}
    else:
        not_applicable.add(2)
        if request.timing and closes_after_settlement(request):
            not_applicable.add(8)
    by_step: dict[int, list[TerminationEvent]] = {}
    for event in events:
        by_step.setdefault(event.step, []).append(event)
    # Step 4 (the field visit) is reported with step 5.
    if 5 in by_step:
        by_step.setdefault(4, [])
    current = CURRENT_STEP.get(request.state)
    steps = []
    for number, title in STEP_TITLES.items():
        if number in not_applicable:
            status = "not_applicable"
        elif number == current and request.state not in (
            RequestState.CLOSED,
            RequestState.CANCELLED,
        ):
            status = "current"
        elif number in by_step or (number == 4 and 5 in by_step):
            status = "done"
        else:
            status = "todo"
        steps.append(TimelineStep(number, title, status, by_step.get(number, [])))
    return steps


CURRENT_STEP = {
    RequestState.RECEIVED: 3,
    RequestState.TAKEOVER_INVOICED: 7,
    RequestState.ORDER_ISSUED: 4,
    RequestState.FIELD_REPORTED: 5,
    RequestState.REPORT_APPROVED: 6,
    RequestState.INVOICED: 7,
    RequestState.SETTLED: 8,
    RequestState.REMOVAL_ORDERED: 8,
    RequestState.METER_REMOVED: 9,
}
