"""Step 2, "se reporter à la procédure de création de contrat": the successor's contract is
chosen as in a contract creation (tariff category and subscribed power), checked against what
the delivery point allows; the subscription invoice is computed for the chosen power; the
preview's digest covers the choice; keeping the outgoing contract's is one click."""

import html

import pytest
from django.urls import reverse

from accounts.rules import StepRefused
from billing.models import Invoice, TariffCategory
from contracts.enums import RequestState, TerminationKind
from contracts.models import Contract, DeliveryPoint
from procedure import services
from procedure.selectors import describe
from tests.workflow import (
    SUCCESSOR,
    TODAY,
    create,
    mt_example_contract,
    reload,
    take_over,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

ARGUMENTS = {"successor": SUCCESSOR, "mutation_index": 12300, "mutation_date": TODAY}


@pytest.fixture
def reprise(akpakpa, staff):
    """The worked example (BT-DOM, 6 kVA) on a connection that allows 12 kVA."""
    contract = worked_example_contract(akpakpa)
    DeliveryPoint.objects.filter(pk=contract.delivery_point_id).update(max_power_kva=12)
    return create(Contract.objects.get(pk=contract.pk), staff, kind=TerminationKind.WITH_TAKEOVER)


def category(code: str) -> TariffCategory:
    return TariffCategory.objects.get(code=code)


def take_over_as(request, staff, **choice):
    preview = services.termination_request_preview_take_over(
        request, actor=staff.reception, **ARGUMENTS, **choice
    )
    return services.termination_request_take_over(
        request, actor=staff.reception, preview_digest=preview.digest, **ARGUMENTS, **choice
    )


def refusal(request, staff, **choice) -> StepRefused:
    with pytest.raises(StepRefused) as refused:
        services.termination_request_preview_take_over(
            request, actor=staff.reception, **ARGUMENTS, **choice
        )
    return refused.value


def test_by_default_the_successor_keeps_the_category_and_the_power(reprise, staff):
    successor_contract = take_over(reprise, staff)
    assert (successor_contract.tariff_category.code, successor_contract.subscribed_power_kva) == (
        "BT-DOM",
        6,
    )
    subscription = reprise.invoices.get(kind="subscription")
    assert subscription.total == 6 * 5000 + 2000 + 1000
    event = reprise.events.get(action="take_over")
    assert event.data["tariff_category"] == "BT-DOM"
    assert event.data["subscribed_power_kva"] == 6
    assert event.data["contract_changed"] is False


def test_the_successor_chooses_category_and_power_and_pays_for_that_power(reprise, staff):
    successor_contract = take_over_as(
        reprise, staff, tariff_category=category("BT-PRO"), subscribed_power_kva=9
    )
    successor_contract.refresh_from_db()
    assert (successor_contract.tariff_category.code, successor_contract.subscribed_power_kva) == (
        "BT-PRO",
        9,
    )
    # The outgoing contract is untouched: terminated as it was.
    outgoing = Contract.objects.get(pk=reprise.contract_id)
    assert (outgoing.tariff_category.code, outgoing.subscribed_power_kva) == ("BT-DOM", 6)
    subscription = reprise.invoices.get(kind="subscription")
    assert subscription.contract_id == successor_contract.pk
    assert subscription.total == 9 * 5000 + 2000 + 1000
    deposit_line = subscription.lines.get(code="avance-consommation")
    assert (deposit_line.quantity, deposit_line.amount) == (9, 45000)
    # The outgoing customer's balance invoice does not depend on the successor's choice.
    assert reprise.invoices.get(kind="balance").balance == 26417
    event = reprise.events.get(action="take_over")
    assert (event.data["tariff_category"], event.data["subscribed_power_kva"]) == ("BT-PRO", 9)
    assert event.data["contract_changed"] is True
    assert "contrat du successeur en BT-PRO, 9 kVA (choisis à la reprise)" in describe(
        event, reprise
    )


def test_a_bt_point_takes_no_mt_category_and_an_mt_point_stays_mt(reprise, akpakpa, staff):
    refused = refusal(reprise, staff, tariff_category=category("MT-GEN"), subscribed_power_kva=6)
    assert refused.field == "tariff_category"
    assert "est en BT" in refused.message and "catégorie BT" in refused.message

    mt = create(mt_example_contract(akpakpa), staff, kind=TerminationKind.WITH_TAKEOVER)
    with pytest.raises(StepRefused) as refused:
        services.termination_request_preview_take_over(
            mt,
            actor=staff.reception,
            successor=SUCCESSOR,
            mutation_index=510000,
            mutation_date=TODAY,
            high_consumption_confirmed=True,
            tariff_category=category("BT-PRO"),
            subscribed_power_kva=36,
        )
    assert refused.value.field == "tariff_category"
    assert "est en MT" in refused.value.message
    assert not Invoice.objects.filter(request__in=[reprise, mt]).exists()
    assert reload(mt).state == RequestState.RECEIVED


def test_the_power_is_what_the_connection_allows(reprise, staff):
    refused = refusal(reprise, staff, subscribed_power_kva=15)
    assert refused.field == "subscribed_power_kva"
    assert "au plus 12 kVA" in refused.message
    assert refusal(reprise, staff, subscribed_power_kva=0).field == "subscribed_power_kva"
    # Up to the connection's capacity, and below today's power, is accepted.
    for power in (12, 3):
        preview = services.termination_request_preview_take_over(
            reprise, actor=staff.reception, **ARGUMENTS, subscribed_power_kva=power
        )
        assert preview.subscription.invoice.total == power * 5000 + 3000


def test_an_unknown_capacity_allows_up_to_the_power_subscribed_today(reprise, staff):
    DeliveryPoint.objects.filter(pk=reprise.contract.delivery_point_id).update(max_power_kva=None)
    refused = refusal(reprise, staff, subscribed_power_kva=9)
    assert refused.field == "subscribed_power_kva"
    assert "n'est pas connue" in refused.message and "(6 kVA)" in refused.message
    take_over_as(reprise, staff, subscribed_power_kva=6)
    assert reload(reprise).state == RequestState.TAKEOVER_INVOICED


def test_the_digest_covers_the_choice(reprise, staff):
    preview = services.termination_request_preview_take_over(
        reprise, actor=staff.reception, **ARGUMENTS, subscribed_power_kva=6
    )
    other = services.termination_request_preview_take_over(
        reprise, actor=staff.reception, **ARGUMENTS, subscribed_power_kva=9
    )
    assert other.digest != preview.digest
    # Shown for 6 kVA, sent for 9 kVA: nothing is validated.
    with pytest.raises(StepRefused) as refused:
        services.termination_request_take_over(
            reprise,
            actor=staff.reception,
            preview_digest=preview.digest,
            **ARGUMENTS,
            subscribed_power_kva=9,
        )
    assert refused.value.message == services.TAKEOVER_CHANGED
    with pytest.raises(StepRefused):
        services.termination_request_take_over(
            reprise,
            actor=staff.reception,
            preview_digest=preview.digest,
            **ARGUMENTS,
            tariff_category=category("BT-PRO"),
        )
    assert not Invoice.objects.filter(request=reprise).exists()
    assert reload(reprise).state == RequestState.RECEIVED


def form(**changes) -> dict:
    data = {
        "successor_id_document_type": "cip",
        "successor_id_document_number": "9988776655",
        "successor_name": "ZINSOU Afiavi Bérénice",
        "successor_phone": "01 61 00 00 00",
        "successor_address": "Quartier Sègbèya, carré 90, Cotonou",
        "tariff_category": str(category("BT-DOM").pk),
        "subscribed_power_kva": "6",
        "mutation_index": "12300",
        "mutation_date": TODAY.isoformat(),
        "action": "compute",
    }
    data.update(changes)
    return data


def test_the_page_offers_the_points_categories_with_todays_choice_ready(reprise, staff, client):
    client.force_login(staff.reception)
    url = reverse("request_take_over", args=[reprise.pk])
    page = html.unescape(client.get(url).content.decode())
    assert "Contrat du successeur" in page
    assert 'value="6"' in page and "au plus 12 kVA" in page
    assert f'<option value="{category("BT-DOM").pk}" selected>BT-DOM' in page
    assert "BT-PRO – Basse tension professionnel" in page
    assert "MT-GEN" not in page  # a BT point: BT categories only

    # Kept as proposed: one click computes, the confirmation validates.
    shown = client.post(url, form())
    digest = shown.context["form"]["preview_digest"].value()
    assert "BT-DOM – Basse tension domestique, 6 kVA" in html.unescape(shown.content.decode())
    assert "(comme le contrat en cours)" in html.unescape(shown.content.decode())

    # Changed: the page shows the new subscription invoice and says what changed.
    changed = client.post(
        url, form(tariff_category=str(category("BT-PRO").pk), subscribed_power_kva="9")
    )
    text = html.unescape(changed.content.decode())
    assert "BT-PRO – Basse tension professionnel, 9 kVA" in text
    assert "(le contrat en cours : BT-DOM, 6 kVA)" in text
    assert "9 kVA × 5\u00a0000\u00a0FCFA" in text

    # Too much power: said beside the field, nothing written.
    refused = client.post(url, form(subscribed_power_kva="20"))
    assert "au plus 12 kVA" in html.unescape(refused.content.decode())
    # An MT category typed into a BT point's form is refused by the form itself.
    mt = client.post(url, form(tariff_category=str(category("MT-GEN").pk)))
    assert "Sélectionnez un choix valide" in html.unescape(mt.content.decode())

    done = client.post(url, form(action="validate", confirm="on", preview_digest=digest))
    assert done.status_code == 302
    request = reload(reprise)
    assert request.state == RequestState.TAKEOVER_INVOICED
    assert request.successor_contract.subscribed_power_kva == 6


def test_the_admin_sets_a_connections_capacity_and_the_database_keeps_the_trace(
    reprise, akpakpa, client
):
    from contracts.enums import Role
    from contracts.models import DataChange
    from tests.factories import UserFactory

    admin_user = UserFactory(username="dcc.admin", agency=akpakpa, roles=[Role.ADMIN])
    admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    point = reprise.contract.delivery_point
    url = reverse("admin:contracts_deliverypoint_change", args=[point.pk])
    page = html.unescape(client.get(url).content.decode())
    assert "puissance maximale du branchement (kva)" in page.lower()
    # Only the capacity is editable: a changed reference or voltage is ignored.
    response = client.post(url, {"max_power_kva": "18", "reference": "X", "voltage": "mt"})
    assert response.status_code == 302
    point.refresh_from_db()
    assert (point.max_power_kva, point.voltage, point.reference.startswith("PL-")) == (
        18,
        "bt",
        True,
    )
    change = DataChange.objects.filter(table="contracts_deliverypoint").latest("id")
    assert (change.old["max_power_kva"], change.new["max_power_kva"]) == (12, 18)
