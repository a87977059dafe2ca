"""The paths of the procedure driven through the pages, each step by its own role, as the
agency staff do it (the Django test client; the browser tests go through Chromium)."""

import datetime as dt
import html as html_module

import pytest
from django.urls import reverse

from billing import services as billing
from billing.enums import InvoiceKind, PaymentMode
from billing.models import Invoice, Settlement
from contracts.enums import ContractStatus, RequestState, TerminationKind
from contracts.models import Contract, TerminationRequest
from procedure import services
from procedure.services import issue_due_orders
from tests.factories import ContractFactory, CustomerFactory, TariffCategoryFactory
from tests.workflow import (
    TODAY,
    advance,
    create,
    documents_rendered,
    reload,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


class Desk:
    """A client that logs in as whoever acts, posts a form, and insists it went through. The
    documents a step issues are rendered once it commits, as in production."""

    def __init__(self, client):
        self.client = client

    def get(self, user, url):
        self.client.force_login(user)
        response = self.client.get(url)
        assert response.status_code == 200, response.status_code
        return html_module.unescape(response.content.decode())

    def key(self, user, url) -> str:
        """The idempotency key a money form carries, as the page draws it."""
        self.client.force_login(user)
        return str(self.client.get(url).context["form"]["idempotency_key"].value())

    def shown(self, user, url) -> str:
        """The digest of the figures a confirmation page shows, as the page carries it."""
        self.client.force_login(user)
        return str(self.client.get(url).context["shown"])

    def post(self, user, url, data, *, expect_redirect=True):
        self.client.force_login(user)
        if "idempotency_key" not in data and ("/reglement/" in url or "/avance/" in url):
            data = {**data, "idempotency_key": self.key(user, url)}
        if "shown" not in data and data.get("action") == "validate" and "/facture/" in url:
            data = {**data, "shown": self.shown(user, url)}
        with documents_rendered():
            response = self.client.post(url, data)
        if expect_redirect:
            errors = (
                html_module.unescape(response.content.decode())
                if response.status_code == 200
                else ""
            )
            errors = [line.strip() for line in errors.splitlines() if 'class="error' in line]
            assert response.status_code == 302, errors
        return response


@pytest.fixture
def desk(client):
    return Desk(client)


def url(name, *args):
    return reverse(name, args=args)


def start(desk, staff, contract, kind=TerminationKind.WITHOUT_TAKEOVER):
    html = desk.get(staff.reception, url("contract_detail", contract.number))
    assert "Demande de résiliation (étape 1)" in html
    desk.post(
        staff.reception,
        url("request_create", contract.number),
        {
            "kind": kind,
            "requester_quality": "holder",
            "requester_name": contract.customer.name,
            "requester_id_document_type": "cni",
            "requester_id_document_number": contract.customer.id_document_number,
            "requester_phone": "01 97 12 34 56",
        },
    )
    return TerminationRequest.objects.get(contract=contract)


def issue_order(desk, staff, req, data):
    """Step 3 through its pages: issue the order, print it, record the requester's signature."""
    response = desk.post(
        staff.reception, url("request_issue_order", req.pk), {"action": "issue", **data}
    )
    assert response.url == url("request_signature", req.pk)
    page = desk.get(staff.reception, response.url)
    assert "pas encore : l'ordre imprimé doit être signé par le demandeur" in page
    order = req.orders.get()
    printed = desk.post(staff.reception, url("document_print", order.document.pk), {})
    assert printed.url == url("document_copy", order.document.pk, 0)
    desk.post(
        staff.reception, url("request_signature", req.pk), {"action": "sign", "confirm": "on"}
    )
    return order


def state(request):
    return TerminationRequest.objects.get(pk=request.pk).state


def test_bt_classic_through_the_pages(desk, staff, akpakpa):
    contract = worked_example_contract(akpakpa)
    req = start(desk, staff, contract)
    assert "Émettre l'ordre d'intervention (étape 3)" in desk.get(
        staff.reception, url("request_detail", req.pk)
    )
    issue_order(desk, staff, req, {"timing": "classic", "assignee": staff.reader.pk})
    assert state(req) == RequestState.ORDER_ISSUED

    queue = desk.get(staff.reader, url("work_queue"))
    assert "Saisir le compte-rendu d'intervention" in queue
    desk.post(
        staff.reader,
        url("request_field_report", req.pk),
        {
            "action": "report",
            "index_read": 12300,
            "read_on": "2026-11-30",
            "cut_done": "on",
            "cut_index": 12300,
            "confirm": "on",
        },
    )
    assert state(req) == RequestState.FIELD_REPORTED

    assert "Contrôler et signer l'ordre de coupure" in desk.get(staff.supervisor, url("work_queue"))
    desk.post(
        staff.supervisor,
        url("request_approve_report", req.pk),
        {"action": "sign", "confirm": "on"},
    )

    desk.post(staff.reception, url("request_invoice", req.pk), {"action": "compute"})
    html = desk.get(staff.reception, url("request_invoice", req.pk))
    assert "(brouillon, sans numéro)" in html and "49\u00a0417\u00a0FCFA" in html
    assert "À PAYER" in html and "26\u00a0417\u00a0FCFA" in html
    desk.post(
        staff.reception, url("request_invoice", req.pk), {"action": "validate", "confirm": "on"}
    )
    invoice = Invoice.objects.get(request=req, kind=InvoiceKind.BALANCE)
    assert invoice.number == "FAC-AKP-2026-000001"

    assert "FAC-AKP-2026-000001" in desk.get(staff.cashier, url("cash_desk"))
    assert "Régler (étape 7)" in desk.get(staff.cashier, url("work_queue"))
    response = desk.post(
        staff.cashier,
        url("invoice_settle", invoice.pk),
        {"amount": 26417, "mode": "cash", "confirm": "on"},
    )
    settlement = Settlement.objects.get(invoice=invoice)
    assert response.url == url("receipt", settlement.pk)
    assert "Reçu de caisse REC-AKP-2026-000001" in desk.get(staff.cashier, response.url)
    journal = desk.get(staff.cashier, url("cash_desk"))
    assert "Total encaissé : 26\u00a0417\u00a0FCFA" in journal
    assert state(req) == RequestState.REMOVAL_ORDERED

    assert "Déposer le compteur" in desk.get(staff.arpnt, url("work_queue"))
    desk.post(
        staff.arpnt,
        url("request_removal_report", req.pk),
        {
            "action": "report",
            "index_read": 12300,
            "read_on": "2026-11-30",
            "confirm": "on",
            "cut_done": "on",
            "safety_steps_confirmed": [str(n) for n in range(1, 9)],
            "remarks": ["rotten_panel"],
        },
    )
    desk.post(
        staff.supervisor, url("request_sign_removal", req.pk), {"action": "sign", "confirm": "on"}
    )
    assert "Confirmer la codification" in desk.get(staff.acff, url("work_queue"))
    desk.post(staff.acff, url("request_confirm", req.pk), {"action": "confirm", "confirm": "on"})
    assert state(req) == RequestState.CLOSED
    assert Contract.objects.get(pk=contract.pk).status == ContractStatus.TERMINATED

    page = desk.get(staff.auditor, url("request_detail", req.pk))
    assert page.count('class="step-done"') == 8  # step 2 does not apply


def test_bt_anticipated_through_the_pages(desk, staff, akpakpa):
    contract = worked_example_contract(akpakpa)
    req = start(desk, staff, contract)
    cut_date = TODAY + dt.timedelta(days=10)
    issue_order(desk, staff, req, {"timing": "anticipated", "cut_date": cut_date.isoformat()})
    desk.post(
        staff.reader,
        url("request_field_report", req.pk),
        {"action": "report", "index_read": 12300, "read_on": "2026-11-30", "confirm": "on"},
    )
    assert state(req) == RequestState.REPORT_APPROVED
    desk.post(staff.reception, url("request_invoice", req.pk), {"action": "compute"})
    desk.post(
        staff.reception, url("request_invoice", req.pk), {"action": "validate", "confirm": "on"}
    )
    invoice = Invoice.objects.get(request=req, kind=InvoiceKind.BALANCE)
    desk.post(
        staff.cashier,
        url("invoice_settle", invoice.pk),
        {"amount": 26417, "mode": "mobile_money", "reference": "MM-1", "confirm": "on"},
    )
    assert state(req) == RequestState.SETTLED
    assert issue_due_orders(cut_date) == 1
    assert "Déposer le compteur" in desk.get(staff.arpnt, url("work_queue"))


def test_takeover_through_the_pages(desk, staff, akpakpa):
    contract = worked_example_contract(akpakpa)
    req = start(desk, staff, contract, kind=TerminationKind.WITH_TAKEOVER)
    assert "Établir la reprise (étape 2)" in desk.get(
        staff.reception, url("request_detail", req.pk)
    )
    reprise = {
        "successor_id_document_type": "cip",
        "successor_id_document_number": "9988776655",
        "successor_name": "ZINSOU Afiavi Bérénice",
        "successor_phone": "01 61 00 00 00",
        "successor_address": "Quartier Sègbèya, Cotonou",
        "mutation_index": 12300,
        "mutation_date": "2026-11-30",
    }
    # Both invoices are computed and shown as drafts; nothing is written yet.
    preview = desk.post(
        staff.reception,
        url("request_take_over", req.pk),
        {"action": "compute", **reprise},
        expect_redirect=False,
    )
    html = html_module.unescape(preview.content.decode())
    assert html.count("(brouillon, sans numéro)") == 2
    assert "49\u00a0417\u00a0FCFA" in html and "33\u00a0000\u00a0FCFA" in html
    assert state(req) == RequestState.RECEIVED and not Invoice.objects.filter(request=req)
    digest = preview.context["form"]["preview_digest"].value()
    # Validated without the confirmation: refused, still nothing written.
    refused = desk.post(
        staff.reception,
        url("request_take_over", req.pk),
        {"action": "validate", "preview_digest": digest, **reprise},
        expect_redirect=False,
    )
    assert "Cochez la case pour valider les deux factures." in refused.content.decode()
    # Another index typed after the preview: the new figures are shown, nothing validated.
    changed = desk.post(
        staff.reception,
        url("request_take_over", req.pk),
        {"action": "validate", "preview_digest": digest, "confirm": "on", **reprise}
        | {"mutation_index": 12310},
        expect_redirect=False,
    )
    assert services.TAKEOVER_CHANGED in html_module.unescape(changed.content.decode())
    assert state(req) == RequestState.RECEIVED
    desk.post(
        staff.reception,
        url("request_take_over", req.pk),
        {"action": "validate", "preview_digest": digest, "confirm": "on", **reprise},
    )
    assert state(req) == RequestState.TAKEOVER_INVOICED
    for invoice in Invoice.objects.filter(request=req).order_by("id"):
        desk.post(
            staff.cashier,
            url("invoice_settle", invoice.pk),
            {"amount": invoice.balance, "mode": "cash", "confirm": "on"},
        )
    assert state(req) == RequestState.CLOSED


def test_mt_classic_through_the_pages(desk, staff, akpakpa):
    mt = TariffCategoryFactory(code="MT-GEN")
    customer = CustomerFactory(
        kind="company",
        name="Glacière du Port SA",
        id_document_type="rccm",
        id_document_number="RB/COT/19 B 99",
    )
    contract = ContractFactory(
        agency=akpakpa,
        customer=customer,
        tariff_category=mt,
        delivery_point__voltage="mt",
        subscribed_power_kva=100,
        last_billed_index=400000,
        meter__digits=7,
        deposit__amount=100,
    )
    req = start(desk, staff, contract)
    issue_order(desk, staff, req, {"timing": "classic"})
    desk.post(
        staff.reader,
        url("request_field_report", req.pk),
        {
            "action": "report",
            "index_read": 401000,
            "read_on": "2026-11-30",
            "cut_done": "on",
            "cut_index": 401000,
            "high_consumption_confirmed": "on",
            "confirm": "on",
        },
    )
    desk.post(
        staff.supervisor,
        url("request_approve_report", req.pk),
        {"action": "sign", "confirm": "on"},
    )
    desk.post(staff.reception, url("request_invoice", req.pk), {"action": "compute"})
    desk.post(
        staff.reception, url("request_invoice", req.pk), {"action": "validate", "confirm": "on"}
    )
    invoice = Invoice.objects.get(request=req, kind=InvoiceKind.BALANCE)
    desk.post(
        staff.cashier,
        url("invoice_settle", invoice.pk),
        {"amount": invoice.balance, "mode": "transfer", "reference": "VIR-1", "confirm": "on"},
    )
    assert state(req) == RequestState.SETTLED
    assert "sans dépose" in desk.get(staff.acff, url("work_queue"))
    desk.post(staff.acff, url("request_confirm", req.pk), {"action": "confirm", "confirm": "on"})
    assert state(req) == RequestState.CLOSED


def test_step_6_page_refuses_a_draft_that_changed_and_shows_the_new_one(
    desk, staff, akpakpa, client
):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.REPORT_APPROVED
    )
    desk.post(staff.reception, url("request_invoice", request.pk), {"action": "compute"})
    shown = desk.shown(staff.reception, url("request_invoice", request.pk))
    assert "26\u00a0417\u00a0FCFA" in desk.get(staff.reception, url("request_invoice", request.pk))
    billing.account_advance_record(
        Contract.objects.get(pk=request.contract_id),
        actor=staff.cashier,
        amount=5000,
        mode=PaymentMode.CASH,
    )
    client.force_login(staff.reception)
    response = client.post(
        url("request_invoice", request.pk),
        {"action": "validate", "confirm": "on", "shown": shown},
    )
    page = html_module.unescape(response.content.decode())
    assert response.status_code == 200
    assert services.DRAFT_CHANGED in page
    assert "21\u00a0417\u00a0FCFA" in page and "26\u00a0417\u00a0FCFA" not in page
    assert reload(request).state == RequestState.REPORT_APPROVED
    # The page now carries the new draft's digest; confirming it validates the new figures.
    assert response.context["shown"] != shown
    desk.post(
        staff.reception,
        url("request_invoice", request.pk),
        {"action": "validate", "confirm": "on", "shown": response.context["shown"]},
    )
    assert Invoice.objects.get(request=request, kind=InvoiceKind.BALANCE).balance == 21417


def test_cancellation_through_the_pages(desk, staff, akpakpa):
    req = start(desk, staff, worked_example_contract(akpakpa))
    response = desk.post(
        staff.reception,
        url("request_cancel", req.pk),
        {"action": "cancel", "reason": ""},
        expect_redirect=False,
    )
    assert "Ce champ est obligatoire." in response.content.decode()
    desk.post(
        staff.reception,
        url("request_cancel", req.pk),
        {"action": "cancel", "reason": "Le client renonce", "confirm": "on"},
    )
    assert state(req) == RequestState.CANCELLED


def test_a_refused_index_shows_a_french_message_and_keeps_what_was_typed(desk, staff, akpakpa):
    req = start(desk, staff, worked_example_contract(akpakpa))
    issue_order(desk, staff, req, {"timing": "classic"})
    response = desk.post(
        staff.reader,
        url("request_field_report", req.pk),
        {
            "action": "report",
            "index_read": 11000,
            "read_on": "2026-11-30",
            "cut_done": "on",
            "cut_index": 11000,
            "remarks_other": "compteur ancien",
            "confirm": "on",
        },
        expect_redirect=False,
    )
    html = html_module.unescape(response.content.decode())
    assert response.status_code == 200
    assert "L'index relevé (11000) est inférieur au dernier index facturé (12000)." in html
    assert 'value="11000"' in html and 'value="compteur ancien"' in html
    assert state(req) == RequestState.ORDER_ISSUED


def test_a_cut_date_in_the_past_is_refused(desk, staff, akpakpa):
    req = start(desk, staff, worked_example_contract(akpakpa))
    response = desk.post(
        staff.reception,
        url("request_issue_order", req.pk),
        {"action": "issue", "timing": "anticipated", "cut_date": "2026-11-01"},
        expect_redirect=False,
    )
    assert "La date de coupure ne peut pas être dans le passé." in response.content.decode()


def test_a_get_never_changes_anything(desk, staff, akpakpa):
    req = start(desk, staff, worked_example_contract(akpakpa))
    for name in ("request_issue_order", "request_cancel", "request_invoice"):
        desk.get(staff.reception, url(name, req.pk))
    assert state(req) == RequestState.RECEIVED
    assert req.events.count() == 1


def test_step_pages_refuse_other_roles(desk, staff, akpakpa, client):
    req = start(desk, staff, worked_example_contract(akpakpa))
    client.force_login(staff.cashier)
    assert client.get(url("request_issue_order", req.pk)).status_code == 403
    assert (
        client.post(
            url("request_cancel", req.pk), {"action": "cancel", "reason": "x", "confirm": "on"}
        ).status_code
        == 403
    )
    assert state(req) == RequestState.RECEIVED


def test_another_agencys_request_is_not_found(desk, staff, akpakpa, parakou, client):
    from tests.factories import UserFactory

    req = start(desk, staff, worked_example_contract(akpakpa))
    outsider = UserFactory(username="pko.accueil", agency=parakou, roles=["reception"])
    client.force_login(outsider)
    assert client.get(url("request_detail", req.pk)).status_code == 404
    assert (
        client.post(
            url("request_cancel", req.pk), {"action": "cancel", "reason": "x", "confirm": "on"}
        ).status_code
        == 404
    )


@pytest.mark.parametrize("rows", [1, 20])
def test_work_queue_query_count_does_not_grow(
    desk, staff, akpakpa, rows, django_assert_num_queries
):
    for n in range(rows):
        start(desk, staff, worked_example_contract(akpakpa, number=f"10100{n:05d}"))
    desk.client.force_login(staff.reception)
    # The SMS not delivered, the crews whose route sheets can be printed; the heads of
    # reception's tasks (one statement), the 50 most urgent whole with their orders' agents
    # (one); the user's roles come with the user.
    with django_assert_num_queries(9):
        response = desk.client.get(url("work_queue"))
    assert len(response.context["items"]) == rows


def test_work_queue_lists_the_oldest_first_with_its_age(desk, staff, akpakpa):
    from django.utils import timezone

    recent = start(desk, staff, worked_example_contract(akpakpa, number="1010000011"))
    old = start(desk, staff, worked_example_contract(akpakpa, number="1010000012"))
    TerminationRequest.objects.filter(pk=old.pk).update(
        state_since=timezone.now() - dt.timedelta(days=3)
    )
    desk.client.force_login(staff.reception)
    items = desk.client.get(url("work_queue")).context["items"]
    assert [(i.request_id, i.age_days) for i in items] == [(old.pk, 3), (recent.pk, 0)]


@pytest.mark.parametrize("rows", [1, 20])
def test_request_list_query_count_does_not_grow(
    desk, staff, akpakpa, rows, django_assert_num_queries
):
    for n in range(rows):
        start(desk, staff, worked_example_contract(akpakpa, number=f"10102{n:05d}"))
    desk.client.force_login(staff.auditor)
    desk.client.get(url("request_list"))  # the session's expiry moves on once a minute
    # Session, user with roles, device, the DR and agency choices, count, rows.
    with django_assert_num_queries(7):
        response = desk.client.get(url("request_list"))
    assert len(response.context["page"]) == rows


@pytest.mark.parametrize("rows", [1, 20])
def test_cash_desk_query_count_does_not_grow(
    staff, akpakpa, client, rows, django_assert_num_queries
):
    from tests.workflow import advance, create

    for n in range(rows):
        request = advance(
            create(worked_example_contract(akpakpa, number=f"10103{n:05d}"), staff),
            staff,
            RequestState.INVOICED,
        )
        if n % 2:  # half settled today: the journal grows too
            services.termination_request_settle(
                request.invoices.get(kind=InvoiceKind.BALANCE),
                actor=staff.cashier,
                amount=26417,
                mode="cash",
            )
    client.force_login(staff.cashier)
    with django_assert_num_queries(10):  # 9, and the second factor's device
        response = client.get(url("cash_desk"))
    assert len(response.context["queue"]) + len(response.context["journal"]) == rows
