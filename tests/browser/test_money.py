"""The money side in Chromium: a balance invoice cancelled by a credit note then invoiced
again, a refund to an heir on the supervisor's authorisation, and a day's cash closed,
countersigned, with the balances handed to the apurement."""

import datetime as dt

import pytest
import time_machine

from billing.models import CreditNote, Settlement
from contracts.enums import RequestState
from contracts.models import Deposit, TerminationRequest
from procedure import services
from tests.browser.test_paths import REQUESTER, VISIT, balance, registered, told
from tests.workflow import FROZEN_NOW, TODAY, advance, create, worked_example_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(FROZEN_NOW, tick=True):
        yield


def test_a_credit_note_then_a_corrected_balance_invoice(office, staff, akpakpa, phones):
    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    chief = office.open_as(staff.supervisor.username)
    chief.goto(f"/demandes/{request.pk}/")
    chief.follow("Annuler par avoir la facture")
    assert "FAC-AKP-2026-000001" in chief.text()
    chief.submit("Émettre l'avoir")
    assert "Ce champ est obligatoire." in chief.text()
    chief.page.fill("#id_reason", "Index de coupure mal reporté sur la facture")
    chief.page.check("#id_confirm")
    chief.submit("Émettre l'avoir")
    assert "Avoir émis" in chief.text()
    assert "avoir AV-AKP-2026-000001" in chief.text()
    pdf = chief.print_pdf("Imprimer", document="AV-AKP-2026-000001")
    assert pdf.startswith(b"%PDF-")

    reception = office.open_as(staff.reception.username)
    reception.follow("Calculer et valider la facture de solde")
    reception.click("button:has-text('Calculer la facture')")
    reception.page.check("#id_confirm")
    reception.click("button:has-text('Valider la facture')")
    assert "Facture FAC-AKP-2026-000002 validée." in reception.text()
    text = reception.text()
    assert "Annulée par avoir" in text and "FAC-AKP-2026-000002" in text
    note = CreditNote.objects.get()
    assert note.total == -49417
    reception.goto(f"/factures/{note.invoice_id}/")
    assert "Annulée par l'avoir AV-AKP-2026-000001" in reception.text()
    # The corrected invoice is told with its own number.
    assert told(phones)[2:] == [
        balance(request.contract, "FAC-AKP-2026-000001", "26\u00a0417", "30/12/2026"),
        balance(request.contract, "FAC-AKP-2026-000002", "26\u00a0417", "30/12/2026"),
    ]
    office.assert_valid_html()


def test_a_refund_paid_to_an_heir_on_the_supervisors_authorisation(office, staff, akpakpa, phones):
    contract = worked_example_contract(akpakpa)
    Deposit.objects.filter(contract=contract).update(
        amount=90000,
        payer_name="HOUNKPATIN Kossi Eméric",
        payer_id_document_type="passport",
        payer_id_document_number="B4512789",
    )
    request = advance(create(contract, staff), staff, RequestState.INVOICED)
    cashier = office.open_as(staff.cashier.username)
    cashier.follow("Régler (étape 7)")
    cashier.page.select_option("#id_beneficiary_id_document_type", "cni")
    cashier.page.fill("#id_beneficiary_id_document_number", "3344556677")
    cashier.page.check("#id_confirm")
    cashier.submit("Enregistrer le règlement")
    assert "se terminant par 789" in cashier.text()
    assert "B4512789" not in cashier.page.content()

    chief = office.open_as(staff.supervisor.username)
    chief.goto(f"/demandes/{request.pk}/")
    chief.follow("Autoriser un autre bénéficiaire du remboursement")
    assert "Déposant enregistré : HOUNKPATIN Kossi Eméric" in chief.text()
    chief.page.fill("#id_beneficiary_name", "HOUNKPATIN Afi Rosine")
    chief.page.select_option("#id_beneficiary_id_document_type", "cni")
    chief.page.fill("#id_beneficiary_id_document_number", "3344556677")
    chief.page.get_by_label("Héritier", exact=True).check()
    chief.page.fill("#id_proof_reference", "Acte de dévolution n° 2026/118")
    chief.page.check("#id_confirm")
    chief.submit("Autoriser ce bénéficiaire")
    assert "Bénéficiaire autorisé" in chief.text()

    cashier.goto("/corbeille/")
    cashier.follow("Régler (étape 7)")
    assert "a autorisé le remboursement à HOUNKPATIN Afi Rosine" in cashier.text()
    cashier.page.select_option("#id_beneficiary_id_document_type", "cni")
    cashier.page.fill("#id_beneficiary_id_document_number", "3344556677")
    cashier.page.check("#id_confirm")
    cashier.submit("Enregistrer le règlement")
    assert "Bon de remboursement REC-AKP-2026-000001" in cashier.text()
    assert "Autorisation d'exception" in cashier.text()
    voucher = cashier.print_pdf("Imprimer le reçu (PDF)")
    assert voucher[:5] == b"%PDF-"
    assert Settlement.objects.get().beneficiary_name == "HOUNKPATIN Afi Rosine"
    assert TerminationRequest.objects.get(pk=request.pk).state == RequestState.REMOVAL_ORDERED
    # The refund was told when the balance invoice was validated (49 417 of consumption and
    # 7 000 unpaid, less the 90 000 deposit), with its 90 days.
    assert told(phones) == [
        registered(request),
        (REQUESTER, "visit", VISIT.format("30/11/2026", "1010004512", "relève et coupure")),
        (
            REQUESTER,
            "refund_ready",
            "SBEE: contrat 1010004512: 33\u00a0583\u00a0FCFA vous sont remboursés à l'agence "
            "Cotonou Akpakpa (pièce d'identité du déposant), jusqu'au 28/02/2027.",
        ),
        (REQUESTER, "visit", VISIT.format("30/11/2026", "1010004512", "dépose du compteur")),
    ]
    office.assert_valid_html()


def test_the_day_closed_countersigned_and_the_balances_to_clear(office, staff, akpakpa, phones):
    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    cashier = office.open_as(staff.cashier.username)
    cashier.goto("/caisse/")
    cashier.follow("Arrêter ma caisse du 30/11/2026")
    cashier.page.check("#id_confirm")
    cashier.submit("Arrêter ma caisse")
    assert "Caisse arrêtée : AC-AKP-2026-000001" in cashier.text()
    chief = office.open_as(staff.supervisor.username)
    chief.follow("Contresigner l'arrêté AC-AKP-2026-000001")
    chief.page.check("#id_confirm")
    chief.submit("Contresigner")
    assert "Arrêté AC-AKP-2026-000001 contresigné." in chief.text()

    # A week before the balance goes to recovery, the evening's reminders tell the customer.
    with time_machine.travel(dt.datetime(2026, 12, 23, 17, 0, tzinfo=dt.UTC), tick=True):
        assert services.send_reminders() == 1
        assert services.send_reminders() == 0  # told once, however often it runs
    assert told(phones)[-1] == (
        REQUESTER,
        "recovery_reminder",
        "SBEE: rappel, contrat 1010004512: 26\u00a0417\u00a0FCFA à payer à l'agence Cotonou "
        "Akpakpa avant le 30/12/2026, sinon recouvrement.",
    )
    assert request.contract.number == "1010004512"
    with time_machine.travel(FROZEN_NOW + dt.timedelta(days=30), tick=True):
        assert services.transfer_overdue_balances(TODAY + dt.timedelta(days=30)) == 1
        chief = office.open_as(staff.supervisor.username)  # a month later: a new session
        chief.goto("/apurement/")
        text = chief.text()
    assert "Solde impayé transféré au recouvrement" in text and "26\u00a0417\u00a0FCFA" in text
    office.assert_valid_html()
