"""The stored deadline (procedure/deadlines.py) equals the rule's expression over generated
histories (Hypothesis): a BT request (a balance or a refund, with or without reprise) or an MT
one, classic or anticipated, driven by any sequence of the procedure's own services (reports,
failed visits and new dates, reports sent back, invoices cancelled by credit note, settlements,
step 8, transfers to the apurement, removals signed or sent back or declared impossible,
codification, cancellation), with the clock moving by minutes to days between steps (across
the délais' boundaries) and délais changed in the admin (in force at once, or from a later day:
the night's task then moves the deadlines). After every step, for every request: stored =
expression.

The same histories check what each request waits for in the work queues (procedure/queues.py):
its stored task, the agent it is reserved to and the agent of its order equal the rules, and
no request meets two rules at once (the rules of a state are told apart by its orders)."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, ExpressionWrapper
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.rules import StepRefused
from billing.enums import InvoiceKind, PaymentMode
from contracts.enums import DelayKind, RequestState, Role, TerminationKind, Timing
from contracts.models import Delay, Deposit, TerminationRequest
from interventions.enums import REMOVAL_ORDER_KINDS, VisitFailure
from interventions.models import InterventionReport
from procedure import services
from procedure.deadlines import deadline_expression, refresh_all_deadlines
from procedure.queues import QUEUE_RULES, queue_expressions, rule_condition, ruled
from tests.factories import UserFactory
from tests.workflow import (
    ALL_SAFETY_STEPS,
    FROZEN_NOW,
    confirm_codification,
    credit_shown,
    issue_and_sign,
    mt_example_contract,
    reload,
    sign,
    take_over,
    validate_invoice,
    worked_example_contract,
)
from tests.workflow import create as create_request

pytestmark = pytest.mark.django_db

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# What can be tried in each state (a step may still be refused: nothing is written then); a
# délai may change, or the clock move on, at any time.
ALWAYS = ["delay_now", "delay_later", "wait"]
CANDIDATES = {
    RequestState.RECEIVED: ["start"] * 4 + ["issue_unsigned", "cancel"],
    RequestState.TAKEOVER_INVOICED: ["settle", "settle"],
    RequestState.ORDER_ISSUED: ["report"] * 3
    + ["report_on_paper", "sign", "failed_visit", "reschedule", "reassign", "cancel"],
    RequestState.FIELD_REPORTED: ["approve", "send_back_report", "agent_sign"],
    RequestState.REPORT_APPROVED: ["invoice"],
    RequestState.INVOICED: ["settle", "credit_note", "mornings_jobs"],
    RequestState.SETTLED: ["mornings_jobs", "codify"],
    RequestState.REMOVAL_ORDERED: [
        "removal",
        "removal_on_paper",
        "failed_visit",
        "reschedule",
        "removal_impossible",
        "reassign",
        "mornings_jobs",
    ],
    RequestState.METER_REMOVED: ["sign_removal", "send_back_removal", "codify", "agent_sign"],
    RequestState.REMOVAL_IMPOSSIBLE: ["codify"],
}
STEP = st.tuples(
    st.integers(0, 99),  # which of the state's candidates (or of ALWAYS)
    # Minutes to the next step: within the hour, a day's délai boundary, up to 40 days.
    st.one_of(
        st.integers(0, 90), st.sampled_from([1439, 1440, 1441, 4320]), st.integers(0, 57_600)
    ),
    st.integers(1, 45),  # a délai's days, when the step changes one
)
CASE = st.fixed_dictionaries(
    {
        "contract": st.sampled_from(["bt", "bt_refund", "mt"]),
        "kind": st.sampled_from(
            [TerminationKind.WITHOUT_TAKEOVER] * 3 + [TerminationKind.WITH_TAKEOVER]
        ),
        "timing": st.sampled_from([Timing.CLASSIC, Timing.ANTICIPATED]),
        "cut_in_days": st.integers(1, 20),
        "steps": st.lists(STEP, min_size=12, max_size=30),
    }
)


class Rollback(Exception):
    pass


MET = {
    f"met_{rule.code}": ExpressionWrapper(rule_condition(rule), output_field=BooleanField())
    for rule in QUEUE_RULES
}
STORED = ["queue_task", "queue_holder", "queue_agent"]


def check_stored_equals_rule() -> list[str]:
    """Stored = rule for every request; returns the queue tasks stored."""
    today = timezone.localdate()
    rows = TerminationRequest.objects.annotate(
        rule=deadline_expression(today), **queue_expressions(), **MET
    ).values("pk", "state", "deadline", "rule", *STORED, "rule_task", "rule_agent", *MET)
    tasks = []
    for row in rows:
        assert row["deadline"] == row["rule"], (row, today)
        assert tuple(row[f] for f in STORED) == ruled(row["rule_task"], row["rule_agent"]), row
        met = [name for name in MET if row[name]]
        assert len(met) <= 1, row
        assert met == ([f"met_{row['queue_task']}"] if row["queue_task"] else []), row
        tasks.append(row["queue_task"])
    return tasks


class History:
    def __init__(self, staff, contract, timing, cut_in_days, kind=TerminationKind.WITHOUT_TAKEOVER):
        self.staff, self.timing, self.cut_in_days = staff, timing, cut_in_days
        self.index = contract.last_billed_index + 300
        self.request = create_request(contract, staff, kind)
        # A second agent of each field role, for the orders handed over.
        self.others = {
            role: UserFactory(username=f"akp.{role}.2", agency=contract.agency, roles=[role])
            for role in (Role.READER, Role.ARPNT)
        }

    def today(self) -> dt.date:
        return timezone.localdate()

    def run(self, action: str, days: int) -> None:
        request = reload(self.request)
        getattr(self, action)(request, days)

    def pick(self, choice: int) -> str:
        candidates = CANDIDATES.get(reload(self.request).state, []) * 8 + ALWAYS
        return candidates[choice % len(candidates)]

    def wait(self, r, days):
        pass

    # The steps, each through the services as a page calls them.
    def issue(self, r, days):
        cut = self.today() + dt.timedelta(days=self.cut_in_days)
        issue_and_sign(
            r,
            self.staff,
            timing=self.timing,
            cut_date=cut if self.timing == Timing.ANTICIPATED else None,
        )

    def issue_unsigned(self, r, days):
        services.termination_request_issue_order(
            r, actor=self.staff.reception, timing=self.timing, cut_date=self._cut()
        )

    def sign(self, r, days):
        sign(r, self.staff)

    def _cut(self):
        if self.timing == Timing.ANTICIPATED:
            return self.today() + dt.timedelta(days=self.cut_in_days)
        return None

    def reassign(self, r, days):
        order = self._open_order(r)
        role = Role.ARPNT if order and order.kind in REMOVAL_ORDER_KINDS else Role.READER
        first = self.staff.arpnt if role == Role.ARPNT else self.staff.reader
        agent = first if order and order.assignee_id == self.others[role].pk else self.others[role]
        services.termination_request_reassign_order(r, actor=self.staff.supervisor, assignee=agent)

    def report(self, r, days, agent=None):
        classic = self.timing == Timing.CLASSIC
        services.termination_request_report_field(
            r,
            actor=self.staff.reader,
            agent=agent,
            index_read=self.index,
            read_on=self.today(),
            cut_done=classic,
            cut_index=self.index if classic else None,
            remarks=[],
            high_consumption_confirmed=True,
        )

    def report_on_paper(self, r, days):
        """The ARPNT agent's paper report, entered by the reader: it waits for their signature."""
        self.report(r, days, agent=self.staff.arpnt)

    def removal_on_paper(self, r, days):
        services.termination_request_report_removal(
            r,
            actor=self.staff.arpnt,
            agent=self.others[Role.ARPNT],
            index_read=self.index,
            read_on=self.today(),
            cut_done=True,
            remarks=[],
            safety_steps_confirmed=None if r.is_mt else ALL_SAFETY_STEPS,
            seal_number="SC-0001" if r.is_mt else "",
        )

    def agent_sign(self, r, days):
        """The agent named on the report in force signs it (refused when none waits)."""
        report = InterventionReport.objects.filter(
            order__request=r, superseded_at__isnull=True, agent_signed_at__isnull=True
        ).first()
        if report is None:
            raise StepRefused("aucun compte-rendu n'attend la signature de son agent")
        services.termination_request_agent_sign_report(r, actor=report.agent)

    def _open_order(self, r):
        return r.orders.exclude(status="cancelled").order_by("-id").first()

    def failed_visit(self, r, days):
        order = self._open_order(r)
        agent = (
            self.staff.arpnt if order and order.kind in REMOVAL_ORDER_KINDS else self.staff.reader
        )
        services.termination_request_record_failed_visit(
            r, actor=agent, visited_on=self.today(), reason=VisitFailure.ABSENT
        )

    def reschedule(self, r, days):
        order = self._open_order(r)
        actor = (
            self.staff.supervisor
            if order and order.kind in REMOVAL_ORDER_KINDS
            else self.staff.reception
        )
        services.termination_request_reschedule_visit(
            r, actor=actor, due_on=self.today() + dt.timedelta(days=days % 5 + 1)
        )

    def approve(self, r, days):
        services.termination_request_approve_report(r, actor=self.staff.supervisor)

    def send_back_report(self, r, days):
        services.termination_request_send_back_field_report(
            r, actor=self.staff.supervisor, reason="Index à vérifier."
        )

    def invoice(self, r, days):
        validate_invoice(r, actor=self.staff.reception)

    def credit_note(self, r, days):
        services.termination_request_cancel_balance_invoice(
            r, actor=self.staff.supervisor, reason="Erreur de calcul.", shown=credit_shown(r)
        )

    def start(self, r, days):
        """Step 3's order, or step 2's reprise."""
        if r.kind == TerminationKind.WITH_TAKEOVER:
            self.take_over(r, days)
        else:
            self.issue(r, days)

    def take_over(self, r, days):
        take_over(r, self.staff, mutation_index=self.index, mutation_date=self.today())

    def settle(self, r, days):
        invoice = (
            r.invoices.filter(
                kind__in=[InvoiceKind.BALANCE, InvoiceKind.SUBSCRIPTION], state="validated"
            )
            .order_by("id")
            .first()
        )
        if invoice is None:
            raise StepRefused("pas de facture à régler")
        if invoice.balance >= 0:
            services.termination_request_settle(
                invoice, actor=self.staff.cashier, amount=invoice.balance, mode=PaymentMode.CASH
            )
            return
        deposit = Deposit.objects.get(contract=r.contract)
        services.termination_request_settle(
            invoice,
            actor=self.staff.cashier,
            amount=-invoice.balance,
            mode=PaymentMode.TRANSFER,
            reference="VIR-2026-0001",
            beneficiary_id_document_type=deposit.payer_id_document_type,
            beneficiary_id_document_number=deposit.payer_id_document_number,
        )

    def mornings_jobs(self, r, days):
        services.transfer_overdue_balances(self.today())
        services.issue_due_orders(self.today())

    def removal(self, r, days):
        services.termination_request_report_removal(
            r,
            actor=self.staff.arpnt,
            index_read=self.index,
            read_on=self.today(),
            cut_done=True,
            remarks=[],
            safety_steps_confirmed=None if r.is_mt else ALL_SAFETY_STEPS,
            seal_number="SC-0001" if r.is_mt else "",
        )

    def sign_removal(self, r, days):
        services.termination_request_sign_removal(r, actor=self.staff.supervisor)

    def send_back_removal(self, r, days):
        services.termination_request_send_back_removal_report(
            r, actor=self.staff.supervisor, reason="Photo illisible."
        )

    def removal_impossible(self, r, days):
        services.termination_request_declare_removal_impossible(
            r, actor=self.staff.supervisor, reason="Portail fermé à chaque passage."
        )

    def codify(self, r, days):
        confirm_codification(r, actor=self.staff.acff)

    def cancel(self, r, days):
        services.termination_request_cancel(r, actor=self.staff.reception, reason="Désistement.")

    def delay_now(self, r, days):
        self._delay(days, self.today() - dt.timedelta(days=days % 3))

    def delay_later(self, r, days):
        self._delay(days, self.today() + dt.timedelta(days=days % 4 + 1))

    def _delay(self, days, valid_from):
        kind = list(DelayKind)[days % len(DelayKind)]
        Delay.objects.create(kind=kind, days=days, valid_from=valid_from)


REFUSED = (StepRefused, PermissionDenied, ValidationError, IntegrityError, ValueError)


@SETTINGS
@given(case=CASE)
def test_the_stored_deadline_is_the_rule_after_any_history(akpakpa, staff, case):
    now = FROZEN_NOW
    try:
        with time_machine.travel(now, tick=False) as clock, transaction.atomic():
            if case["contract"] == "mt":
                contract = mt_example_contract(akpakpa)
            else:
                contract = worked_example_contract(akpakpa)
                if case["contract"] == "bt_refund":
                    Deposit.objects.filter(contract=contract).update(amount=90000)
            history = History(staff, contract, case["timing"], case["cut_in_days"], case["kind"])
            check_stored_equals_rule()
            for choice, minutes, days in case["steps"]:
                try:
                    with transaction.atomic():
                        history.run(history.pick(choice), days)
                except REFUSED:
                    pass  # not possible now: nothing was written
                check_stored_equals_rule()
                day = timezone.localdate()
                now += dt.timedelta(minutes=minutes)
                clock.move_to(now)
                if timezone.localdate() != day:
                    # The night's task, on each night the clock passed.
                    refresh_all_deadlines(timezone.localdate())
                check_stored_equals_rule()
                if reload(history.request).state in (RequestState.CLOSED, RequestState.CANCELLED):
                    break
            raise Rollback
    except Rollback:
        pass


def test_the_histories_reach_every_state_with_a_delai(akpakpa, staff):
    """The generator is not idle: one fixed history per path goes through each state whose
    délai the rule knows, checking at each step."""
    seen = set()
    paths = [
        (
            "bt",
            Timing.CLASSIC,
            [
                "issue",
                "report",
                "approve",
                "invoice",
                "settle",
                "mornings_jobs",
                "removal",
                "sign_removal",
                "codify",
            ],
        ),
        (
            "bt_refund",
            Timing.ANTICIPATED,
            [
                "issue",
                "report",
                "invoice",
                "settle",
                "mornings_jobs",
                "failed_visit",
                "reschedule",
                "failed_visit",
                "reschedule",
                "failed_visit",
                "removal_impossible",
                "codify",
            ],
        ),
        ("mt", Timing.CLASSIC, ["issue", "report", "approve", "invoice", "settle", "codify"]),
        (
            "bt",
            Timing.CLASSIC,
            ["issue", "report", "approve", "invoice", "delay_now", "mornings_jobs"],
        ),
    ]
    for kind, timing, steps in paths:
        now = FROZEN_NOW
        with time_machine.travel(now, tick=False) as clock, transaction.atomic():
            contract = (
                mt_example_contract(akpakpa) if kind == "mt" else worked_example_contract(akpakpa)
            )
            if kind == "bt_refund":
                Deposit.objects.filter(contract=contract).update(amount=90000)
            history = History(staff, contract, timing, 1)
            for action in steps:
                history.run(action, 5)
                request = reload(history.request)
                seen.add(request.state)
                check_stored_equals_rule()
                if request.deadline is not None:
                    assert request.state != RequestState.RECEIVED
                now += dt.timedelta(days=2)
                clock.move_to(now)
                refresh_all_deadlines(timezone.localdate())
            transaction.set_rollback(True)
    assert {
        RequestState.ORDER_ISSUED,
        RequestState.FIELD_REPORTED,
        RequestState.REPORT_APPROVED,
        RequestState.INVOICED,
        RequestState.SETTLED,
        RequestState.REMOVAL_ORDERED,
        RequestState.METER_REMOVED,
        RequestState.REMOVAL_IMPOSSIBLE,
        RequestState.CLOSED,
    } <= seen, seen


def test_the_histories_reach_every_queue_task(akpakpa, staff):
    """The queue rules are not idle either: fixed histories bring a request to every task of
    the work queues, checking stored = rule at each step."""
    seen = set()
    paths = [
        (
            "bt",
            Timing.CLASSIC,
            [
                "issue_unsigned",
                "sign",
                "reassign",
                "failed_visit",
                "reschedule",
                "report",
                "send_back_report",
                "report_on_paper",
                "agent_sign",
                "approve",
                "invoice",
                "settle",
                "mornings_jobs",
                "reassign",
                "failed_visit",
                "reschedule",
                "removal",
                "send_back_removal",
                "removal_on_paper",
                "agent_sign",
                "sign_removal",
                "codify",
            ],
        ),
        (
            "bt_refund",
            Timing.ANTICIPATED,
            ["issue", "report", "invoice", "settle", "mornings_jobs"]
            + ["failed_visit", "reschedule"] * 2
            + ["failed_visit", "removal_impossible", "codify"],
        ),
        ("mt", Timing.CLASSIC, ["issue", "report", "approve", "invoice", "settle", "codify"]),
        (
            "mt",
            Timing.ANTICIPATED,
            [
                "issue",
                "report",
                "invoice",
                "settle",
                "mornings_jobs",
                "removal",
                "sign_removal",
                "codify",
            ],
        ),
    ]
    for kind, timing, steps in paths:
        now = FROZEN_NOW
        with time_machine.travel(now, tick=False) as clock, transaction.atomic():
            contract = (
                mt_example_contract(akpakpa) if kind == "mt" else worked_example_contract(akpakpa)
            )
            if kind == "bt_refund":
                Deposit.objects.filter(contract=contract).update(amount=90000)
            history = History(staff, contract, timing, 1)
            seen.update(check_stored_equals_rule())
            for action in steps:
                history.run(action, 5)
                seen.update(check_stored_equals_rule())
                now += dt.timedelta(days=2)
                clock.move_to(now)
            assert reload(history.request).queue_task == "", (kind, timing)
            transaction.set_rollback(True)
    assert seen - {""} == {rule.code for rule in QUEUE_RULES}, seen
