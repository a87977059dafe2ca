"""Reads of the procedure: the work queues, the nine steps of a request, its journal. Each
function fetches what its page needs in a fixed number of queries."""

from dataclasses import dataclass

from django.utils import timezone

from contracts.enums import RequestState, Role, TerminationKind
from contracts.models import TerminationEvent, TerminationRequest, User, closes_after_settlement
from contracts.selectors import REQUEST_RELATED, requests_visible_to
from interventions.enums import REMOVAL_ORDER_KINDS, OrderStatus


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
