"""Beyond the happy path in Chromium: a failed visit on a phone, a report sent back and
corrected, a removal declared impossible, and the attestation checked by someone outside."""

import pytest
import time_machine

from billing.models import Attestation, Document
from contracts.enums import RequestState, Role
from contracts.models import TerminationRequest
from procedure import services
from tests.browser.test_paths import REQUESTER, VISIT, balance, registered, terminated, told
from tests.factories import UserFactory
from tests.workflow import FROZEN_NOW, TODAY, advance, create, worked_example_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(FROZEN_NOW, tick=True):
        yield


def no_horizontal_scroll(agent) -> bool:
    return agent.page.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth")


def test_a_failed_visit_from_a_phone_then_a_new_date_then_the_report(
    office, staff, akpakpa, phones
):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.ORDER_ISSUED
    )
    reader = office.open_as(staff.reader.username, viewport=PHONE)
    reader.follow("Saisir le compte-rendu d'intervention")
    assert no_horizontal_scroll(reader)
    # On the phone's first screen, without scrolling.
    summary = reader.page.locator("summary:has-text('Visite infructueuse ?')")
    box = summary.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], box
    reader.page.click("summary:has-text('Visite infructueuse ?')")
    reader.page.check("text=Refus d'accès")
    reader.page.check("#id_visite-confirm")
    reader.submit("Enregistrer la visite infructueuse")
    assert "Visite infructueuse enregistrée" in reader.text()
    assert "Rien ne vous attend pour le moment." in reader.text()

    reception = office.open_as(staff.reception.username)
    reception.follow("Visite infructueuse : fixer une nouvelle date")
    assert "30/11/2026 : refus d'accès" in reception.text()
    reception.page.fill("#id_due_on", "2026-11-29")
    reception.submit("Fixer la nouvelle date")
    assert "La nouvelle date d'exécution ne peut pas être dans le passé." in reception.text()
    reception.page.fill("#id_due_on", TODAY.isoformat())
    reception.submit("Fixer la nouvelle date")
    assert "Nouvelle date fixée" in reception.text()

    reader.goto("/corbeille/")
    reader.follow("Saisir le compte-rendu d'intervention")
    assert "nouvelle date : 30/11/2026" in reader.text()
    reader.page.fill("#id_index_read", "12300")
    reader.page.check("#id_cut_done")
    reader.page.fill("#id_cut_index", "12290")
    reader.page.check("#id_confirm")
    reader.submit("Enregistrer le compte-rendu")
    assert "ne peut pas être inférieur à l'index relevé" in reader.text()
    assert reader.page.input_value("#id_cut_index") == "12290"
    reader.page.fill("#id_cut_index", "12300")
    reader.page.check("#id_confirm")
    reader.submit("Enregistrer le compte-rendu")
    assert TerminationRequest.objects.get(pk=request.pk).state == RequestState.FIELD_REPORTED
    # The customer is told of the failed visit, then of its new date (the same day here).
    cut = VISIT.format("30/11/2026", "1010004512", "relève et coupure")
    assert told(phones) == [
        registered(request),
        (REQUESTER, "visit", cut),
        (
            REQUESTER,
            "visit_failed",
            "SBEE: l'agent n'a pas pu intervenir le 30/11/2026 pour le contrat 1010004512. "
            "Une nouvelle date vous sera envoyée.",
        ),
        (REQUESTER, "visit", cut),
    ]
    office.assert_valid_html()


def test_a_report_sent_back_is_corrected_and_invoiced_on_the_corrected_index(
    office, staff, akpakpa
):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.FIELD_REPORTED
    )
    chief = office.open_as(staff.supervisor.username)
    chief.follow("Contrôler et signer l'ordre de coupure")
    chief.page.click("summary:has-text('Renvoyer pour correction')")
    chief.submit("Renvoyer pour correction")
    assert "Ce champ est obligatoire." in chief.text()
    chief.page.fill("#id_renvoi-reason", "Index de coupure à relire : 12 030 sur le papier")
    chief.page.check("#id_renvoi-confirm")
    chief.submit("Renvoyer pour correction")
    assert "Compte-rendu renvoyé à l'agent pour correction." in chief.text()

    reader = office.open_as(staff.reader.username, viewport=PHONE)
    reader.follow("Corriger le compte-rendu renvoyé")
    assert "Index de coupure à relire" in reader.text()
    reader.page.click("summary:has-text('Compte-rendu remplacé')")
    reader.page.fill("#id_index_read", "12030")
    reader.page.check("#id_cut_done")
    reader.page.fill("#id_cut_index", "12030")
    reader.page.check("#id_confirm")
    reader.submit("Enregistrer le compte-rendu")

    chief.goto("/corbeille/")
    chief.follow("Contrôler et signer l'ordre de coupure")
    assert "Compte-rendu (corrigé)" in chief.text()
    chief.page.check("#id_confirm")
    chief.submit("Signer l'ordre de coupure")

    reception = office.open_as(staff.reception.username)
    reception.follow("Calculer et valider la facture de solde")
    reception.click("button:has-text('Calculer la facture')")
    assert "ancien 12000 · nouveau 12030 · consommation 30 kWh" in reception.text()
    reception.goto(f"/demandes/{request.pk}/")
    assert "Compte-rendu renvoyé pour correction" in reception.text()
    office.assert_valid_html()


def test_a_removal_reassigned_then_declared_impossible_then_codified(
    office, staff, akpakpa, phones
):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.REMOVAL_ORDERED
    )
    UserFactory(
        username="akp.arpnt2",
        first_name="Kossi",
        last_name="DOSSOU",
        agency=akpakpa,
        roles=[Role.ARPNT],
    )
    chief = office.open_as(staff.supervisor.username)
    chief.goto(f"/demandes/{request.pk}/")
    chief.follow("Réaffecter l'ordre à un autre agent")
    chief.page.select_option("#id_assignee", label="Kossi DOSSOU")
    chief.submit("Réaffecter")
    assert "Agent Kossi DOSSOU" in chief.text().replace("\n", " ").replace("\t", " ")
    for _ in range(3):
        services.termination_request_record_failed_visit(
            TerminationRequest.objects.get(pk=request.pk),
            actor=UserFactory._meta.model.objects.get(username="akp.arpnt2"),
            visited_on=TODAY,
            reason="meter_inaccessible",
        )
        request = TerminationRequest.objects.get(pk=request.pk)
        if request.orders.get(kind="removal").attempts.count() < 3:
            services.termination_request_reschedule_visit(
                request, actor=staff.supervisor, due_on=TODAY
            )
    chief.goto("/corbeille/")
    chief.follow("Visite infructueuse : fixer une nouvelle date")
    chief.follow("Après trois visites infructueuses : déclarer l'intervention impossible")
    chief.page.fill("#id_reason", "Compteur emmuré dans une construction nouvelle")
    chief.page.check("#id_confirm")
    chief.submit("Déclarer l'intervention impossible")
    assert "Dépose impossible (coupure au branchement)" in chief.text()

    acff = office.open_as(staff.acff.username)
    acff.follow("Confirmer la codification (intervention impossible, coupure au branchement)")
    assert "le compteur reste en place" in acff.text()
    acff.page.check("#id_confirm")
    acff.submit("Confirmer la codification")
    assert "Clôturée" in acff.text()
    # Three failed visits, each told with its new date; the reassignment is not the
    # customer's business; the termination is.
    removal = VISIT.format("30/11/2026", "1010004512", "dépose du compteur")
    failed = (
        REQUESTER,
        "visit_failed",
        "SBEE: l'agent n'a pas pu intervenir le 30/11/2026 pour le contrat 1010004512. "
        "Une nouvelle date vous sera envoyée.",
    )
    request = TerminationRequest.objects.get(pk=request.pk)
    assert told(phones) == [
        registered(request),
        (REQUESTER, "visit", VISIT.format("30/11/2026", "1010004512", "relève et coupure")),
        balance(request.contract, "FAC-AKP-2026-000001", "26\u00a0417", "30/12/2026"),
        (REQUESTER, "visit", removal),
        failed,
        (REQUESTER, "visit", removal),
        failed,
        (REQUESTER, "visit", removal),
        failed,
        terminated(request),
    ]
    office.assert_valid_html()


def test_the_attestation_is_printed_and_checked_by_someone_outside(
    office, staff, akpakpa, tmp_path
):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.METER_REMOVED
    )
    services.termination_request_sign_removal(request, actor=staff.supervisor)
    acff = office.open_as(staff.acff.username)
    acff.follow("Confirmer la codification")
    acff.page.check("#id_confirm")
    acff.submit("Confirmer la codification")
    attestation = Attestation.objects.get(request=request)
    document = Document.objects.get(attestation=attestation)
    original = acff.print_pdf("Imprimer", document=attestation.number)
    document.refresh_from_db()  # rendered by the print if the worker had not got to it yet
    assert original == bytes(document.content)  # the first print is the original

    public = office.open_public(viewport=PHONE)
    public.goto(f"/verification/{attestation.token}/")
    assert "Attestation n° ATT-AKP-2026-000001" in public.text()
    assert request.contract.customer.name not in public.page.content()
    path = tmp_path / "attestation.pdf"
    path.write_bytes(original)
    public.page.set_input_files("#id_document", str(path))
    public.submit("Vérifier")
    assert "Le fichier présenté est identique à l'attestation émise (l'original)." in public.text()
    # The customer lost it: the agency prints a duplicate, which verifies as what it is.
    duplicate = acff.print_pdf("Imprimer", document=attestation.number)
    assert duplicate != original
    path.write_bytes(duplicate)
    public.page.set_input_files("#id_document", str(path))
    public.submit("Vérifier")
    assert (
        "Le fichier présenté est le duplicata n° 1 de l'attestation ATT-AKP-2026-000001, conforme"
        in public.text()
    )
    path.write_bytes(original + b"\n% une ligne ajoutee")
    public.page.set_input_files("#id_document", str(path))
    public.submit("Vérifier")
    assert "ne correspond pas à l'attestation émise" in public.text()
    office.assert_valid_html()
