"""The customer in the loop, in Chromium: the requester signs the order on the agent's screen,
then follows the request from outside with the number and the code of the first SMS."""

import pytest
import time_machine

from contracts.models import TerminationRequest
from interventions.models import OrderSignature
from notifications.enums import NotificationKind
from notifications.models import Notification
from tests.browser.test_paths import start
from tests.workflow import FROZEN_NOW, worked_example_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(FROZEN_NOW, tick=True):
        yield


def test_the_requester_signs_on_the_screen_then_follows_the_request(office, staff, akpakpa):
    contract = worked_example_contract(akpakpa)
    reception = start(office, staff, contract)
    reception.follow("Émettre l'ordre d'intervention (étape 3)")
    reception.submit("Émettre l'ordre")
    reception.print_pdf("Imprimer l'ordre (PDF)")  # shown to the requester, who reads it
    request = TerminationRequest.objects.get(contract=contract)
    reception.goto(f"/demandes/{request.pk}/signature-demandeur/")
    pad = reception.page.locator(".signature-pad canvas")
    assert pad.is_visible()
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    reception.page.mouse.move(box["x"] + 30, box["y"] + 120)
    reception.page.mouse.down()
    for step in range(1, 25):
        reception.page.mouse.move(box["x"] + 30 + step * 12, box["y"] + 120 - (step % 5) * 14)
    reception.page.mouse.up()
    reception.page.check("#id_confirm")
    reception.submit("Enregistrer la signature")
    assert "Signature du demandeur enregistrée" in reception.text()
    signature = OrderSignature.objects.get()
    assert bytes(signature.drawing).startswith(b"\x89PNG")
    assert signature.witnessed_by.username == staff.reception.username

    # The requester prefers English from now on: reception records it at the counter.
    reception.goto(f"/demandes/{request.pk}/")
    reception.follow("Langue ou refus des SMS du demandeur")
    reception.page.check("text=English")
    reception.submit("Enregistrer le choix")
    assert "Choix du demandeur pour les SMS enregistré." in reception.text()
    assert "SMS du demandeur en anglais" in reception.text()

    # The customer, at home, with the first SMS.
    first = Notification.objects.get(kind=NotificationKind.REGISTERED)
    code = first.text.split("Code de suivi: ")[1].split(".")[0]
    public = office.open_public()
    public.goto("/suivi/")
    public.page.fill("#id_demande", str(first.request_id))
    public.page.fill("#id_code", code)
    public.submit("Voir où en est ma demande")
    assert "Un agent doit passer relever l'index du compteur." in public.text()
    assert contract.customer.name not in public.text()
