"""The work queues' rules: in which state, and with which of its orders, a request waits for a
role to do a task; and what each request waits for now, kept on the request (`queue_task`,
`queue_holder`, `queue_agent`) so that a queue is the head of one index, whatever the number
of requests.

`refresh_queues` writes them from the rules, in the transaction of each of the request's events
(procedure/transitions.py, beside its deadline); the night's task does it for every open request
and logs anything that drifted. A request waits for one task at most: the rules of a state are
told apart by its orders' statuses (tests/procedure/test_deadline_property.py checks it over
generated histories, with stored = rule after every step)."""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Exists,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)

from contracts.enums import OPEN_REQUEST_STATES, RequestState, Role, Timing, Voltage
from contracts.models import Contract, TerminationRequest
from interventions.enums import FIELD_ORDER_KINDS, REMOVAL_ORDER_KINDS, OrderStatus
from interventions.models import InterventionOrder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueRule:
    """Requests in `state` wait for one of `roles` to do `task` on the page `url_name`, when one
    of the request's orders matches `order` (a filter on InterventionOrder) and the request
    matches `where`. `mine`: the task is the order's agent's (anyone of the roles while it has
    none). `code` is what the request keeps while it waits (stable: stored)."""

    code: str
    roles: tuple[str, ...]
    state: str
    task: str
    url_name: str
    order: dict | None = None
    mine: bool = False
    where: Q = field(default_factory=Q)


MT = Q(
    Exists(Contract.objects.filter(pk=OuterRef("contract_id"), tariff_category__voltage=Voltage.MT))
)
FIELD = {"kind__in": FIELD_ORDER_KINDS}
REMOVAL = {"kind__in": REMOVAL_ORDER_KINDS}
# Step 5's report: the reader, or the ARPNT agent the procedure also names there.
FIELD_AGENTS = (Role.READER, Role.ARPNT)

QUEUE_RULES: list[QueueRule] = [
    QueueRule(
        "reception_start",
        (Role.RECEPTION,),
        RequestState.RECEIVED,
        "Émettre l'ordre ou établir la reprise",
        "request_detail",
    ),
    QueueRule(
        "reception_signature",
        (Role.RECEPTION,),
        RequestState.ORDER_ISSUED,
        "Imprimer l'ordre et le faire signer par le demandeur",
        "request_signature",
        order={**FIELD, "status": OrderStatus.ISSUED, "requester_signed_at__isnull": True},
    ),
    QueueRule(
        "reception_new_date",
        (Role.RECEPTION,),
        RequestState.ORDER_ISSUED,
        "Visite infructueuse : fixer une nouvelle date",
        "request_reschedule",
        order={**FIELD, "status": OrderStatus.VISIT_FAILED},
    ),
    QueueRule(
        "reception_invoice",
        (Role.RECEPTION,),
        RequestState.REPORT_APPROVED,
        "Calculer et valider la facture de solde",
        "request_invoice",
    ),
    QueueRule(
        "reader_report",
        FIELD_AGENTS,
        RequestState.ORDER_ISSUED,
        "Saisir le compte-rendu d'intervention",
        "request_field_report",
        order={**FIELD, "status": OrderStatus.ISSUED, "requester_signed_at__isnull": False},
        mine=True,
    ),
    QueueRule(
        "reader_returned",
        FIELD_AGENTS,
        RequestState.ORDER_ISSUED,
        "Corriger le compte-rendu renvoyé",
        "request_field_report",
        order={**FIELD, "status": OrderStatus.RETURNED},
        mine=True,
    ),
    QueueRule(
        "agent_sign_report",
        FIELD_AGENTS,
        RequestState.FIELD_REPORTED,
        "Signer votre compte-rendu saisi d'après l'ordre papier",
        "request_agent_sign",
        order={**FIELD, "status": OrderStatus.UNSIGNED},
        mine=True,
    ),
    QueueRule(
        "supervisor_report",
        (Role.SUPERVISOR,),
        RequestState.FIELD_REPORTED,
        "Contrôler et signer l'ordre de coupure",
        "request_approve_report",
        order={**FIELD, "status": OrderStatus.REPORTED},
    ),
    QueueRule(
        "supervisor_new_date",
        (Role.SUPERVISOR,),
        RequestState.REMOVAL_ORDERED,
        "Visite infructueuse : fixer une nouvelle date",
        "request_reschedule",
        order={**REMOVAL, "status": OrderStatus.VISIT_FAILED},
    ),
    QueueRule(
        "supervisor_removal",
        (Role.SUPERVISOR,),
        RequestState.METER_REMOVED,
        "Contrôler et signer le compte-rendu de dépose",
        "request_sign_removal",
        order={**REMOVAL, "status": OrderStatus.REPORTED},
        where=~MT,
    ),
    QueueRule(
        "supervisor_final_cut",
        (Role.SUPERVISOR,),
        RequestState.METER_REMOVED,
        "Contrôler et signer le compte-rendu de coupure définitive",
        "request_sign_removal",
        order={**REMOVAL, "status": OrderStatus.REPORTED},
        where=MT,
    ),
    QueueRule(
        "arpnt_removal",
        (Role.ARPNT,),
        RequestState.REMOVAL_ORDERED,
        "Déposer le compteur et saisir le compte-rendu",
        "request_removal_report",
        order={**REMOVAL, "status": OrderStatus.ISSUED},
        mine=True,
        where=~MT,
    ),
    QueueRule(
        "arpnt_final_cut",
        (Role.ARPNT,),
        RequestState.REMOVAL_ORDERED,
        "Effectuer la coupure définitive et saisir le compte-rendu",
        "request_removal_report",
        order={**REMOVAL, "status": OrderStatus.ISSUED},
        mine=True,
        where=MT,
    ),
    QueueRule(
        "arpnt_returned",
        (Role.ARPNT,),
        RequestState.REMOVAL_ORDERED,
        "Corriger le compte-rendu renvoyé",
        "request_removal_report",
        order={**REMOVAL, "status": OrderStatus.RETURNED},
        mine=True,
    ),
    QueueRule(
        "arpnt_sign_report",
        (Role.ARPNT,),
        RequestState.METER_REMOVED,
        "Signer votre compte-rendu saisi d'après l'ordre papier",
        "request_agent_sign",
        order={**REMOVAL, "status": OrderStatus.UNSIGNED},
        mine=True,
    ),
    QueueRule(
        "acff_codification",
        (Role.ACFF,),
        RequestState.METER_REMOVED,
        "Confirmer la codification",
        "request_confirm",
        order={**REMOVAL, "status": OrderStatus.SIGNED},
    ),
    QueueRule(
        "acff_impossible",
        (Role.ACFF,),
        RequestState.REMOVAL_IMPOSSIBLE,
        "Confirmer la codification (intervention impossible, coupure au branchement)",
        "request_confirm",
    ),
    QueueRule(
        "acff_mt_classic",
        (Role.ACFF,),
        RequestState.SETTLED,
        "Confirmer la codification (MT, sans dépose)",
        "request_confirm",
        where=MT & Q(timing=Timing.CLASSIC),
    ),
]

QUEUE_ROLES = frozenset(role for rule in QUEUE_RULES for role in rule.roles)
RULES_BY_CODE = {rule.code: rule for rule in QUEUE_RULES}

# The field work a request's state is about: its removal order from step 8, before that its
# field order (interruption or reading).
AFTER_STEP_8 = [
    RequestState.REMOVAL_ORDERED,
    RequestState.METER_REMOVED,
    RequestState.REMOVAL_IMPOSSIBLE,
]


def _rule_orders(rule: QueueRule):
    return InterventionOrder.objects.filter(request=OuterRef("pk"), **rule.order)


def rule_condition(rule: QueueRule) -> Q:
    """Whether a request meets the rule (its state, `where`, and an order of its own in the
    rule's kind and status), as a filter on TerminationRequest."""
    condition = Q(state=rule.state) & rule.where
    if rule.order is not None:
        condition &= Exists(_rule_orders(rule))
    return condition


def _current_agent(kinds) -> Subquery:
    orders = InterventionOrder.objects.filter(request=OuterRef("pk"), kind__in=kinds)
    return Subquery(orders.order_by("-id").values("assignee_id")[:1])


MINE = frozenset(rule.code for rule in QUEUE_RULES if rule.mine)


def queue_expressions() -> dict:
    """What the request waits for, by the rules: the task's code ("": nothing) and the agent of
    the order its field work is about (shown in the queue). A `mine` task is reserved to that
    agent: the order its rule finds is that one (the request's current order of its kinds)."""
    task = Case(
        *[When(rule_condition(rule), then=Value(rule.code)) for rule in QUEUE_RULES],
        default=Value(""),
        output_field=CharField(),
    )
    agent = Case(
        When(state__in=AFTER_STEP_8, then=_current_agent(REMOVAL_ORDER_KINDS)),
        When(state__in=OPEN_REQUEST_STATES, then=_current_agent(FIELD_ORDER_KINDS)),
        default=None,
        output_field=BigIntegerField(),
    )
    return {"rule_task": task, "rule_agent": agent}


def ruled(task: str, agent: int | None) -> tuple[str, int | None, int | None]:
    """The stored (task, holder, agent) for what the rules say."""
    return task, agent if task in MINE else None, agent


def refresh_queues(request_ids: list[int] | None = None) -> int:
    """Write what these requests wait for (every request open or still waiting when None) where
    it differs from the rules; in the caller's transaction. Returns how many rows changed.

    The rules are read once per request (one SELECT of two expressions) and only the rows that
    differ are written, with their values: one UPDATE for all the requests of a batch that wait
    for the same thing. The rows are locked first (a step has locked its own already; the
    night's check passes over one a step is changing: that step writes it)."""
    if request_ids is None:
        with transaction.atomic():
            return _refresh(
                TerminationRequest.objects.filter(
                    Q(state__in=OPEN_REQUEST_STATES)
                    | ~Q(queue_task="")
                    | Q(queue_agent__isnull=False)
                ).select_for_update(of=("self",), skip_locked=True)
            )
    return _refresh(
        TerminationRequest.objects.filter(pk__in=request_ids).select_for_update(of=("self",))
    )


def _refresh(requests) -> int:
    rows = requests.annotate(**queue_expressions()).values_list(
        "pk", "queue_task", "queue_holder_id", "queue_agent_id", "rule_task", "rule_agent"
    )
    changes: dict[tuple, list[int]] = {}
    for pk, task, holder, agent, rule_task, rule_agent in rows:
        wanted = ruled(rule_task, rule_agent)
        if (task, holder, agent) != wanted:
            changes.setdefault(wanted, []).append(pk)
    for (task, holder, agent), pks in changes.items():
        TerminationRequest.objects.filter(pk__in=pks).update(
            queue_task=task, queue_holder=holder, queue_agent=agent
        )
    return sum(len(pks) for pks in changes.values())


def refresh_all_queues() -> int:
    """Every open request's task from the rules (the night's check: nothing should move)."""
    moved = refresh_queues()
    if moved:
        logger.warning("corbeilles: %s demande(s) remise(s) à jour", moved)
    return moved
