"""Bad input through the browser: a French message next to the field, and nothing typed lost.
Phone-sized field pages, and a step done with the keyboard alone."""

import pytest
import time_machine

from billing.models import Invoice
from contracts.enums import RequestState
from contracts.models import Deposit
from tests.workflow import FROZEN_NOW, advance, create, issue_and_sign, worked_example_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(FROZEN_NOW, tick=True):
        yield


def field_error(agent, field_id: str) -> str:
    """The message shown right under the field."""
    return agent.page.inner_text(f"#{field_id}_error")


def test_an_index_below_the_last_one_is_refused_next_to_the_field(office, staff, akpakpa):
    request = create(worked_example_contract(akpakpa), staff)
    issue_and_sign(request, staff)
    reader = office.open_as(staff.reader.username, viewport=PHONE)
    reader.follow("Saisir le compte-rendu d'intervention")
    reader.page.fill("#id_index_read", "11000")
    reader.page.check("#id_cut_done")
    reader.page.fill("#id_cut_index", "11000")
    reader.page.fill("#id_remarks_other", "compteur très ancien")
    reader.page.check("#id_confirm")
    reader.submit("Enregistrer le compte-rendu")
    assert field_error(reader, "id_cut_index") == (
        "L'index relevé (11000) est inférieur au dernier index facturé (12000). "
        "Vérifiez la saisie, ou confirmez un passage du compteur par zéro."
    )
    assert reader.page.input_value("#id_cut_index") == "11000"
    assert reader.page.input_value("#id_remarks_other") == "compteur très ancien"
    office.assert_valid_html()


def test_a_refund_to_another_identity_is_refused(office, staff, akpakpa):
    contract = worked_example_contract(akpakpa)
    Deposit.objects.filter(contract=contract).update(
        amount=90000,
        payer_name="HOUNKPATIN Kossi Eméric",
        payer_id_document_type="passport",
        payer_id_document_number="B4512789",
    )
    advance(create(contract, staff), staff, RequestState.INVOICED)
    cashier = office.open_as(staff.cashier.username)
    cashier.follow("Régler (étape 7)")
    assert "Déposant : HOUNKPATIN Kossi Eméric" in cashier.text()
    cashier.page.select_option("#id_beneficiary_id_document_type", "cni")
    cashier.page.fill("#id_beneficiary_id_document_number", "1210004512")
    cashier.page.check("#id_confirm")
    cashier.submit("Enregistrer le règlement")
    assert field_error(cashier, "id_beneficiary_id_document_number").startswith(
        "Remboursement refusé : la pièce présentée (Carte nationale d'identité (CNI) n° "
        "1210004512) n'est pas celle du déposant (HOUNKPATIN Kossi Eméric, Passeport se "
        "terminant par 789)."
    )
    assert "4512789" not in cashier.page.content()  # the expected number is never shown
    assert cashier.page.input_value("#id_beneficiary_id_document_number") == "1210004512"
    assert not Invoice.objects.filter(state="settled", kind="balance").exists()
    office.assert_valid_html()


def test_a_cut_date_in_the_past_and_an_empty_field_are_refused(office, staff, akpakpa):
    create(worked_example_contract(akpakpa), staff)
    reception = office.open_as(staff.reception.username)
    reception.follow("Émettre l'ordre ou établir la reprise")
    reception.follow("Émettre l'ordre d'intervention (étape 3)")
    reception.page.check("text=Anticipée (coupure à une date ultérieure)")
    reception.page.fill("#id_cut_date", "2026-11-01")
    reception.submit("Émettre l'ordre")
    assert field_error(reception, "id_cut_date") == (
        "La date de coupure ne peut pas être dans le passé."
    )
    assert reception.page.input_value("#id_cut_date") == "2026-11-01"
    assert reception.page.is_checked("text=Anticipée (coupure à une date ultérieure)")
    office.assert_valid_html()


def test_the_requester_form_keeps_what_was_typed_when_a_field_is_empty(office, staff, akpakpa):
    contract = worked_example_contract(akpakpa)
    reception = office.open_as(staff.reception.username)
    reception.goto(f"/contrats/{contract.number}/resiliation/")
    reception.page.check("text=Mandataire")
    reception.page.fill("#id_requester_name", "DOSSOU Kossi Eméric")
    reception.page.fill("#id_requester_id_document_number", "")
    reception.submit("Enregistrer la demande")
    assert field_error(reception, "id_requester_id_document_number") == "Ce champ est obligatoire."
    assert reception.page.input_value("#id_requester_name") == "DOSSOU Kossi Eméric"
    reception.page.fill("#id_requester_id_document_number", "5566778899")
    reception.submit("Enregistrer la demande")
    assert field_error(reception, "id_proxy_reference") == (
        "Un mandataire doit présenter sa procuration : indiquez sa référence."
    )
    office.assert_valid_html()


def no_horizontal_scroll(agent) -> bool:
    return agent.page.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth")


def test_field_report_pages_fit_a_phone(office, staff, akpakpa):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.ORDER_ISSUED
    )
    reader = office.open_as(staff.reader.username, viewport=PHONE)
    assert no_horizontal_scroll(reader)
    reader.follow("Saisir le compte-rendu d'intervention")
    assert no_horizontal_scroll(reader)
    advance(request, staff, RequestState.REMOVAL_ORDERED)
    arpnt = office.open_as(staff.arpnt.username, viewport=PHONE)
    arpnt.follow("Déposer le compteur et saisir le compte-rendu")
    assert no_horizontal_scroll(arpnt)
    office.assert_valid_html()


def test_a_step_can_be_done_with_the_keyboard_alone(office, staff, akpakpa):
    create(worked_example_contract(akpakpa), staff)
    reception = office.open_as(staff.reception.username)
    reception.follow("Émettre l'ordre ou établir la reprise")
    reception.follow("Émettre l'ordre d'intervention (étape 3)")
    page = reception.page

    def tab_to(selector: str) -> None:
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate(f"() => document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"{selector} n'est pas atteignable au clavier")

    tab_to("#id_timing_0")  # classic
    tab_to("#id_assignee")
    page.keyboard.press("ArrowDown")  # the first reader
    tab_to("button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    reception.checked()
    assert "Ordre d'intervention émis." in reception.text()


def test_an_advance_and_the_printable_pages(office, staff, akpakpa):
    contract = worked_example_contract(akpakpa)
    request = advance(create(contract, staff), staff, RequestState.REPORT_APPROVED)
    cashier = office.open_as(staff.cashier.username)
    cashier.goto("/contrats/")
    cashier.page.fill("#id_q", contract.number)
    cashier.click("button:has-text('Rechercher')")
    cashier.follow(contract.number)
    cashier.follow("Enregistrer une avance en compte")
    for typed, message in (
        ("0", "Un montant en francs CFA, entier, de 1 à 999 999 999."),
        ("9223372036854775808", "Un montant en francs CFA, entier, de 1 à 999 999 999."),
    ):
        cashier.page.fill("#id_amount", typed)
        cashier.page.check("#id_confirm")
        cashier.submit("Enregistrer l'avance")
        assert field_error(cashier, "id_amount") == message
    cashier.page.fill("#id_amount", "10000")
    cashier.page.select_option("#id_mode", "mobile_money")
    cashier.page.fill("#id_reference", "MM-4471")
    cashier.page.check("#id_confirm")
    cashier.submit("Enregistrer l'avance")
    assert "Avance en compte enregistrée : reçu REC-AKP-2026-000001." in cashier.text()
    assert "Reçu d'avance en compte REC-AKP-2026-000001" in cashier.text()
    cashier.goto(f"/contrats/{contract.number}/")
    assert "Avance en compte REC-AKP-2026-000001 (mobile money, réf. MM-4471)" in cashier.text()
    cashier.goto("/caisse/")
    assert "total des avances : 10\u00a0000\u00a0FCFA" in cashier.text()
    cashier.goto(f"/ordres/{request.orders.get().pk}/")
    assert "Signature du demandeur" in cashier.text()
    office.assert_valid_html()
