"""Reads of the master data and of what each user may see. Each function fetches what its page
needs in a fixed number of queries."""

from django.db.models import QuerySet, Value

from contracts.errors import NotFound
from contracts.models import Contract, Customer, Normalize, TerminationRequest, User
from contracts.phone import normalize_phone

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
    """The contract, if the user may see it; otherwise NotFound (another agency's contract is
    not acknowledged to exist)."""
    try:
        return (
            contracts_visible_to(user)
            .select_related(
                "customer", "delivery_point", "meter", "tariff_category", "agency", "deposit"
            )
            .get(number=number)
        )
    except Contract.DoesNotExist:
        raise NotFound("Contrat introuvable.") from None


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
        raise NotFound("Demande introuvable.") from None
