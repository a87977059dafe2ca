"""A newcomer's first day in Chromium: the DCC admin imports the billing system's extraction from
the admin page, the agency finds an imported contract, terminates it, and the codification is
there for the billing system, in the export and through the API."""

import csv
import json

import pytest
import time_machine
from django.core.management import call_command

from contracts.enums import Role
from contracts.models import Contract
from handoff.services import receiving_system_create
from tests.browser.test_paths import issue_order, start
from tests.factories import UserFactory
from tests.imports.test_import import FILES
from tests.workflow import FROZEN_NOW

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(FROZEN_NOW, tick=True):
        yield


def worker_runs_the_import(agent):
    """What a task worker does with the queued run; the page's own reload then shows it."""
    from handoff.models import ImportRun
    from imports.tasks import import_run

    for run in ImportRun.objects.filter(status=ImportRun.Status.QUEUED):
        import_run(run_id=run.pk)
    agent.page.wait_for_selector("#rapport", timeout=60_000)
    agent.checked()


def test_import_then_terminate_then_hand_off(office, staff, akpakpa, settings, tmp_path):
    settings.IMPORT_DIR = tmp_path / "uploads"
    UserFactory(username="dcc.admin", agency=akpakpa, roles=[Role.ADMIN], is_staff=True)
    admin = office.open_as("dcc.admin")
    admin.goto("/admin/")
    admin.follow("Importer les contrats (clients, contrats, dépôts, impayés, avances, relevés)")
    admin.page.set_input_files("#id_files", [str(p) for p in FILES])
    admin.click("input[value='Vérifier (essai)']")
    # A task worker runs it; the page, which reloads itself, shows the report when done.
    assert "L'import attend un worker de tâches" in admin.text()
    worker_runs_the_import(admin)
    report = admin.page.inner_text("#rapport")
    assert "Essai réussi : rien n'est encore écrit" in report
    assert "Contrats créés\t12" in report
    assert not Contract.objects.exists()
    admin.click("input[value='Importer ces fichiers (écrire)']")
    worker_runs_the_import(admin)
    assert "Import écrit" in admin.page.inner_text("#rapport")
    assert Contract.objects.count() == 12

    # The agency finds it and takes it through the procedure.
    contract = Contract.objects.select_related("customer").get(number="1010900004")
    reception = start(office, staff, contract)
    issue_order(reception)
    index = contract.last_billed_index + 120

    reader = office.open_as(staff.reader.username)
    reader.follow("Saisir le compte-rendu d'intervention")
    reader.page.fill("#id_index_read", str(index))
    reader.page.check("#id_cut_done")
    reader.page.fill("#id_cut_index", str(index))
    reader.page.check("#id_confirm")
    reader.submit("Enregistrer le compte-rendu")
    assert "Compte-rendu d'intervention enregistré." in reader.text()

    chief = office.open_as(staff.supervisor.username)
    chief.follow("Contrôler et signer l'ordre de coupure")
    chief.page.check("#id_confirm")
    chief.submit("Signer l'ordre de coupure")

    reception.goto("/corbeille/")
    reception.follow("Calculer et valider la facture de solde")
    reception.click("button:has-text('Calculer la facture')")
    text = " ".join(reception.text().replace("\u00a0", " ").replace("\u202f", " ").split())
    assert "Factures impayées + 26 180 FCFA" in text  # the two imported unpaid invoices
    reception.page.check("#id_confirm")
    reception.click("button:has-text('Valider la facture')")
    assert "validée" in reception.text()

    cashier = office.open_as(staff.cashier.username)
    cashier.follow("Régler (étape 7)")
    cashier.page.check("#id_confirm")
    cashier.submit("Enregistrer le règlement")
    assert "Reçu de caisse" in cashier.text()

    arpnt = office.open_as(staff.arpnt.username)
    arpnt.follow("Déposer le compteur et saisir le compte-rendu")
    arpnt.page.fill("#id_index_read", str(index))
    arpnt.page.check("#id_cut_done")
    for step in range(8):
        arpnt.page.check(f"#id_safety_steps_confirmed_{step}")
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

    # The billing system's side: the export file and the API say the same closure.
    call_command("export_codifications", "--since", "0", "--dir", str(tmp_path), verbosity=0)
    (exported,) = tmp_path.glob("codifications-*.csv")
    rows = list(csv.DictReader(exported.open(encoding="utf-8-sig"), delimiter=";"))
    assert [r["contrat"] for r in rows] == ["1010900004"]
    _, token = receiving_system_create("facturation")
    response = admin.context.request.get(
        office.base_url + "/api/v1/codifications?apres=0",
        headers={"Authorization": f"Bearer {token}"},
    )
    body = json.loads(response.body())
    (record,) = body["enregistrements"]
    assert record["contrat"] == "1010900004" and record["nature"] == "closure"
    assert record["contenu"]["index_final"] == index
    office.assert_valid_html()
