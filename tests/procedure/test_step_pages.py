"""The pages of the new actions: who may open them, what they say when the step cannot be done
now, the request page in French, and the MT request's own words."""

import datetime as dt
import html as html_module

import pytest
import time_machine
from django.urls import reverse

from contracts.enums import RequestState, Role, Timing
from procedure import selectors, services
from procedure.rules import STEP_NOT_NOW
from tests.factories import UserFactory
from tests.workflow import (
    TODAY,
    advance,
    create,
    mt_example_contract,
    mt_until_settled,
    reload,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

NEW_PAGES = {
    # page: the role that may open it, the state the request is brought to
    "request_signature": (Role.RECEPTION, "unsigned"),
    "request_reschedule": (Role.RECEPTION, "visit_failed"),
    "request_reassign": (Role.SUPERVISOR, RequestState.ORDER_ISSUED),  # and the chef d'agence
    "request_field_report": (Role.READER, RequestState.ORDER_ISSUED),
    "request_approve_report": (Role.SUPERVISOR, RequestState.FIELD_REPORTED),
    "request_removal_impossible": (Role.SUPERVISOR, RequestState.REMOVAL_ORDERED),
}


def bring(request, staff, where):
    if where == "unsigned":
        services.termination_request_issue_order(
            request, actor=staff.reception, timing=Timing.CLASSIC, cut_date=None
        )
        return reload(request)
    if where == "visit_failed":
        request = advance(request, staff, RequestState.ORDER_ISSUED)
        services.termination_request_record_failed_visit(
            request, actor=staff.reader, visited_on=TODAY, reason="absent"
        )
        return reload(request)
    return advance(request, staff, where)


def page(client, user, name, pk):
    client.force_login(user)
    response = client.get(reverse(name, args=[pk]))
    return response.status_code, html_module.unescape(response.content.decode())


@pytest.mark.parametrize("name", NEW_PAGES)
def test_each_new_page_is_its_roles_own_and_its_agencys_own(name, akpakpa, parakou, staff, client):
    role, where = NEW_PAGES[name]
    request = bring(create(worked_example_contract(akpakpa), staff), staff, where)
    events = request.events.count()
    for other in Role.values:
        also = {
            "request_reassign": Role.MANAGER,
            "request_field_report": Role.ARPNT,  # step 5 names the ARPNT agent too
        }
        if other != role and other != also.get(name):
            person = UserFactory(username=f"x-{other}", agency=akpakpa, roles=[other])
            assert page(client, person, name, request.pk)[0] == 403, other
            client.force_login(person)
            response = client.post(reverse(name, args=[request.pk]), {"action": "x"})
            assert response.status_code == 403, other
    outsider = UserFactory(username="pko", agency=parakou, roles=[role])
    assert page(client, outsider, name, request.pk)[0] == 404
    status, _ = page(client, getattr(staff, _attribute(role)), name, request.pk)
    assert status == 200
    assert (reload(request).state, request.events.count()) == (where_state(where), events)


def where_state(where):
    return RequestState.ORDER_ISSUED if where in ("unsigned", "visit_failed") else where


def _attribute(role):
    return {
        Role.RECEPTION: "reception",
        Role.READER: "reader",
        Role.SUPERVISOR: "supervisor",
    }[role]


def test_a_step_page_that_cannot_act_says_why_and_shows_no_form(akpakpa, staff, client):
    request = bring(create(worked_example_contract(akpakpa), staff), staff, "unsigned")
    status, html = page(client, staff.reader, "request_field_report", request.pk)
    assert status == 200
    assert selectors.NOT_SIGNED_YET in html
    assert 'class="step-form"' not in html and "Revenir à la demande" in html
    status, html = page(client, staff.reception, "request_invoice", request.pk)
    assert STEP_NOT_NOW.format(state="Ordre d'intervention émis") in html
    assert "Valider la facture" not in html and "Calculer la facture" not in html
    status, html = page(client, staff.reception, "request_reschedule", request.pk)
    assert selectors.NO_FAILED_VISIT.format(order="OI-AKP-2026-000001") in html
    status, html = page(client, staff.supervisor, "request_removal_impossible", request.pk)
    assert STEP_NOT_NOW.format(state="Ordre d'intervention émis") in html
    # a POST changes nothing either
    client.force_login(staff.reader)
    client.post(
        reverse("request_field_report", args=[request.pk]),
        {"action": "report", "index_read": 12300, "read_on": "2026-11-30", "confirm": "on"},
    )
    assert reload(request).state == RequestState.ORDER_ISSUED


def test_the_request_page_reads_in_french(akpakpa, staff, client):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.METER_REMOVED
    )
    services.termination_request_send_back_removal_report(
        request, actor=staff.supervisor, reason="Index illisible"
    )
    _, html = page(client, staff.auditor, "request_detail", request.pk)
    journal = html[html.index('id="h-journal"') :]
    for raw in ("reception", "supervisor", "kind :", "cut_done", "True", "remarks", "[]", "None"):
        assert raw not in journal, raw
    for french in (
        "Agent d'accueil d'abonnement",
        "Demande enregistrée (sans reprise)",
        "signé par le demandeur sur l'ordre imprimé",
        "Intervention sur place le 30/11/2026 : coupure effectuée",
        "index relevé 12300, index de coupure 12300, consommation 300 kWh",
        "Facture de solde FAC-AKP-2026-000001 validée : total 49\u00a0417\u00a0FCFA",
        "Ordre de dépose OI-AKP-2026-000002 émis par le système",
        "Système (automatique)",
        "Compte-rendu renvoyé pour correction : Index illisible",
    ):
        assert french in journal, french
    timeline = html[html.index('id="h-timeline"') : html.index('id="h-journal"')]
    assert "Compte-rendu remplacé, renvoyé le 30/11/2026" in html
    step4 = timeline[timeline.index("Intervention</span>") : timeline.index("Compte-rendu d")]
    assert "fait" in step4 and "Intervention sur place" in step4
    assert "imprimé" not in timeline.split("Ordre d'interruption")[0]  # prints are not steps


def test_an_mt_request_never_speaks_of_removal(akpakpa, staff, client):
    request = mt_until_settled(
        mt_example_contract(akpakpa), staff, Timing.ANTICIPATED, TODAY + dt.timedelta(days=1)
    )
    with time_machine.travel(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC), tick=False):
        services.issue_due_orders()
        queue = selectors.work_queue(staff.arpnt, dt.date(2026, 12, 1))
        assert [i.task for i in queue] == [
            "Effectuer la coupure définitive et saisir le compte-rendu"
        ]
        status, form_page = page(client, staff.arpnt, "request_removal_report", request.pk)
        _, detail = page(client, staff.arpnt, "request_detail", request.pk)
    assert status == 200
    assert "Étapes 8-9 – Coupure définitive (MT)" in form_page
    assert "Numéro du scellé posé" in form_page and "Mode opératoire" not in form_page
    for html in (form_page, detail):
        assert "dépose" not in html.lower().replace("déposant", "")


def test_the_favicon_is_served_without_login(client):
    response = client.get("/favicon.ico")
    assert (response.status_code, response["Content-Type"]) == (200, "image/x-icon")
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"


def test_after_the_arrete_the_settlement_form_and_the_regler_links_say_why(akpakpa, staff, client):
    from billing import services as billing
    from billing.models import Settlement
    from tests.workflow import close_cash_desk

    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    invoice = request.invoices.get(kind="balance")
    client.force_login(staff.cashier)
    assert (
        reverse("invoice_settle", args=[invoice.pk])
        in client.get(reverse("cash_desk")).content.decode()
    )
    close_cash_desk(staff.cashier, TODAY)
    closed = billing.CASH_CLOSED.format(day="30/11/2026")
    desk = html_module.unescape(client.get(reverse("cash_desk")).content.decode())
    assert closed in desk
    assert reverse("invoice_settle", args=[invoice.pk]) not in desk
    status, html = page(client, staff.cashier, "invoice_settle", invoice.pk)
    assert status == 200 and closed in html
    assert 'class="card step-form"' not in html and "Enregistrer le règlement" not in html
    client.post(
        reverse("invoice_settle", args=[invoice.pk]),
        {"amount": 26417, "mode": "cash", "confirm": "on"},
    )
    assert not Settlement.objects.exists()


def test_after_the_balance_invoice_the_advance_form_says_why(akpakpa, staff, client):
    from billing import services as billing

    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    client.force_login(staff.cashier)
    response = client.get(reverse("advance_record", args=[request.contract.number]))
    html = html_module.unescape(response.content.decode())
    assert billing.ADVANCE_AFTER_BALANCE.format(number="FAC-AKP-2026-000001") in html
    assert "Enregistrer l'avance" not in html and 'name="amount"' not in html


def test_the_reading_only_order_asks_for_no_cut(akpakpa, staff, client):
    anticipated = advance(
        create(worked_example_contract(akpakpa), staff),
        staff,
        RequestState.ORDER_ISSUED,
        timing=Timing.ANTICIPATED,
    )
    status, html = page(client, staff.reader, "request_field_report", anticipated.pk)
    assert status == 200 and "Compte-rendu de relève" in html
    assert "Coupure effectuée" not in html and "Index de coupure" not in html
    assert 'name="index_read"' in html
    classic = advance(
        create(worked_example_contract(akpakpa, "1010000002"), staff),
        staff,
        RequestState.ORDER_ISSUED,
    )
    status, html = page(client, staff.reader, "request_field_report", classic.pk)
    assert "Coupure effectuée" in html and "Index de coupure" in html
    client.force_login(staff.reader)
    client.post(
        reverse("request_field_report", args=[anticipated.pk]),
        {"action": "report", "index_read": 12300, "read_on": "2026-11-30", "confirm": "on"},
    )
    assert reload(anticipated).state == RequestState.REPORT_APPROVED


@pytest.mark.parametrize(
    "state",
    [
        RequestState.ORDER_ISSUED,
        RequestState.FIELD_REPORTED,
        RequestState.REPORT_APPROVED,
        RequestState.INVOICED,
        RequestState.SETTLED,
        RequestState.REMOVAL_ORDERED,
        RequestState.METER_REMOVED,
        RequestState.REMOVAL_IMPOSSIBLE,
    ],
)
def test_a_request_in_a_state_without_its_order_is_shown_not_a_server_error(
    state, akpakpa, staff, auditor, client
):
    """As a request seeded by SQL, or brought over from elsewhere, may be: the pages degrade."""
    from contracts.models import TerminationRequest

    contract = worked_example_contract(akpakpa)
    request = TerminationRequest.objects.create(  # written as it is, as an INSERT would
        contract=contract,
        agency=akpakpa,
        kind="without_takeover",
        state=state,
        requester_name="DEMANDEUR 1",
        requester_id_document_type="cni",
        requester_id_document_number="B1",
        requester_phone="+2290197000000",
        requester_quality="holder",
        created_by=staff.reception,
    )
    for user in (auditor, staff.reception, staff.reader, staff.supervisor, staff.arpnt):
        status, html = page(client, user, "request_detail", request.pk)
        assert status == 200, (user, status)
    for name, (role, _) in NEW_PAGES.items():
        user = (
            getattr(staff, _attribute(role))
            if role in (Role.RECEPTION, Role.READER, Role.SUPERVISOR)
            else None
        )
        if user is None:
            continue
        status, _html = page(client, user, name, request.pk)
        # 403 where that role does not act in this state (a removal's new date: the
        # supervisor's); never a server error.
        assert status in (200, 403), (name, status)
    for user, name in (
        (staff.supervisor, "request_sign_removal"),
        (staff.acff, "request_confirm"),
        (staff.reception, "request_invoice"),
        (staff.supervisor, "request_credit_note"),
    ):
        assert page(client, user, name, request.pk)[0] == 200, name
    status, html = page(client, staff.arpnt, "request_removal_report", request.pk)
    assert status == 200
    if state == RequestState.REMOVAL_ORDERED:
        assert selectors.ORDER_MISSING in html
