"""What can be done on a request now, and by whom: written once, read by the services
(begin_step), the step pages (why_not), the request page's actions and the work queues.

A step that moves the request says it on the state machine (contracts.models.TerminationRequest:
each @transition's source, conditions and permission); here, each act names the transitions it
runs and takes its states and roles from them. An act within a state (the requester's signature,
a failed visit, a new date, a reassignment, a refund exception) moves nothing: its states and
roles are written in the table below, the only place they are. tests/procedure/test_rules.py
checks every state × role against the machine."""

from dataclasses import dataclass
from functools import cache

from contracts.enums import RequestState, Role
from contracts.models import (
    TerminationRequest,
    closes_after_settlement,
    is_with_takeover,
    is_without_takeover,
)

STEP_NOT_NOW = "Cette étape n'est pas possible maintenant : la demande est « {state} »."
WITHOUT_TAKEOVER = "Cette demande est sans reprise : émettez l'ordre d'intervention (étape 3)."
WITH_TAKEOVER = "Cette demande est une reprise : établissez la reprise (étape 2)."

# Why a transition's condition does not hold, in French (None: the state says it).
CONDITION_REFUSALS = {
    is_with_takeover: WITHOUT_TAKEOVER,
    is_without_takeover: WITH_TAKEOVER,
    closes_after_settlement: None,
}


@dataclass(frozen=True)
class Act:
    """One act on a request: the transitions it runs, or, for an act within a state, the
    states and roles where it may be done."""

    transitions: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


OPEN_ORDER = (RequestState.ORDER_ISSUED, RequestState.REMOVAL_ORDERED)

# Keyed by the page where the act is done (its URL name), or by the act's name when it is one
# form among others on a page (the failed visit, on the report pages).
ACTS: dict[str, Act] = {
    "request_take_over": Act(("take_over",)),
    "request_issue_order": Act(("issue_order",)),
    "request_signature": Act(states=(RequestState.ORDER_ISSUED,), roles=(Role.RECEPTION,)),
    "failed_visit": Act(states=OPEN_ORDER, roles=(Role.READER, Role.ARPNT)),
    # Reception after a failed reading visit, the supervisor after a failed removal visit.
    "request_reschedule": Act(states=OPEN_ORDER, roles=(Role.RECEPTION, Role.SUPERVISOR)),
    "request_reassign": Act(states=OPEN_ORDER, roles=(Role.SUPERVISOR, Role.MANAGER)),
    "request_field_report": Act(("report_field",)),
    # The field agent signs a report entered on their behalf (steps 5 and 9).
    "request_agent_sign": Act(
        states=(RequestState.FIELD_REPORTED, RequestState.METER_REMOVED),
        roles=(Role.READER, Role.ARPNT),
    ),
    "request_approve_report": Act(("approve_report", "send_back_field_report")),
    "request_invoice": Act(("invoice",)),
    "invoice_settle": Act(("settle", "close_takeover")),
    "request_credit_note": Act(
        (
            "cancel_balance_invoice",
            "cancel_balance_invoice_and_send_back",
            "cancel_takeover_invoices",
        )
    ),
    "request_refund_authorisation": Act(
        states=(RequestState.INVOICED, RequestState.TAKEOVER_INVOICED), roles=(Role.SUPERVISOR,)
    ),
    "request_removal_report": Act(("report_removal",)),
    # Signing the removal report is done where sending it back is: the same state, the same role.
    "request_sign_removal": Act(("send_back_removal_report",)),
    "request_removal_impossible": Act(("declare_removal_impossible",)),
    "request_confirm": Act(("confirm_codification", "confirm_codification_without_removal")),
    "request_cancel": Act(("cancel",)),
}


@cache
def machine() -> dict[str, list]:
    """The state machine's transitions by name (django-fsm-2's declarations): one per source
    state (a transition from two states is two)."""
    field = TerminationRequest._meta.get_field("state")
    transitions: dict[str, list] = {}
    for transition in field.get_all_transitions(TerminationRequest):
        transitions.setdefault(transition.name, []).append(transition)
    return transitions


def _transitions(name: str) -> list:
    """The transitions of an act, or the transitions of that name."""
    names = ACTS[name].transitions if name in ACTS else (name,)
    return [transition for n in names for transition in machine()[n]]


@cache
def act_states(name: str) -> tuple[str, ...]:
    """The states in which the act may be done."""
    if name in ACTS and not ACTS[name].transitions:
        return ACTS[name].states
    states = []
    for transition in _transitions(name):
        if transition.source not in states:
            states.append(transition.source)
    return tuple(states)


@cache
def act_roles(name: str) -> tuple[str, ...]:
    """The roles that may do it (the transitions' permissions; "system" is nobody's role)."""
    if name in ACTS and not ACTS[name].transitions:
        return ACTS[name].roles
    roles = []
    for transition in _transitions(name):
        for role in transition.permission.roles:
            if role != "system" and role not in roles:
                roles.append(role)
    return tuple(roles)


def act_refusal(request: TerminationRequest, name: str) -> str | None:
    """Why the act cannot be done on this request now, as far as its state and the machine's
    conditions say; None when they allow it. The pages and services check the rest (the
    orders, the invoices) themselves."""
    if request.state not in act_states(name):
        return STEP_NOT_NOW.format(state=request.state_label)
    if name in ACTS and not ACTS[name].transitions:
        return None
    from_here = [t for t in _transitions(name) if t.source == request.state]
    failed = [
        next((c for c in t.conditions if not c(request)), None) for t in from_here
    ]  # the first condition that does not hold, per transition
    if all(condition is not None for condition in failed):
        refusal = CONDITION_REFUSALS.get(failed[0])
        return refusal or STEP_NOT_NOW.format(state=request.state_label)
    return None
