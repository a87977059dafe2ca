"""Reads of the procedure: the work queues, what a step page waits for, the nine steps of a
request and its journal in French. Each function fetches what its page needs in a fixed number
of queries."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    F,
    Value,
    When,
)
from django.utils import timezone

from billing.enums import BeneficiaryQuality, InvoiceKind, InvoiceState, SettlementKind
from contracts.enums import (
    RequesterQuality,
    RequestState,
    Role,
    TerminationKind,
    Timing,
)
from contracts.models import (
    TerminationEvent,
    TerminationRequest,
    User,
    closes_after_settlement,
)
from contracts.money import format_fcfa
from contracts.selectors import requests_visible_to
from interventions.enums import (
    AWAITING_AGENT,
    FIELD_ORDER_KINDS,
    REASSIGNABLE,
    REMOVAL_ATTEMPTS_BEFORE_IMPOSSIBLE,
    REMOVAL_ORDER_KINDS,
    OrderStatus,
    Remark,
    VisitFailure,
)
from procedure.queues import QUEUE_RULES, RULES_BY_CODE
from procedure.rules import act_refusal

# --- Délais ----------------------------------------------------------------------------------

# What a request waits for in each state where a délai runs, in French.
WAITING_FOR = {
    RequestState.ORDER_ISSUED: "le compte-rendu d'intervention",
    RequestState.FIELD_REPORTED: "la signature du chef de section",
    RequestState.REPORT_APPROVED: "la facture de solde",
    RequestState.TAKEOVER_INVOICED: "le règlement des factures à la caisse",
    RequestState.INVOICED: "le règlement à la caisse",
    RequestState.REMOVAL_ORDERED: "le compte-rendu de dépose",
    RequestState.METER_REMOVED: "la signature du compte-rendu de dépose, puis la codification",
    RequestState.REMOVAL_IMPOSSIBLE: "la codification par l'ACFF",
    RequestState.SETTLED: "la codification par l'ACFF",
}


WAITING_FOR_MT = {
    RequestState.REMOVAL_ORDERED: "le compte-rendu de coupure définitive",
    RequestState.METER_REMOVED: (
        "la signature du compte-rendu de coupure définitive, puis la codification"
    ),
}


def with_deadline(requests):
    """Annotate each request with `late`: whether the délai that runs in its state (its stored
    `deadline`, procedure/deadlines.py) has passed."""
    return requests.annotate(
        late=Case(
            When(deadline__lt=Value(timezone.now()), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


@dataclass(frozen=True)
class Waiting:
    """What a request waits for, since when, and until when its délai runs."""

    what: str
    since: dt.datetime
    deadline: dt.datetime | None
    late: bool


def waiting(request: TerminationRequest, today: dt.date) -> Waiting | None:
    """What the request's page says it waits for; None once it is closed."""
    if request.state in (RequestState.CLOSED, RequestState.CANCELLED):
        return None
    deadline = request.deadline
    late = deadline is not None and deadline < timezone.now()
    what = WAITING_FOR.get(request.state, "l'étape suivante")
    if request.is_mt:  # an MT meter is never removed: its final interruption instead
        what = WAITING_FOR_MT.get(request.state, what)
    if request.state == RequestState.SETTLED and deadline is None:
        order = "l'ordre de coupure définitive" if request.is_mt else "l'ordre de dépose"
        what = f"{order}, émis à la date de résiliation"
    return Waiting(what, request.state_since, deadline, late)


# --- Work queues -----------------------------------------------------------------------------


# What a queue row shows: a queue is read many times a day, its rows are read as bare values.
QUEUE_COLUMNS = [
    "pk",
    "kind",
    "timing",
    "state_since",
    "deadline",
    "late",
    "queue_task",
    "contract__number",
    "contract__customer__name",
    "contract__tariff_category__code",
    "queue_agent__first_name",
    "queue_agent__last_name",
    "queue_agent__username",
]
QUEUE_LIMIT = 50  # the most urgent first; a longer queue is worked from its head
TIMING_CHOICES = dict(Timing.choices)


@dataclass(frozen=True)
class QueueItem:
    request_id: int
    task: str  # what the user is to do, in French
    url_name: str  # the page where it is done
    age_days: int
    contract_number: str
    customer_name: str
    kind: str  # "Sans reprise, classique · BT1"
    agent: str  # the agent of the order its field work is about
    late_since: dt.datetime | None  # when its délai ended, if it has (these come first)


def _queue_item(row: dict, today: dt.date) -> QueueItem:
    rule = RULES_BY_CODE[row["queue_task"]]
    kind = KIND_LABELS.get(row["kind"], row["kind"])
    if row["timing"]:
        kind += f", {TIMING_CHOICES.get(row['timing'], row['timing']).lower()}"
    agent = " ".join(
        n for n in (row["queue_agent__first_name"], row["queue_agent__last_name"]) if n
    )
    return QueueItem(
        request_id=row["pk"],
        task=rule.task,
        url_name=rule.url_name,
        age_days=(today - timezone.localtime(row["state_since"]).date()).days,
        contract_number=row["contract__number"],
        customer_name=row["contract__customer__name"],
        kind=f"{kind} · {row['contract__tariff_category__code']}",
        agent=agent or row["queue_agent__username"] or "",
        late_since=row["deadline"] if row["late"] else None,
    )


def work_queue(user: User, today: dt.date) -> list[QueueItem]:
    """Ma corbeille: what waits for this user in the agency, the most urgent first: the most
    overdue, then those whose délai ends soonest (the stored deadline), then the requests
    without a délai, oldest first. Age is counted from the last step done on the request.

    Each request keeps the task it waits for (procedure/queues.py). One statement reads the
    head of each of the user's tasks (for anyone of the role, and for the user's own orders):
    each the head of an (agency, task, agent, deadline, state since) index, so a queue costs
    the same at 200 or 200 000 requests; a second reads the 50 most urgent rows' columns."""
    rules = [rule for rule in QUEUE_RULES if user.roles & set(rule.roles)]
    if not rules:
        return []
    requests = requests_visible_to(user)
    heads = [requests.filter(queue_task=rule.code, queue_holder__isnull=True) for rule in rules]
    heads += [
        requests.filter(queue_task=rule.code, queue_holder=user) for rule in rules if rule.mine
    ]
    heads = [
        head.order_by(F("deadline").asc(nulls_last=True), "state_since", "id").values_list(
            "pk", "deadline", "state_since"
        )[:QUEUE_LIMIT]
        for head in heads
    ]
    rows = heads[0].union(*heads[1:], all=True) if len(heads) > 1 else heads[0]
    urgency = {pk: (deadline is None, deadline or since, since, pk) for pk, deadline, since in rows}
    shown = sorted(urgency, key=urgency.__getitem__)[:QUEUE_LIMIT]
    rows = {
        row["pk"]: row
        for row in with_deadline(TerminationRequest.objects.filter(pk__in=shown)).values(
            *QUEUE_COLUMNS
        )
    }
    return [_queue_item(rows[pk], today) for pk in shown]


# --- What a step page waits for --------------------------------------------------------------

NOT_SIGNED_YET = "L'ordre attend la signature du demandeur (accueil) avant d'être exécuté."
ALREADY_SIGNED_BY_REQUESTER = "Le demandeur a déjà signé l'ordre {order}."
NO_FAILED_VISIT = "Aucune visite infructueuse n'attend une nouvelle date sur l'ordre {order}."
WAITING_NEW_DATE = (
    "Visite infructueuse enregistrée : l'ordre {order} attend une nouvelle date d'exécution."
)
TOO_FEW_VISITS = (
    "L'intervention ne peut être déclarée impossible qu'après {needed} visites infructueuses "
    "({done} à ce jour)."
)
REMOVAL_SIGNED_ALREADY = "Le compte-rendu est déjà signé : il attend la codification de l'ACFF."
AGENT_SIGNATURE_AWAITED = (
    "Le compte-rendu, saisi d'après l'ordre papier par {entered_by}, attend d'abord la signature "
    "de {agent}, l'agent de l'intervention."
)
NO_AGENT_SIGNATURE_AWAITED = (
    "Le compte-rendu de l'ordre {order} n'attend pas la signature de l'agent."
)
REMOVAL_NOT_SIGNED = "Le compte-rendu doit d'abord être signé par le responsable."
ORDER_MISSING = (
    "L'ordre d'intervention de cette demande est introuvable : rien ne peut être fait sur cette "
    "page. Signalez-le à l'administrateur DCC."
)
ORDER_CLOSED = "L'ordre {order} n'est plus ouvert : il est « {status} »."
CREDIT_NOTE_TOO_LATE = (
    "Une facture de cette demande est déjà réglée : plus d'avoir ici, la correction passe par "
    "l'apurement du compte client."
)
NO_REFUND_WAITING = "Aucun remboursement n'attend sur cette demande."


def why_not(request: TerminationRequest, page: str) -> str | None:
    """Why the step page cannot act on this request now, in French; None when it can. Its
    state and the machine's conditions first (procedure/rules.py), then what the machine does
    not know: the orders and the invoices. The service checks again, under lock, when the form
    is sent."""
    if refusal := act_refusal(request, page):  # the state and the machine's conditions
        return refusal
    orders = list(request.orders.all())
    field_order = next((o for o in orders if o.kind in FIELD_ORDER_KINDS), None)
    removal_order = next((o for o in orders if o.kind in REMOVAL_ORDER_KINDS), None)
    order = removal_order if request.state == RequestState.REMOVAL_ORDERED else field_order
    needed = {
        "request_signature": field_order,
        "request_field_report": order,
        "request_removal_report": order,
        "request_reschedule": order,
        "request_removal_impossible": order,
        "request_reassign": order,
        "request_sign_removal": removal_order,
        "request_approve_report": field_order,
        "request_agent_sign": removal_order
        if request.state == RequestState.METER_REMOVED
        else field_order,
    }
    if page in needed and needed[page] is None:
        # A request brought into a state without its order (by hand in the database, a
        # migration from elsewhere): the page says so instead of failing.
        return ORDER_MISSING
    confirming_removal = page == "request_confirm" and request.state == RequestState.METER_REMOVED
    if confirming_removal and removal_order is None:
        return ORDER_MISSING
    if page == "request_signature":
        if field_order.is_signed_by_requester:
            return ALREADY_SIGNED_BY_REQUESTER.format(order=field_order.number)
        if field_order.status != OrderStatus.ISSUED:
            return WAITING_NEW_DATE.format(order=field_order.number)
    elif page in ("request_field_report", "request_removal_report"):
        if order.status == OrderStatus.VISIT_FAILED:
            return WAITING_NEW_DATE.format(order=order.number)
        if order.status not in AWAITING_AGENT:
            return ORDER_CLOSED.format(order=order.number, status=order.get_status_display())
        if order.is_field_order and not order.is_signed_by_requester:
            return NOT_SIGNED_YET
    elif page == "request_reschedule":
        if order.status != OrderStatus.VISIT_FAILED:
            return NO_FAILED_VISIT.format(order=order.number)
    elif page == "request_removal_impossible":
        done = len(order.attempts.all())
        if order.status != OrderStatus.VISIT_FAILED or done < REMOVAL_ATTEMPTS_BEFORE_IMPOSSIBLE:
            return TOO_FEW_VISITS.format(needed=REMOVAL_ATTEMPTS_BEFORE_IMPOSSIBLE, done=done)
    elif page == "request_reassign":
        if order.status not in REASSIGNABLE:
            return ORDER_CLOSED.format(order=order.number, status=order.get_status_display())
    elif page in ("request_sign_removal", "request_approve_report"):
        signing = needed[page]
        if signing.status == OrderStatus.SIGNED:
            return REMOVAL_SIGNED_ALREADY
    elif page == "request_agent_sign":
        if needed[page].status != OrderStatus.UNSIGNED:
            return NO_AGENT_SIGNATURE_AWAITED.format(order=needed[page].number)
    elif page == "request_credit_note":
        if (
            request.invoices.filter(state=InvoiceState.SETTLED, request=request)
            .exclude(kind=InvoiceKind.COMPLEMENTARY)
            .exists()
        ):
            return CREDIT_NOTE_TOO_LATE
    elif page == "request_refund_authorisation":
        if not request.invoices.filter(state=InvoiceState.VALIDATED, balance__lt=0).exists():
            return NO_REFUND_WAITING
    elif confirming_removal and removal_order.status != OrderStatus.SIGNED:
        return REMOVAL_NOT_SIGNED
    return None


# --- The nine steps --------------------------------------------------------------------------

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
# An MT meter is never removed: steps 8 and 9 are its final interruption.
MT_STEP_TITLES = {8: "Coupure définitive", 9: "Compte-rendu de coupure définitive"}


def step_title(request: TerminationRequest, number: int) -> str:
    if request.is_mt and number in MT_STEP_TITLES:
        return MT_STEP_TITLES[number]
    return STEP_TITLES[number]


@dataclass(frozen=True)
class JournalLine:
    at: dt.datetime
    step: int
    who: str  # full name and role, or "système"
    text: str  # what happened, in French


@dataclass(frozen=True)
class TimelineStep:
    number: int
    title: str
    status: str  # done, current, todo, not_applicable
    lines: list[JournalLine]


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
    RequestState.REMOVAL_IMPOSSIBLE: 9,
}


def current_step(request: TerminationRequest) -> int | None:
    if request.state in (RequestState.CLOSED, RequestState.CANCELLED):
        return None
    if request.state == RequestState.ORDER_ISSUED:
        field_order = next((o for o in request.orders.all() if o.is_field_order), None)
        if field_order is not None and not field_order.is_signed_by_requester:
            return 3  # the requester has not signed the printed order yet
    if request.state == RequestState.SETTLED and closes_after_settlement(request):
        return 9
    return CURRENT_STEP.get(request.state)


def timeline(request: TerminationRequest, journal: list[JournalLine]) -> list[TimelineStep]:
    """The procedure's nine steps for this request: done (who did what, when), current, to
    come, or not applicable (reprise skips 3 to 6 and 8-9; without reprise skips 2; MT classic
    skips 8). Prints are not steps: they are listed apart."""
    not_applicable = set()
    if request.kind == TerminationKind.WITH_TAKEOVER:
        not_applicable |= {3, 4, 5, 6, 8, 9}
    else:
        not_applicable.add(2)
        if request.timing and closes_after_settlement(request):
            not_applicable.add(8)
    by_step: dict[int, list[JournalLine]] = {}
    for line in journal:
        by_step.setdefault(line.step, []).append(line)
    current = current_step(request)
    steps = []
    for number in STEP_TITLES:
        if number in not_applicable:
            status = "not_applicable"
        elif number == current:
            status = "current"
        elif number in by_step:
            status = "done"
        else:
            status = "todo"
        steps.append(
            TimelineStep(number, step_title(request, number), status, by_step.get(number, []))
        )
    return steps


# --- The journal, in French ------------------------------------------------------------------

ROLE_LABELS = dict(Role.choices)
KIND_LABELS = dict(TerminationKind.choices)
QUALITY_LABELS = dict(RequesterQuality.choices)
TIMING_LABELS = {Timing.CLASSIC: "résiliation classique", Timing.ANTICIPATED: "anticipée"}
REASON_LABELS = dict(VisitFailure.choices)
REMARK_LABELS = dict(Remark.choices)
SETTLEMENT_LABELS = dict(SettlementKind.choices)
QUALITY_REFUND = dict(BeneficiaryQuality.choices)


def _date(value: str | None) -> str:
    if not value:
        return ""
    return dt.date.fromisoformat(value).strftime("%d/%m/%Y")


def _remarks(data: dict) -> str:
    remarks = [REMARK_LABELS.get(r, r) for r in data.get("remarks") or []]
    return f" ; remarques : {', '.join(remarks).lower()}" if remarks else ""


def _balance_words(balance: int) -> str:
    if balance > 0:
        return f"{format_fcfa(balance)} à payer"
    if balance < 0:
        return f"{format_fcfa(-balance)} à rembourser"
    return "solde nul"


def _settled(d: dict) -> str:
    kind = SETTLEMENT_LABELS.get(d.get("kind"), "Règlement")
    return (
        f"Facture {d.get('invoice')} réglée : {kind.lower()} de {format_fcfa(d.get('amount', 0))}, "
        f"reçu {d.get('receipt')}"
    )


LANGUAGE_LABELS = {"fr": "français", "en": "anglais"}

# Each event's action in a word or two, for the lists and exports (the journal says more).
ACTION_LABELS = {
    "create": "Demande enregistrée",
    "take_over": "Reprise par un successeur",
    "takeover_invoiced": "Factures de la reprise validées",
    "issue_order": "Ordre d'interruption émis",
    "requester_signed": "Ordre signé par le demandeur",
    "sms_choice": "Choix du demandeur pour les SMS",
    "visit_failed": "Visite infructueuse",
    "visit_rescheduled": "Nouvelle date d'exécution",
    "order_reassigned": "Ordre réaffecté",
    "field_conflict": "Compte-rendu du terrain en conflit",
    "field_conflict_reviewed": "Conflit du terrain examiné",
    "field_visit": "Intervention sur place",
    "report_field": "Compte-rendu d'intervention saisi",
    "agent_sign_report": "Compte-rendu signé par l'agent de l'intervention",
    "approve_report": "Compte-rendu contrôlé et signé",
    "send_back_field_report": "Compte-rendu renvoyé pour correction",
    "send_back_removal_report": "Compte-rendu de dépose renvoyé pour correction",
    "invoice": "Facture de solde validée",
    "settle": "Règlement (demande soldée)",
    "settle_invoice": "Règlement d'une facture",
    "close_takeover": "Reprise terminée",
    "order_removal": "Ordre de dépose émis (système)",
    "removal_visit": "Dépose ou coupure définitive effectuée",
    "report_removal": "Compte-rendu de dépose saisi",
    "sign_removal_report": "Compte-rendu de dépose contrôlé et signé",
    "declare_removal_impossible": "Dépose déclarée impossible",
    "confirm_codification": "Codification confirmée",
    "confirm_codification_without_removal": "Codification confirmée (sans dépose)",
    "cancel_balance_invoice": "Facture de solde annulée par avoir",
    "cancel_balance_invoice_and_send_back": "Facture annulée par avoir, compte-rendu renvoyé",
    "cancel_takeover_invoices": "Factures de la reprise annulées par avoirs",
    "refund_authorised": "Remboursement autorisé à un tiers",
    "transfer_to_recovery": "Solde transféré au recouvrement",
    "leave_refund_as_credit": "Remboursement laissé au crédit du compte",
    "cancel": "Demande annulée",
}


def _authored(d: dict) -> str:
    """Who did the work and signed, or who entered the report for them (older events: none)."""
    if not d.get("agent"):
        return ""
    if d.get("entered_by"):
        waits = "" if d.get("agent_signed") else ", sa signature attendue"
        return f" ; saisi par {d['entered_by']} d'après l'ordre papier de {d['agent']}{waits}"
    via = " depuis son téléphone" if d.get("signed_via") == "phone" else ""
    return f" ; signé{via} par l'agent, {d['agent']}"


def describe(event: TerminationEvent, request: TerminationRequest) -> str:
    """One event of the request, as a sentence an agent reads."""
    d = event.data or {}
    mt = request.is_mt
    order = d.get("order", "")
    match event.action:
        case "create":
            return (
                f"Demande enregistrée ({KIND_LABELS.get(d.get('kind'), '').lower()}) : demandeur "
                f"{d.get('requester')}, {QUALITY_LABELS.get(d.get('quality'), '').lower()}"
            )
        case "take_over":
            chosen = ""
            if d.get("tariff_category"):
                chosen = (
                    f" ; contrat du successeur en {d['tariff_category']}, "
                    f"{d.get('subscribed_power_kva')} kVA"
                    + (" (choisis à la reprise)" if d.get("contract_changed") else "")
                )
            return (
                f"Reprise au profit de {d.get('successor')}, index de mutation "
                f"{d.get('mutation_index')} kWh{chosen}"
            )
        case "takeover_invoiced":
            return (
                f"Factures validées : {d.get('balance_invoice')} (solde du titulaire) et "
                f"{d.get('subscription_invoice')} (abonnement du successeur) ; contrat du "
                f"successeur {d.get('successor_contract')} ouvert"
            )
        case "issue_order":
            text = (
                f"Ordre {order} émis ({TIMING_LABELS.get(d.get('timing'), '')}, coupure le "
                f"{_date(d.get('cut_date'))})"
            )
            return text + (f", confié à {d['assignee']}" if d.get("assignee") else "")
        case "requester_signed":
            how = "à l'écran" if d.get("drawn") else "sur l'ordre imprimé"
            return f"Ordre {order} signé par le demandeur {how} ({d.get('requester')})"
        case "sms_choice":
            if d.get("opted_out"):
                return "Le demandeur ne souhaite plus recevoir de SMS"
            return f"SMS du demandeur en {LANGUAGE_LABELS.get(d.get('language'), '?')}"
        case "visit_failed":
            reason = REASON_LABELS.get(d.get("reason"), d.get("reason", ""))
            detail = f" : {d['reason_detail']}" if d.get("reason_detail") else ""
            return (
                f"Visite infructueuse le {_date(d.get('visited_on'))} ({reason.lower()}{detail}),"
                f" tentative n° {d.get('attempt')} sur l'ordre {order}"
            )
        case "visit_rescheduled":
            return f"Nouvelle date d'exécution de l'ordre {order} : le {_date(d.get('due_on'))}"
        case "order_reassigned":
            before = f" (au lieu de {d['from']})" if d.get("from") else ""
            return f"Ordre {order} confié à {d.get('to')}{before}"
        case "field_conflict":
            return f"Compte-rendu du terrain en conflit sur l'ordre {order} : {d.get('message')}"
        case "field_conflict_reviewed":
            return f"Conflit du terrain sur l'ordre {order} examiné : {d.get('note')}"
        case "field_visit":
            cut = " : coupure effectuée" if d.get("cut_done") else " : relève de l'index"
            return f"Intervention sur place le {_date(d.get('visited_on'))}{cut}"
        case "report_field":
            corrected = " corrigé" if d.get("corrected") else ""
            index = f"index relevé {d.get('index_read', d.get('index'))}"
            if d.get("cut_done"):
                index += f", index de coupure {d.get('index')}"
            return (
                f"Compte-rendu{corrected} saisi : {index}, consommation {d.get('consumption')} "
                f"kWh{_remarks(d)}{_authored(d)}"
            )
        case "agent_sign_report":
            via = " depuis son téléphone" if d.get("signed_via") == "phone" else ""
            return (
                f"Compte-rendu de l'ordre {order} signé{via} par l'agent de l'intervention, "
                f"{d.get('agent')}"
            )
        case "approve_report":
            filed = " ; ordre classé" if d.get("filed") else ""
            return f"Ordre de coupure {order} contrôlé et signé{filed}"
        case "send_back_field_report" | "send_back_removal_report":
            return f"Compte-rendu renvoyé pour correction : {d.get('reason')}"
        case "invoice":
            return (
                f"Facture de solde {d.get('invoice')} validée : total "
                f"{format_fcfa(d.get('total', 0))}, {_balance_words(d.get('balance', 0))}"
            )
        case "settle" | "settle_invoice":
            return _settled(d)
        case "close_takeover":
            attestation = f" ; attestation {d['attestation']}" if d.get("attestation") else ""
            return f"{_settled(d)} ; reprise terminée{attestation}"
        case "order_removal":
            what = "de coupure définitive" if mt else "de dépose"
            return f"Ordre {what} {order} émis par le système à la date de coupure"
        case "removal_visit":
            what = "Coupure définitive effectuée" if mt else "Compteur déposé"
            return f"{what} le {_date(d.get('visited_on'))}"
        case "report_removal":
            corrected = " corrigé" if d.get("corrected") else ""
            what = "de coupure définitive" if mt else "de dépose"
            seal = f", scellé n° {d['seal_number']}" if d.get("seal_number") else ""
            return (
                f"Compte-rendu {what}{corrected} saisi : index {d.get('index')}{seal}"
                f"{_remarks(d)}{_authored(d)}"
            )
        case "sign_removal_report":
            return f"Compte-rendu de l'ordre {order} contrôlé et signé"
        case "declare_removal_impossible":
            what = "Coupure définitive" if mt else "Dépose"
            return (
                f"{what} déclarée impossible après {d.get('attempts')} visites infructueuses : "
                f"{d.get('reason')} ; coupure au branchement"
            )
        case "confirm_codification" | "confirm_codification_without_removal":
            parts = ["Codification confirmée : contrat résilié, point de livraison libéré"]
            if d.get("complementary_invoice"):
                parts.append(f"facture complémentaire {d['complementary_invoice']}")
            if d.get("attestation"):
                parts.append(f"attestation {d['attestation']}")
            return " ; ".join(parts)
        case "cancel_balance_invoice" | "cancel_balance_invoice_and_send_back":
            back = (
                " ; compte-rendu renvoyé à l'agent"
                if event.action.endswith("send_back")
                else " ; nouvelle facture de solde à établir"
            )
            return (
                f"Facture {d.get('invoice')} annulée par l'avoir {d.get('credit_note')} : "
                f"{d.get('reason')}{back}"
            )
        case "cancel_takeover_invoices":
            return (
                f"Factures {', '.join(d.get('invoices', []))} annulées par les avoirs "
                f"{', '.join(d.get('credit_notes', []))} : {d.get('reason')} ; reprise rouverte"
            )
        case "refund_authorised":
            return (
                f"Remboursement de la facture {d.get('invoice')} autorisé à "
                f"{d.get('beneficiary')} ({QUALITY_REFUND.get(d.get('quality'), '').lower()}, "
                f"justificatif {d.get('proof')})"
            )
        case "transfer_to_recovery" | "leave_refund_as_credit":
            what = (
                "remboursement non réclamé laissé au crédit du compte"
                if event.action == "leave_refund_as_credit"
                else "solde non réglé transféré au recouvrement"
            )
            return (
                f"Facture {d.get('invoice')} : {what} ({format_fcfa(d.get('amount', 0))}, "
                f"après {d.get('delay')} jours) ; listé pour l'apurement du compte"
            )
        case "cancel":
            return f"Demande annulée : {d.get('reason')}"
    return event.action


def journal(request: TerminationRequest, events: list[TerminationEvent]) -> list[JournalLine]:
    lines = []
    for event in events:
        if event.actor is None:
            who = "Système (automatique)"
        else:
            name = event.actor.display_name
            role = ROLE_LABELS.get(event.actor_role)
            who = f"{name} ({role})" if role else name
        lines.append(JournalLine(event.at, event.step, who, describe(event, request)))
    return lines
