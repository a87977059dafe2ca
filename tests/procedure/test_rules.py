"""The procedure's rules written once (procedure/rules.py), checked against the state machine
for every state × role: the request page offers exactly the acts the machine allows, no more;
an act the machine allows that the page holds back is held back by what the machine does not
know (an order, an invoice), and the step page says it in French."""

import re

import pytest
from django.urls import resolve, reverse

from billing.enums import PaymentMode
from contracts.enums import RequestState, Role, TerminationKind, Timing
from contracts.models import TerminationRequest
from procedure import services
from procedure.queues import QUEUE_RULES
from procedure.rules import ACTS, STEP_NOT_NOW, act_refusal, act_roles, act_states, machine
from procedure.selectors import why_not
from procedure.views import _with_orders
from tests.factories import UserFactory
from tests.test_matrix import request_in
from tests.workflow import (
    confirm_codification,
    create,
    mt_example_contract,
    mt_until_settled,
    reload,
    take_over,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

PAGES = [act for act in ACTS if act != "failed_visit"]  # the failed visit is a form, not a page
ROLES = [role for role in Role if role != Role.ADMIN]  # the admin works in /admin/ only


def machine_allows(req: TerminationRequest, user, act: str) -> bool:
    """What the state machine (django-fsm-2's own evaluation: source, conditions, permission)
    lets this user do; for an act within a state, the one table of procedure/rules.py."""
    if user.agency_id != req.agency_id:
        return False
    if ACTS[act].transitions:
        available = {t.name for t in req.get_available_user_state_transitions(user)}
        return bool(available & set(ACTS[act].transitions))
    return req.state in ACTS[act].states and user.has_role(*ACTS[act].roles)


def test_every_state_and_role_the_rules_say_what_the_machine_says(akpakpa, staff):
    """In memory, every state × role × kind of request (with or without reprise, BT or MT,
    classic or anticipated): the rules the pages and services read agree with the machine."""
    bt = worked_example_contract(akpakpa)
    mt = mt_example_contract(akpakpa)
    users = {role: UserFactory(agency=akpakpa, roles=[role]) for role in ROLES}
    checked = 0
    for contract in (bt, mt):
        for kind in TerminationKind:
            for timing in Timing:
                for state in RequestState:
                    req = TerminationRequest(
                        contract=contract, agency=akpakpa, kind=kind, timing=timing, state=state
                    )
                    for role, user in users.items():
                        for act in PAGES:
                            rules_allow = (
                                user.has_role(*act_roles(act)) and act_refusal(req, act) is None
                            )
                            assert rules_allow == machine_allows(req, user, act), (
                                contract.tariff_category.code,
                                kind,
                                timing,
                                state,
                                role,
                                act,
                            )
                            checked += 1
    assert checked == 2 * 2 * 2 * len(RequestState) * len(ROLES) * len(PAGES)


def test_the_table_of_acts_within_a_state_names_states_and_roles_the_machine_has():
    transitions = [t for named in machine().values() for t in named]
    sources = {t.source for t in transitions}
    roles = {role for t in transitions for role in t.permission.roles}
    for act in ACTS.values():
        if act.transitions:
            assert set(act.transitions) <= set(machine())
            continue
        assert set(act.states) <= sources  # a state the request leaves: never a final one
        assert set(act.roles) <= set(Role)
        assert set(act.roles) - {Role.MANAGER} <= roles  # the chef d'agence only reassigns


def test_every_work_queue_rule_is_an_act_the_machine_allows():
    for rule in QUEUE_RULES:
        acts = (
            ["request_take_over", "request_issue_order"]
            if rule.url_name == "request_detail"
            else [rule.url_name]
        )
        assert any(
            rule.state in act_states(act) and set(rule.roles) <= set(act_roles(act)) for act in acts
        ), (
            rule.roles,
            rule.state,
            rule.url_name,
        )


# The requests of the procedure, brought there by its own services: one per state, and the
# situations within a state where the page offers something else.
SITUATIONS = [
    RequestState.RECEIVED,
    "takeover",
    "takeover_invoiced",
    "takeover_closed",
    "unsigned",
    RequestState.ORDER_ISSUED,
    "visit_failed",
    RequestState.FIELD_REPORTED,
    RequestState.REPORT_APPROVED,
    RequestState.INVOICED,
    "refund",
    "mt_settled",  # a BT request settled has its removal order at once (cut date passed)
    RequestState.REMOVAL_ORDERED,
    "removal_failed_three_times",
    RequestState.METER_REMOVED,
    "removal_signed",
    RequestState.CLOSED,
    RequestState.CANCELLED,
]


def situation(name, akpakpa, staff) -> TerminationRequest:
    match name:
        case "takeover_invoiced" | "takeover_closed":
            request = create(
                worked_example_contract(akpakpa), staff, kind=TerminationKind.WITH_TAKEOVER
            )
            take_over(request, staff)
            if name == "takeover_closed":
                for invoice in reload(request).invoices.filter(state="validated"):
                    services.termination_request_settle(
                        invoice,
                        actor=staff.cashier,
                        amount=abs(invoice.balance),
                        mode=PaymentMode.CASH,
                    )
        case "mt_settled":
            request = mt_until_settled(mt_example_contract(akpakpa), staff, Timing.CLASSIC)
        case RequestState.CLOSED:
            request = request_in("removal_signed", akpakpa, staff)
            confirm_codification(request, actor=staff.acff)
        case RequestState.CANCELLED:
            request = create(worked_example_contract(akpakpa), staff)
            services.termination_request_cancel(request, actor=staff.reception, reason="Erreur")
        case _:
            request = request_in(name, akpakpa, staff)
    return TerminationRequest.objects.get(pk=request.pk)


ACTIONS = re.compile(r'<section class="card actions".*?</section>', re.S)


def offered(client, user, req) -> set[str]:
    client.force_login(user)
    response = client.get(reverse("request_detail", args=[req.pk]))
    assert response.status_code == 200
    section = ACTIONS.search(response.content.decode())
    hrefs = re.findall(r'href="([^"]+)"', section.group(0)) if section else []
    return {resolve(href).url_name for href in hrefs}


@pytest.mark.parametrize("name", SITUATIONS)
def test_the_request_page_offers_exactly_what_the_machine_allows(name, akpakpa, staff, client):
    req = situation(name, akpakpa, staff)
    people = [
        staff.reception,
        staff.reader,
        staff.supervisor,
        staff.cashier,
        staff.arpnt,
        staff.acff,
        staff.auditor,
        UserFactory(agency=akpakpa, roles=[Role.MANAGER]),
    ]
    offered_to_someone = False
    for user in people:
        shown = offered(client, user, req)
        offered_to_someone |= bool(shown)
        allowed = {act for act in PAGES if machine_allows(req, user, act)}
        assert shown <= allowed, (name, sorted(user.roles), shown - allowed)  # no more
        for act in allowed - shown:  # no less, unless what the machine does not know says so
            reason = why_not(_with_orders(TerminationRequest.objects.get(pk=req.pk)), act)
            if act == "request_reschedule" and reason is None:
                order = req.orders.order_by("-id").first()
                assert not user.has_role(services.rescheduler_role(order)), (name, act)
                continue
            assert reason, (name, sorted(user.roles), act)
            assert reason != STEP_NOT_NOW.format(state=req.state_label), (name, act)
    # Only a request at its end offers nothing to anybody.
    assert offered_to_someone == (req.state not in (RequestState.CLOSED, RequestState.CANCELLED))
