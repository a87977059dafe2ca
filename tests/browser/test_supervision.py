"""The auditor's day in Chromium: the national dashboard, down to a DR, an agency and a state,
a late request opened, the list exported as XLSX and opened; the controller's exceptions; the
chef d'agence's dashboard and cash journal. Every page is checked by axe-core and the Nu HTML
Checker, charts included."""

import datetime as dt

import openpyxl
import pytest
import time_machine

from contracts.enums import RequestState, Role
from tests.factories import UserFactory
from tests.workflow import FROZEN_NOW, advance, create, worked_example_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scene(akpakpa, parakou, staff):
    """An order issued at Akpakpa five days ago (late: its délai is 3 days), a request just
    received there, another at Parakou."""
    with time_machine.travel(FROZEN_NOW - dt.timedelta(days=5), tick=True):
        late = advance(
            create(worked_example_contract(akpakpa, "1010004701"), staff),
            staff,
            RequestState.ORDER_ISSUED,
        )
    with time_machine.travel(FROZEN_NOW, tick=True):
        create(worked_example_contract(akpakpa, "1010004702"), staff)
        pko = UserFactory(username="pko.accueil", agency=parakou, roles=[Role.RECEPTION])
        create(worked_example_contract(parakou, "4010014703"), type("S", (), {"reception": pko}))
        yield late


def test_an_auditor_goes_from_the_national_dashboard_to_a_late_request_and_exports_it(
    office, scene, parakou, tmp_path
):
    UserFactory(username="dig.audit", agency=parakou, roles=[Role.AUDITOR])
    auditor = office.open_as("dig.audit")
    assert "/tableau-de-bord/" in auditor.page.url
    assert "Tableau de bord · National" in auditor.text()
    assert auditor.page.locator("svg.week-chart title").text_content() != ""

    auditor.page.select_option("#id_dr", "DRL")
    auditor.submit("Afficher")
    assert "Tableau de bord · Direction régionale du Littoral" in auditor.text()
    auditor.page.select_option("#id_agence", "AKP")
    auditor.submit("Afficher")
    assert "Tableau de bord · Agence Cotonou Akpakpa" in auditor.text()

    # The state's late figure leads to the list of its late requests.
    row = auditor.page.locator("tr", has_text="Ordre d'intervention émis")
    with auditor.page.expect_navigation():
        row.locator("a.late").click()
    auditor.checked()
    assert "1 demande" in auditor.text()
    assert "en retard depuis le" in auditor.text()
    auditor.follow(str(scene.pk))
    assert "1010004701" in auditor.text()

    auditor.page.go_back()
    auditor.checked()
    auditor.page.locator("details.exports summary").click()
    with auditor.page.expect_download() as download:
        auditor.page.locator("details.exports li", has_text="Demandes").get_by_role(
            "link", name="XLSX"
        ).click()
    name = download.value.suggested_filename
    assert name.startswith("demandes-") and name.endswith(".xlsx")
    download.value.save_as(tmp_path / name)
    book = openpyxl.load_workbook(tmp_path / name)
    rows = list(book["Demandes"].iter_rows(values_only=True))
    assert rows[0][:3] == ("N° de demande", "Agence", "N° de contrat")
    assert [(r[0], r[2], r[9]) for r in rows[1:]] == [(scene.pk, "1010004701", "oui")]

    auditor.follow("Contrôle")
    assert "Contrôle DIG / DAI" in auditor.text()
    auditor.follow("0 : Avoirs")
    assert "Rien à contrôler sur cette période." in auditor.text()
    auditor.follow("Journal de caisse")
    assert "Totaux par mode" in auditor.text()
    office.assert_valid_html()


def test_a_chef_d_agence_sees_his_agency(office, scene, akpakpa):
    UserFactory(username="akp.agence", agency=akpakpa, roles=[Role.MANAGER])
    manager = office.open_as("akp.agence")
    assert "Tableau de bord · Agence Cotonou Akpakpa" in manager.text()
    assert manager.page.locator("#id_agence").count() == 0
    manager.follow("Demandes")
    assert "2 demandes" in manager.text()
    manager.follow(str(scene.pk))
    assert "Réaffecter l'ordre à un autre agent" in manager.text()
    office.assert_valid_html()
