"""The five paths of the procedure in Chromium, each role in its own browser, finding its work
in "Ma corbeille" rather than typing addresses."""

import datetime as dt
import io

import pytest
import time_machine
from django.conf import settings
from pypdf import PdfReader

from billing.documents import verification_url
from billing.models import Document
from contracts.enums import RequestState
from contracts.models import Contract, DeliveryPoint, TerminationRequest
from contracts.tracking import tracking_code
from procedure.services import issue_due_orders, send_reminders
from tests.factories import ContractFactory, CustomerFactory, TariffCategoryFactory
from tests.workflow import FROZEN_NOW, TODAY, worked_example_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def clock():
    # The clock runs, from 30/11/2026 09:00: 30 days after the last billed index.
    with time_machine.travel(FROZEN_NOW, tick=True):
        yield


REQUESTER = "+2290197123456"  # typed as 01 97 12 34 56 by reception
VISIT = "SBEE: un agent passera le {} entre 8h et 17h pour le contrat {} ({}). Soyez présent et \
laissez le compteur accessible."


def told(phones) -> list[tuple[str, str, str]]:
    """(number, kind, text) of each SMS the customers' phones received, in order."""
    return [(m["to"], m["kind"], m["text"]) for m in phones.received()]


def registered(request, number=REQUESTER) -> tuple[str, str, str]:
    return (
        number,
        "registered",
        f"SBEE: demande de résiliation {request.pk} du contrat {request.contract.number} "
        f"enregistrée. Code de suivi: {tracking_code(request.pk)}. Suivez-la sur "
        f"{settings.SITE_URL}/suivi/",
    )


def balance(contract, invoice: str, amount: str, limit: str) -> tuple[str, str, str]:
    return (
        REQUESTER,
        "balance",
        f"SBEE: facture de solde {invoice} du contrat {contract.number}: {amount}\u00a0FCFA à "
        f"payer à l'agence Cotonou Akpakpa avant le {limit}, sinon recouvrement.",
    )


def terminated(request, number=REQUESTER) -> tuple[str, str, str]:
    attestation = request.attestation
    return (
        number,
        "terminated",
        f"SBEE: le contrat {request.contract.number} est résilié. Attestation "
        f"{attestation.number}, vérifiable sur {verification_url(attestation)}",
    )


def the_request(contract) -> TerminationRequest:
    return TerminationRequest.objects.get(contract=contract)


def start(office, staff, contract, *, takeover=False):
    """Step 1, by the agent d'accueil: search the contract, open it, record the requester."""
    reception = office.open_as(staff.reception.username)
    reception.goto("/contrats/")
    reception.page.fill("#id_q", contract.customer.name.split()[0].lower())
    reception.click("button:has-text('Rechercher')")
    reception.follow(contract.number)
    reception.follow("Demande de résiliation (étape 1)")
    if takeover:
        reception.page.check("text=Avec reprise (successeur)")
    reception.page.fill("#id_requester_phone", "01 97 12 34 56")
    reception.click("button:has-text('Enregistrer la demande')")
    assert "Demande de résiliation enregistrée." in reception.text()
    return reception


def issue_order(reception, *, anticipated_on: dt.date | None = None):
    """Step 3: issue the order, print it, and record that the requester signed it."""
    reception.follow("Émettre l'ordre d'intervention (étape 3)")
    if anticipated_on:
        reception.page.check("text=Anticipée (coupure à une date ultérieure)")
        reception.page.fill("#id_cut_date", anticipated_on.isoformat())
    reception.submit("Émettre l'ordre")
    assert "Ordre d'intervention émis." in reception.text()
    assert "Signature du demandeur" in reception.text()
    pdf = reception.print_pdf("Imprimer l'ordre (PDF)")
    assert "Signature du demandeur" in pdf_text(pdf)
    reception.page.check("#id_confirm")
    reception.submit("Enregistrer la signature")
    assert "Signature du demandeur enregistrée" in reception.text()


def pdf_text(pdf: bytes) -> str:
    return " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def pdf_numbers(agent) -> dict[str, str]:
    """Open every document of the request page; each must be a PDF with its number in it."""
    page = agent.page
    token = page.get_attribute("input[name=csrfmiddlewaretoken]", "value")
    found = {}
    for form in page.query_selector_all(".documents form[action*='/imprimer/']"):
        number = form.evaluate("f => f.closest('li').querySelector('strong').textContent")
        response = agent.context.request.post(
            agent.office.base_url + form.get_attribute("action"),
            form={"csrfmiddlewaretoken": token},
            headers={"Referer": page.url},
        )
        assert response.headers["content-type"] == "application/pdf"
        assert response.body().startswith(b"%PDF-")
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
        assert number in text
        found[number] = response.headers["content-disposition"]
    return found


def test_bt_classic(office, staff, akpakpa, phones):
    contract = worked_example_contract(akpakpa)
    reception = start(office, staff, contract)
    issue_order(reception)

    # The ARPNT agent cut the supply and wrote the paper report; the reader enters it for them.
    reader = office.open_as(staff.reader.username, viewport={"width": 390, "height": 844})
    reader.follow("Saisir le compte-rendu d'intervention")
    reader.page.fill("#id_index_read", "12300")
    reader.page.check("#id_cut_done")
    reader.page.fill("#id_cut_index", "12300")
    reader.page.select_option("#id_agent", str(staff.arpnt.pk))
    reader.page.check("#id_confirm")
    reader.submit("Enregistrer le compte-rendu")
    assert "Compte-rendu d'intervention enregistré." in reader.text()
    assert "signature de l'agent attendue" in reader.text()
    reader.logout()

    # The agent who did the work signs the report as theirs, then the supervisor signs.
    arpnt = office.open_as(staff.arpnt.username, viewport={"width": 390, "height": 844})
    arpnt.follow("Signer votre compte-rendu saisi d'après l'ordre papier")
    assert "Index relevé\n12300 kWh" in arpnt.text().replace("\t", "\n")
    arpnt.page.check("#id_confirm")
    arpnt.submit("Signer mon compte-rendu")
    assert "Compte-rendu signé : il attend le contrôle du responsable." in arpnt.text()

    chief = office.open_as(staff.supervisor.username)
    chief.follow("Contrôler et signer l'ordre de coupure")
    assert "a signé le compte-rendu le" in chief.text()
    chief.page.check("#id_confirm")
    chief.submit("Signer l'ordre de coupure")
    # The order is filed: its page and its copies say so, with the report's signatures.
    order = the_request(contract).orders.get()
    reception.goto(f"/ordres/{order.pk}/")
    assert "Ordre classé le 30/11/2026" in reception.text()
    copy = pdf_text(reception.print_pdf("Imprimer l'ordre (PDF)"))
    assert "ORDRE CLASSÉ le 30/11/2026" in copy
    assert "Signé par l'agent de l'intervention" in copy
    assert "Saisi d'après l'ordre papier par" in copy
    assert "Contrôlé et signé par le responsable" in copy

    reception.goto("/corbeille/")
    reception.follow("Calculer et valider la facture de solde")
    reception.click("button:has-text('Calculer la facture')")
    text = reception.text()
    assert "Total de la facture\n49 417 FCFA" in text.replace("\t", "\n").replace("\u00a0", " ")
    assert "À PAYER" in text
    reception.page.check("#id_confirm")
    reception.click("button:has-text('Valider la facture')")
    assert "Facture FAC-AKP-2026-000001 validée." in reception.text()

    cashier = office.open_as(staff.cashier.username)
    cashier.follow("Régler (étape 7)")
    assert cashier.page.input_value("#id_amount") == "26417"
    cashier.page.check("#id_confirm")
    cashier.submit("Enregistrer le règlement")
    assert "Reçu de caisse REC-AKP-2026-000001" in cashier.text()
    cashier.goto("/caisse/")
    assert "Total encaissé : 26\u00a0417\u00a0FCFA" in cashier.text()

    arpnt.goto("/corbeille/")
    arpnt.follow("Déposer le compteur et saisir le compte-rendu")
    arpnt.page.fill("#id_index_read", "12300")
    arpnt.page.check("#id_cut_done")
    for step in range(8):
        arpnt.page.check(f"#id_safety_steps_confirmed_{step}")
    arpnt.page.check("text=Panneau pourri")
    arpnt.page.check("#id_confirm")
    arpnt.submit("Enregistrer le compte-rendu")

    chief.goto("/corbeille/")
    chief.follow("Contrôler et signer le compte-rendu de dépose")
    chief.page.check("#id_confirm")
    chief.submit("Signer le compte-rendu")

    acff = office.open_as(staff.acff.username)
    acff.follow("Confirmer la codification")
    acff.page.check("#id_confirm")
    acff.submit("Confirmer la codification")
    assert "Codification confirmée" in acff.text()
    assert "Clôturée" in acff.text()
    assert Contract.objects.get(pk=contract.pk).status == "terminated"

    auditor = office.open_as(staff.auditor.username)
    auditor.goto(f"/demandes/{the_request(contract).pk}/")
    assert auditor.page.locator(".timeline .step-done").count() == 8
    numbers = pdf_numbers(auditor)
    assert set(numbers) == {
        "OI-AKP-2026-000001",
        "OI-AKP-2026-000002",
        "FAC-AKP-2026-000001",
        "REC-AKP-2026-000001",
        "ATT-AKP-2026-000001",
    }
    # The auditor reads consultation copies; nothing is recorded for them.
    assert numbers["FAC-AKP-2026-000001"] == (
        'inline; filename="FAC-AKP-2026-000001-consultation.pdf"'
    )
    # What the requester's phone received, one SMS per fact, in order.
    request = the_request(contract)
    assert told(phones) == [
        registered(request),
        (REQUESTER, "visit", VISIT.format("30/11/2026", contract.number, "relève et coupure")),
        balance(contract, "FAC-AKP-2026-000001", "26\u00a0417", "30/12/2026"),
        (REQUESTER, "visit", VISIT.format("30/11/2026", contract.number, "dépose du compteur")),
        terminated(request),
    ]
    office.assert_valid_html()


def test_bt_anticipated(office, staff, akpakpa, phones):
    contract = worked_example_contract(akpakpa)
    reception = start(office, staff, contract)
    cut_date = TODAY + dt.timedelta(days=10)
    issue_order(reception, anticipated_on=cut_date)

    reader = office.open_as(staff.reader.username)
    reader.follow("Saisir le compte-rendu d'intervention")
    reader.page.fill("#id_index_read", "12300")
    reader.page.check("#id_confirm")
    reader.submit("Enregistrer le compte-rendu")

    reception.goto("/corbeille/")
    reception.follow("Calculer et valider la facture de solde")
    reception.click("button:has-text('Calculer la facture')")
    reception.page.check("#id_confirm")
    reception.click("button:has-text('Valider la facture')")

    cashier = office.open_as(staff.cashier.username)
    cashier.follow("Régler (étape 7)")
    cashier.page.select_option("#id_mode", "mobile_money")
    cashier.page.fill("#id_reference", "MM-20261130-77")
    cashier.page.check("#id_confirm")
    cashier.submit("Enregistrer le règlement")
    request = the_request(contract)
    assert request.state == RequestState.SETTLED

    # Step 8 by itself: the morning task's code, run for the cut date.
    assert issue_due_orders(cut_date) == 1
    # The evening before the removal, the reminder.
    with time_machine.travel(dt.datetime(2026, 12, 9, 17, 0, tzinfo=dt.UTC), tick=True):
        assert send_reminders() == 1
    with time_machine.travel(dt.datetime(2026, 12, 10, 9, 0, tzinfo=dt.UTC), tick=True):
        arpnt = office.open_as(staff.arpnt.username)
        arpnt.follow("Déposer le compteur et saisir le compte-rendu")
        arpnt.page.fill("#id_index_read", "12360")
        arpnt.page.check("#id_cut_done")
        for step in range(8):
            arpnt.page.check(f"#id_safety_steps_confirmed_{step}")
        arpnt.page.check("#id_confirm")
        arpnt.submit("Enregistrer le compte-rendu")
        chief = office.open_as(staff.supervisor.username)
        chief.follow("Contrôler et signer le compte-rendu de dépose")
        chief.page.check("#id_confirm")
        chief.submit("Signer le compte-rendu")
        acff = office.open_as(staff.acff.username)
        acff.follow("Confirmer la codification")
        # The complementary invoice is shown before the confirmation issues it.
        shown = acff.text()
        assert "Facture complémentaire (brouillon, sans numéro)" in shown
        assert "ancien 12300 · nouveau 12360" in shown
        acff.page.check("#id_confirm")
        acff.submit("Confirmer la codification")
        text = acff.text()
    assert "Clôturée" in text
    assert "Facture complémentaire" in text
    assert Document.objects.filter(kind="invoice").count() == 2
    request = the_request(contract)
    assert told(phones) == [
        registered(request),
        (REQUESTER, "visit", VISIT.format("30/11/2026", contract.number, "relève de l'index")),
        balance(contract, "FAC-AKP-2026-000001", "26\u00a0417", "30/12/2026"),
        (REQUESTER, "visit", VISIT.format("10/12/2026", contract.number, "dépose du compteur")),
        (
            REQUESTER,
            "visit_reminder",
            "SBEE: rappel, un agent passe demain 10/12/2026 entre 8h et 17h pour le contrat "
            f"{contract.number}. Laissez le compteur accessible.",
        ),
        terminated(request),
    ]
    office.assert_valid_html()


def test_takeover(office, staff, akpakpa, phones):
    contract = worked_example_contract(akpakpa)
    # The connection allows up to 12 kVA.
    DeliveryPoint.objects.filter(pk=contract.delivery_point_id).update(max_power_kva=12)
    reception = start(office, staff, contract, takeover=True)
    reception.follow("Établir la reprise (étape 2)")
    page = reception.page
    page.select_option("#id_successor_id_document_type", "cip")
    page.fill("#id_successor_id_document_number", "9988776655")
    page.fill("#id_successor_name", "ZINSOU Afiavi Bérénice")
    page.fill("#id_successor_phone", "01 61 00 00 00")
    page.fill("#id_successor_address", "Quartier Sègbèya, carré 90, Cotonou")
    page.fill("#id_mutation_index", "12300")
    page.fill("#id_mutation_date", TODAY.isoformat())
    # The outgoing contract's category and power are proposed: kept, one click computes.
    assert page.input_value("#id_subscribed_power_kva") == "6"
    reception.submit("Calculer les factures")
    text = reception.text()
    assert text.count("(brouillon, sans numéro)") == 2
    assert "BT-DOM – Basse tension domestique, 6 kVA (comme le contrat en cours)" in text
    assert the_request(contract).state == RequestState.RECEIVED
    # The successor, a shop, takes BT-PRO at 9 kVA: the subscription invoice follows.
    page.select_option("#id_tariff_category", label="BT-PRO – Basse tension professionnel")
    page.fill("#id_subscribed_power_kva", "9")
    reception.submit("Recalculer les factures")
    text = reception.text()
    assert "BT-PRO – Basse tension professionnel, 9 kVA" in text
    assert "9 kVA × 5\u00a0000\u00a0FCFA" in text
    page.check("#id_confirm")
    reception.submit("Valider les deux factures")
    text = reception.text()
    assert "Reprise établie" in text
    assert "ZINSOU Afiavi Bérénice" in text

    cashier = office.open_as(staff.cashier.username)
    for _invoice in ("balance", "subscription"):
        cashier.goto("/corbeille/")
        cashier.follow("Régler (étape 7)")
        assert cashier.page.input_value("#id_amount") in ("26417", "48000")
        cashier.page.check("#id_confirm")
        cashier.submit("Enregistrer le règlement")
    assert the_request(contract).state == RequestState.CLOSED
    auditor = office.open_as(staff.auditor.username)
    auditor.goto(f"/demandes/{the_request(contract).pk}/")
    assert "Clôturée" in auditor.text()
    assert any(n.startswith("CT-AKP-2026-") for n in pdf_numbers(auditor))
    successor_contract = the_request(contract).successor_contract
    assert (successor_contract.tariff_category.code, successor_contract.subscribed_power_kva) == (
        "BT-PRO",
        9,
    )
    # The successor is told once the reprise is established, and at its end.
    request = the_request(contract)
    successor = "+2290161000000"
    assert told(phones) == [
        registered(request),
        registered(request, successor),
        balance(contract, "FAC-AKP-2026-000001", "26\u00a0417", "30/12/2026"),
        terminated(request),
        terminated(request, successor),
    ]
    office.assert_valid_html()


def test_mt_classic(office, staff, akpakpa, phones):
    mt = TariffCategoryFactory(code="MT-GEN")
    customer = CustomerFactory(
        kind="company",
        name="GLACIERE du Port SA",
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
        start_date=dt.date(2024, 1, 1),
    )
    reception = start(office, staff, contract)
    issue_order(reception)
    # Step 5 names the ARPNT agent too: here the ARPNT agent cuts and reports, and signs.
    arpnt = office.open_as(staff.arpnt.username)
    arpnt.follow("Saisir le compte-rendu d'intervention")
    arpnt.page.fill("#id_index_read", "401000")
    arpnt.page.check("#id_cut_done")
    arpnt.page.fill("#id_cut_index", "401000")
    arpnt.page.check("#id_confirm")
    arpnt.submit("Enregistrer le compte-rendu")
    assert "Compte-rendu d'intervention enregistré." in arpnt.text()
    chief = office.open_as(staff.supervisor.username)
    chief.follow("Contrôler et signer l'ordre de coupure")
    chief.page.check("#id_confirm")
    chief.submit("Signer l'ordre de coupure")
    reception.goto("/corbeille/")
    reception.follow("Calculer et valider la facture de solde")
    reception.click("button:has-text('Calculer la facture')")
    reception.page.check("#id_confirm")
    reception.click("button:has-text('Valider la facture')")
    cashier = office.open_as(staff.cashier.username)
    cashier.follow("Régler (étape 7)")
    cashier.page.select_option("#id_mode", "transfer")
    cashier.page.fill("#id_reference", "VIR-2026-1130")
    cashier.page.check("#id_confirm")
    cashier.submit("Enregistrer le règlement")
    acff = office.open_as(staff.acff.username)
    acff.follow("Confirmer la codification (MT, sans dépose)")
    assert "le compteur reste en place" in acff.text()
    acff.page.check("#id_confirm")
    acff.submit("Confirmer la codification")
    assert the_request(contract).state == RequestState.CLOSED
    assert not the_request(contract).orders.filter(kind="removal").exists()
    # MT: no removal, so no second visit.
    request = the_request(contract)
    assert told(phones) == [
        registered(request),
        (REQUESTER, "visit", VISIT.format("30/11/2026", contract.number, "relève et coupure")),
        balance(contract, "FAC-AKP-2026-000001", "151\u00a0618", "30/12/2026"),
        terminated(request),
    ]
    office.assert_valid_html()


def test_cancellation(office, staff, akpakpa, phones):
    contract = worked_example_contract(akpakpa)
    reception = start(office, staff, contract)
    issue_order(reception)
    reception.follow("Annuler la demande")
    reception.page.fill("#id_reason", "Le client renonce à résilier")
    reception.page.check("#id_confirm")
    reception.submit("Annuler la demande")
    text = reception.text()
    assert "Demande annulée." in text and "Le client renonce à résilier" in text
    assert the_request(contract).orders.get().status == "cancelled"
    # Cancelled at the requester's own word, at the counter: nothing more is sent.
    request = the_request(contract)
    assert told(phones) == [
        registered(request),
        (REQUESTER, "visit", VISIT.format("30/11/2026", contract.number, "relève et coupure")),
    ]
    office.assert_valid_html()
