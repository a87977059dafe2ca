import pytest
from django.urls import reverse

from billing.enums import EntryKind
from tests.factories import AccountEntryFactory, ContractFactory, CustomerFactory, InvoiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract(akpakpa):
    customer = CustomerFactory(
        name="AGBODJAN Afiavi Bérénice",
        id_document_type="cip",
        id_document_number="4512789630",
        phone="+2290161234567",
        address="Quartier Agbato, carré 812, Cotonou",
    )
    contract = ContractFactory(
        number="1010004700", agency=akpakpa, customer=customer, deposit__amount=30000
    )
    contract.deposit.payer_name = "AGBODJAN Codjo Marcel"
    contract.deposit.save()
    invoice = InvoiceFactory(contract=contract, number="CONSO-2610-1010004700", total=12000)
    AccountEntryFactory(
        contract=contract,
        kind=EntryKind.INVOICE,
        debit=12000,
        credit=0,
        invoice=invoice,
        label="Facture de consommation CONSO-2610-1010004700",
    )
    AccountEntryFactory(contract=contract, kind=EntryKind.ADVANCE, credit=5000)
    return contract


def page(client, user, number):
    client.force_login(user)
    return client.get(reverse("contract_detail", args=[number]))


def test_contract_page_shows_customer_identity_and_deposit_payer(client, reception, contract):
    html = page(client, reception, "1010004700").content.decode()
    assert "AGBODJAN Afiavi Bérénice" in html
    assert "Certificat d&#x27;identification personnelle (CIP) n° 4512789630" in html
    assert "01 61 23 45 67" in html
    assert "AGBODJAN Codjo Marcel" in html  # the deposit was paid by someone else
    assert "30\u00a0000\u00a0FCFA" in html


def test_contract_page_shows_balance_and_open_items(client, reception, contract):
    response = page(client, reception, "1010004700")
    account = response.context["account"]
    assert account.balance == 7000
    assert account.unpaid_total == 12000
    assert account.advances_total == 5000
    assert [i.number for i in account.unpaid_invoices] == ["CONSO-2610-1010004700"]
    html = response.content.decode()
    assert "7\u00a0000\u00a0FCFA dus par le client" in html
    assert "31/10/2026" in html  # last billed date, as the agencies write dates


def test_contract_page_of_another_agency_is_not_found(client, outsider, contract):
    assert page(client, outsider, "1010004700").status_code == 404


def test_contract_page_is_open_to_an_auditor_of_another_agency(client, auditor, contract):
    assert page(client, auditor, "1010004700").status_code == 200


def test_contract_page_requires_login(client, contract):
    response = client.get(reverse("contract_detail", args=["1010004700"]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_contract_page_query_count_does_not_grow_with_movements(
    client, reception, contract, django_assert_num_queries
):
    client.force_login(reception)
    url = reverse("contract_detail", args=["1010004700"])
    client.get(url)  # the first page after logging in moves the session's expiry on
    # The session, the user with their roles (one query), the page's; the session is not
    # written again within a minute.
    with django_assert_num_queries(6):
        client.get(url)
    for _ in range(20):
        AccountEntryFactory(contract=contract, kind=EntryKind.ADVANCE, credit=1000)
        InvoiceFactory(contract=contract)
    with django_assert_num_queries(6):
        client.get(url)


def test_terminated_contract_is_shown_as_such(client, reception, akpakpa):
    import datetime as dt

    ContractFactory(
        number="1010004800", agency=akpakpa, status="terminated", end_date=dt.date(2026, 11, 2)
    )
    html = page(client, reception, "1010004800").content.decode()
    assert "Résilié le</dt><dd>02/11/2026" in html
