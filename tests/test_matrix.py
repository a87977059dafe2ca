"""Who may do what, over HTTP (DESIGN §3 and §11): every action of the procedure, of the cash
desk, of the documents and of the admin, tried by every role of the agency and by the right role
of another agency, with the data that the right person sends. Only the right person succeeds;
everyone else is refused (403, or 404 for another agency) and nothing is written. Then the
separation of duties: one person holding both roles of a pair is refused the second half."""

import datetime as dt
import uuid

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.rules import SOD_REPORT, SOD_SETTLE
from billing import services as billing
from billing.enums import DocumentKind, DocumentStatus
from billing.models import (
    AccountEntry,
    CashClosing,
    CreditNote,
    Document,
    DocumentPrint,
    Invoice,
    RefundAuthorisation,
    Settlement,
)
from contracts.enums import RequestState, Role, TerminationKind, Timing
from contracts.models import Deposit, TerminationEvent, TerminationRequest, User
from interventions.models import InterventionReport, VisitAttempt
from procedure import services
from tests.factories import UserFactory
from tests.workflow import (
    TODAY,
    advance,
    close_cash_desk,
    confirm_codification,
    create,
    credit_shown,
    refund_shown,
    reload,
    validate_invoice,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

DAY = TODAY.isoformat()
HEIR = {
    "beneficiary_name": "HOUNKPATIN Afi",
    "beneficiary_id_document_type": "cni",
    "beneficiary_id_document_number": "3344556677",
    "quality": "heir",
    "proof_reference": "Acte 118",
    "confirm": "on",
}


def snapshot():
    """Everything an action could write."""
    return (
        TerminationEvent.objects.count(),
        tuple(TerminationRequest.objects.order_by("id").values_list("state", flat=True)),
        Settlement.objects.count(),
        AccountEntry.objects.count(),
        CreditNote.objects.count(),
        RefundAuthorisation.objects.count(),
        DocumentPrint.objects.count(),
        CashClosing.objects.filter(countersigned_at__isnull=False).count(),
        CashClosing.objects.count(),
        InterventionReport.objects.count(),
        VisitAttempt.objects.count(),
        Invoice.objects.count(),
        tuple(User.objects.order_by("id").values_list("groups__name", flat=True)),
        Document.objects.filter(status=DocumentStatus.READY).count(),
    )


def request_in(state_or_situation, akpakpa, staff, kind=TerminationKind.WITHOUT_TAKEOVER):
    contract = worked_example_contract(akpakpa)
    match state_or_situation:
        case "unsigned":
            request = create(contract, staff)
            services.termination_request_issue_order(
                request, actor=staff.reception, timing=Timing.CLASSIC, cut_date=None
            )
        case "printed_unsigned":
            from billing.documents import document_issue
            from billing.services import document_print_record

            request = create(contract, staff)
            services.termination_request_issue_order(
                request, actor=staff.reception, timing=Timing.CLASSIC, cut_date=None
            )
            document = document_issue(DocumentKind.ORDER, request.orders.get().pk)
            document_print_record(document, actor=staff.reception)
        case "visit_failed":
            request = advance(create(contract, staff), staff, RequestState.ORDER_ISSUED)
            services.termination_request_record_failed_visit(
                request, actor=staff.reader, visited_on=TODAY, reason="absent"
            )
        case "removal_failed_three_times":
            request = advance(create(contract, staff), staff, RequestState.REMOVAL_ORDERED)
            for n in range(3):
                services.termination_request_record_failed_visit(
                    reload(request), actor=staff.arpnt, visited_on=TODAY, reason="absent"
                )
                if n < 2:
                    services.termination_request_reschedule_visit(
                        reload(request), actor=staff.supervisor, due_on=TODAY
                    )
        case "refund":
            Deposit.objects.filter(contract=contract).update(amount=90000)
            request = advance(create(contract, staff), staff, RequestState.INVOICED)
        case "takeover":
            request = create(contract, staff, kind=TerminationKind.WITH_TAKEOVER)
        case "removal_signed":
            request = advance(create(contract, staff), staff, RequestState.METER_REMOVED)
            services.termination_request_sign_removal(request, actor=staff.supervisor)
        case state:
            request = advance(create(contract, staff), staff, state)
    return reload(request)


def balance(request):
    return request.invoices.get(kind="balance")


def a_failed_document(request):
    """An order whose rendering failed: "Régénérer" is offered."""
    order = request.orders.get()
    Document.objects.filter(order=order).update(
        status=DocumentStatus.TO_REGENERATE, error="OSError: disque plein"
    )
    return Document.objects.get(order=order)


def a_closing(staff):

    return close_cash_desk(staff.cashier, TODAY)


def an_issued_order_document(request):
    from billing.documents import document_issue

    return document_issue(DocumentKind.ORDER, request.orders.get().pk)


def take_over_validation(akpakpa, staff):
    """Step 2's validation, as sent after the preview (with its digest)."""
    request = request_in("takeover", akpakpa, staff)
    successor = {
        "name": "AGBO Rémi",
        "id_document_type": "cni",
        "id_document_number": "9988776655",
        "phone": "01 96 00 00 01",
        "address": "Akpakpa, rue 12",
    }
    preview = services.termination_request_preview_take_over(
        request,
        actor=staff.reception,
        successor=successor,
        mutation_index=12300,
        mutation_date=TODAY,
        rollover_confirmed=False,
        high_consumption_confirmed=False,
    )
    return reverse("request_take_over", args=[request.pk]), {
        "action": "validate",
        **{f"successor_{k}": v for k, v in successor.items()},
        "mutation_index": 12300,
        "mutation_date": DAY,
        "preview_digest": preview.digest,
        "confirm": "on",
    }


EMPTY_DAY = {"movements": [], "per_mode": {}, "collected": 0, "refunded": 0, "advances": 0}

# action: (allowed roles, how to set the scene -> (url, data))
ACTIONS = {
    "request_create": (
        [Role.RECEPTION],
        lambda a, s: (
            reverse("request_create", args=[worked_example_contract(a).number]),
            {
                "kind": "without_takeover",
                "requester_quality": "holder",
                "requester_name": "HOUNKPATIN Kossi",
                "requester_id_document_type": "cni",
                "requester_id_document_number": "1234567890",
                "requester_phone": "01 97 12 34 56",
            },
        ),
    ),
    "request_take_over": ([Role.RECEPTION], lambda a, s: take_over_validation(a, s)),
    "request_issue_order": (
        [Role.RECEPTION],
        lambda a, s: (
            reverse("request_issue_order", args=[request_in(RequestState.RECEIVED, a, s).pk]),
            {"action": "issue", "timing": "classic", "assignee": s.reader.pk},
        ),
    ),
    "request_signature": (
        [Role.RECEPTION],
        lambda a, s: (
            reverse("request_signature", args=[request_in("printed_unsigned", a, s).pk]),
            {"action": "sign", "confirm": "on"},
        ),
    ),
    "request_reschedule": (
        [Role.RECEPTION],
        lambda a, s: (
            reverse("request_reschedule", args=[request_in("visit_failed", a, s).pk]),
            {"action": "reschedule", "due_on": (TODAY + dt.timedelta(days=2)).isoformat()},
        ),
    ),
    "request_reassign": (
        [Role.SUPERVISOR, Role.MANAGER],
        lambda a, s: (
            reverse("request_reassign", args=[request_in(RequestState.ORDER_ISSUED, a, s).pk]),
            {
                "action": "reassign",
                "assignee": UserFactory(username="akp.releve2", agency=a, roles=[Role.READER]).pk,
            },
        ),
    ),
    "request_field_report": (
        [Role.READER, Role.ARPNT],  # step 5 names both
        lambda a, s: (
            reverse("request_field_report", args=[request_in(RequestState.ORDER_ISSUED, a, s).pk]),
            {
                "action": "report",
                "index_read": 12300,
                "read_on": DAY,
                "cut_done": "on",
                "cut_index": 12300,
                "confirm": "on",
            },
        ),
    ),
    "request_approve_report": (
        [Role.SUPERVISOR],
        lambda a, s: (
            reverse(
                "request_approve_report",
                args=[request_in(RequestState.FIELD_REPORTED, a, s).pk],
            ),
            {"action": "sign", "confirm": "on"},
        ),
    ),
    "request_invoice": (
        [Role.RECEPTION],
        lambda a, s: (
            reverse("request_invoice", args=[request_in(RequestState.REPORT_APPROVED, a, s).pk]),
            {"action": "compute"},
        ),
    ),
    "invoice_settle": (
        [Role.CASHIER],
        lambda a, s: (
            reverse("invoice_settle", args=[balance(request_in(RequestState.INVOICED, a, s)).pk]),
            {
                "amount": 26417,
                "mode": "cash",
                "confirm": "on",
                "idempotency_key": str(uuid.uuid4()),
            },
        ),
    ),
    "request_credit_note": (
        [Role.SUPERVISOR],
        lambda a, s: (
            reverse(
                "request_credit_note", args=[(r := request_in(RequestState.INVOICED, a, s)).pk]
            ),
            {
                "action": "credit_note",
                "reason": "Index mal lu",
                "confirm": "on",
                "shown": credit_shown(r),
            },
        ),
    ),
    "request_refund_authorisation": (
        [Role.SUPERVISOR],
        lambda a, s: (
            reverse("request_refund_authorisation", args=[(r := request_in("refund", a, s)).pk]),
            {"action": "authorise", "shown": refund_shown(r.invoices.get(kind="balance")), **HEIR},
        ),
    ),
    "request_removal_report": (
        [Role.ARPNT],
        lambda a, s: (
            reverse(
                "request_removal_report", args=[request_in(RequestState.REMOVAL_ORDERED, a, s).pk]
            ),
            {
                "action": "report",
                "index_read": 12300,
                "read_on": DAY,
                "confirm": "on",
                "cut_done": "on",
                "safety_steps_confirmed": [str(n) for n in range(1, 9)],
            },
        ),
    ),
    "request_sign_removal": (
        [Role.SUPERVISOR],
        lambda a, s: (
            reverse("request_sign_removal", args=[request_in(RequestState.METER_REMOVED, a, s).pk]),
            {"action": "sign", "confirm": "on"},
        ),
    ),
    "request_removal_impossible": (
        [Role.SUPERVISOR],
        lambda a, s: (
            reverse(
                "request_removal_impossible",
                args=[request_in("removal_failed_three_times", a, s).pk],
            ),
            {"action": "impossible", "reason": "Compteur emmuré", "confirm": "on"},
        ),
    ),
    "request_confirm": (
        [Role.ACFF],
        lambda a, s: (
            reverse("request_confirm", args=[request_in("removal_signed", a, s).pk]),
            {"action": "confirm", "confirm": "on"},
        ),
    ),
    "request_cancel": (
        [Role.RECEPTION],
        lambda a, s: (
            reverse("request_cancel", args=[request_in(RequestState.RECEIVED, a, s).pk]),
            {"action": "cancel", "reason": "Le client renonce", "confirm": "on"},
        ),
    ),
    "advance_record": (
        [Role.CASHIER],
        lambda a, s: (
            reverse("advance_record", args=[worked_example_contract(a).number]),
            {
                "amount": 5000,
                "mode": "cash",
                "confirm": "on",
                "idempotency_key": str(uuid.uuid4()),
            },
        ),
    ),
    "cash_closing_new": (
        [Role.CASHIER],
        # The right cashier is a new one: the totals shown are those of an empty day.
        lambda a, s: (
            reverse("cash_closing_new"),
            {"confirm": "on", "shown": billing.cash_totals_digest(EMPTY_DAY)},
        ),
    ),
    "cash_closing_countersign": (
        [Role.SUPERVISOR],
        lambda a, s: (reverse("cash_closing", args=[a_closing(s).pk]), {"confirm": "on"}),
    ),
    "document_print": (
        [Role.RECEPTION, Role.READER, Role.SUPERVISOR, Role.CASHIER, Role.ARPNT, Role.ACFF],
        lambda a, s: (
            reverse(
                "document_print",
                args=[an_issued_order_document(request_in(RequestState.ORDER_ISSUED, a, s)).pk],
            ),
            {},
        ),
    ),
    "document_regenerate": (
        [Role.RECEPTION, Role.SUPERVISOR],
        lambda a, s: (
            reverse(
                "document_regenerate",
                args=[a_failed_document(request_in("unsigned", a, s)).pk],
            ),
            {},
        ),
    ),
    "admin_user_roles": (
        [Role.ADMIN],
        lambda a, s: (
            reverse("admin:contracts_user_change", args=[s.reader.pk]),
            {
                "username": s.reader.username,
                "last_name": "",
                "first_name": "",
                "email": "",
                "agency": a.pk,
                "groups": [Group.objects.get(name=Role.ARPNT).pk],
                "is_active": "on",
            },
        ),
    ),
}


def person(agency, role, prefix):
    return UserFactory(username=f"{prefix}-{role}", agency=agency, roles=[role])


@pytest.mark.parametrize("action", ACTIONS)
def test_only_the_right_role_of_the_right_agency_succeeds(action, akpakpa, parakou, staff, client):
    allowed, scene = ACTIONS[action]
    url, data = scene(akpakpa, staff)
    others = {r: person(akpakpa, r, "akp") for r in Role.values if r not in allowed}
    outsiders = {
        r: person(parakou, r, "pko")
        for r in allowed
        if r != Role.ADMIN  # the admin (DCC) manages every agency's users
        and action != "cash_closing_new"  # one's own cash desk: no other agency's object
    }
    right = person(akpakpa, allowed[0], "ok")
    before = snapshot()
    tried = []
    for role, someone in others.items():
        client.force_login(someone)
        response = client.post(url, data)
        refused = response.status_code == 403 or (
            action == "admin_user_roles" and response.url.startswith(reverse("admin:login"))
        )
        if action == "document_print" and role in (Role.AUDITOR, Role.ADMIN, Role.MANAGER):
            # Read-only roles are sent to the consultation copy, which records nothing.
            refused = response.url == url.replace("imprimer", "consultation")
        assert refused, (role, response.status_code)
        tried.append(role)
        assert snapshot() == before, role
    # Another agency's staff of the right role: the object does not exist for them.
    for role, outsider in outsiders.items():
        client.force_login(outsider)
        assert client.post(url, data).status_code == 404, role
        assert snapshot() == before, role
    client.force_login(right)
    response = client.post(url, data)
    errors = [line for line in response.content.decode().splitlines() if "error" in line]
    assert response.status_code == 302, errors
    assert snapshot() != before
    assert len(tried) + len(allowed) == len(Role.values)


# --- Separation of duties: one person, both roles ---------------------------------------------


def test_the_one_who_entered_a_report_does_not_sign_it(akpakpa, staff, client):
    both = UserFactory(username="akp.both", agency=akpakpa, roles=[Role.READER, Role.SUPERVISOR])
    request = request_in(RequestState.RECEIVED, akpakpa, staff)
    services.termination_request_issue_order(
        request, actor=staff.reception, timing=Timing.CLASSIC, cut_date=None, assignee=both
    )
    from tests.workflow import sign

    sign(reload(request), staff)
    client.force_login(both)
    url = reverse("request_field_report", args=[request.pk])
    client.post(
        url,
        {
            "action": "report",
            "index_read": 12300,
            "read_on": DAY,
            "cut_done": "on",
            "cut_index": 12300,
            "confirm": "on",
        },
    )
    assert reload(request).state == RequestState.FIELD_REPORTED
    response = client.post(
        reverse("request_approve_report", args=[request.pk]), {"action": "sign", "confirm": "on"}
    )
    assert response.status_code == 200
    assert SOD_REPORT.replace("'", "&#x27;") in response.content.decode()
    assert reload(request).state == RequestState.FIELD_REPORTED
    client.force_login(staff.supervisor)  # another supervisor signs
    client.post(
        reverse("request_approve_report", args=[request.pk]), {"action": "sign", "confirm": "on"}
    )
    assert reload(request).state == RequestState.REPORT_APPROVED


def test_the_one_who_validated_an_invoice_does_not_settle_it(akpakpa, staff, client):
    """Reception validates balance invoices, and never holds the cash desk too. The ACFF
    validates the complementary invoice at closure: an ACFF who is also a cashier does not
    settle it; another cashier does."""
    import time_machine

    from tests.factories import ContractFactory, CustomerFactory, TariffCategoryFactory
    from tests.workflow import ALL_SAFETY_STEPS, issue_and_sign

    both = UserFactory(username="akp.acff.caisse", agency=akpakpa, roles=[Role.ACFF, Role.CASHIER])
    contract = ContractFactory(
        agency=akpakpa,
        customer=CustomerFactory(),
        tariff_category=TariffCategoryFactory(code="BT-PRO"),
        subscribed_power_kva=15,
        last_billed_index=5000,
        last_billed_date=dt.date(2026, 10, 31),
        deposit__amount=75000,
    )
    request = create(contract, staff)
    cut = TODAY + dt.timedelta(days=1)
    issue_and_sign(request, staff, timing=Timing.ANTICIPATED, cut_date=cut)
    services.termination_request_report_field(
        request,
        actor=staff.reader,
        index_read=5400,
        read_on=TODAY,
        cut_done=False,
        cut_index=None,
        remarks=[],
        high_consumption_confirmed=True,
    )
    invoice = validate_invoice(request, actor=staff.reception)
    deposit = Deposit.objects.get(contract=contract)
    services.termination_request_settle(
        invoice,
        actor=staff.cashier,
        amount=abs(invoice.balance),
        mode="cash",
        beneficiary_id_document_type=deposit.payer_id_document_type,
        beneficiary_id_document_number=deposit.payer_id_document_number,
    )
    noon = dt.datetime.combine(cut, dt.time(12), tzinfo=dt.UTC)
    with time_machine.travel(noon, tick=False):
        services.issue_due_orders()
        services.termination_request_report_removal(
            reload(request),
            actor=staff.arpnt,
            index_read=5440,
            read_on=cut,
            cut_done=True,
            safety_steps_confirmed=ALL_SAFETY_STEPS,
            remarks=[],
        )
        services.termination_request_sign_removal(reload(request), actor=staff.supervisor)
        confirm_codification(reload(request), actor=both)
        extra = reload(request).invoices.get(kind="complementary")
        assert extra.validated_by == both
        data = {
            "amount": extra.balance,
            "mode": "cash",
            "confirm": "on",
            "idempotency_key": str(uuid.uuid4()),
        }
        client.force_login(both)
        response = client.post(reverse("invoice_settle", args=[extra.pk]), data)
        assert response.status_code == 200
        assert SOD_SETTLE in response.content.decode().replace("&#x27;", "'")
        assert not Settlement.objects.filter(invoice=extra).exists()
        client.force_login(staff.cashier)
        data["idempotency_key"] = str(uuid.uuid4())
        assert client.post(reverse("invoice_settle", args=[extra.pk]), data).status_code == 302
        assert Settlement.objects.get(invoice=extra).cashier == staff.cashier


def test_the_one_who_authorised_a_refund_exception_does_not_pay_it(akpakpa, staff, client):
    both = UserFactory(
        username="akp.chef.caisse", agency=akpakpa, roles=[Role.SUPERVISOR, Role.CASHIER]
    )
    request = request_in("refund", akpakpa, staff)
    client.force_login(both)
    client.post(
        reverse("request_refund_authorisation", args=[request.pk]),
        {
            "action": "authorise",
            "shown": refund_shown(request.invoices.get(kind="balance")),
            **HEIR,
        },
    )
    assert RefundAuthorisation.objects.get().authorised_by == both
    pay = {
        "amount": 33583,
        "mode": "cash",
        "beneficiary_id_document_type": "cni",
        "beneficiary_id_document_number": "3344556677",
        "confirm": "on",
        "idempotency_key": str(uuid.uuid4()),
    }
    response = client.post(reverse("invoice_settle", args=[balance(request).pk]), pay)
    assert response.status_code == 200 and not Settlement.objects.exists()
    client.force_login(staff.cashier)
    pay["idempotency_key"] = str(uuid.uuid4())
    assert (
        client.post(reverse("invoice_settle", args=[balance(request).pk]), pay).status_code == 302
    )
    assert Settlement.objects.get().beneficiary_name == "HOUNKPATIN Afi"
