import pytest
from django.urls import reverse

from contracts.enums import Role
from tests.factories import ContractFactory, CustomerFactory, MeterFactory, UserFactory

pytestmark = pytest.mark.django_db


def search(client, user, q):
    client.force_login(user)
    response = client.get(reverse("contract_search"), {"q": q})
    assert response.status_code == 200
    return [c.number for c in response.context["contracts"]]


@pytest.fixture
def houngbedji(akpakpa):
    customer = CustomerFactory(name="HOUNGBÉDJI Sèna Arnaud", phone="+2290196451278")
    return ContractFactory(
        number="1010004512",
        agency=akpakpa,
        customer=customer,
        meter=MeterFactory(serial="CE197845123"),
    )


@pytest.fixture
def other_contract(akpakpa):
    return ContractFactory(number="1010009999", agency=akpakpa)


def test_search_finds_by_full_contract_number(client, reception, houngbedji, other_contract):
    assert search(client, reception, "1010004512") == ["1010004512"]


def test_search_finds_by_contract_number_prefix(client, reception, houngbedji, other_contract):
    assert search(client, reception, "10100045") == ["1010004512"]


def test_search_finds_by_meter_serial_in_any_case(client, reception, houngbedji, other_contract):
    assert search(client, reception, "ce197845123") == ["1010004512"]


def test_search_finds_by_name_without_accents_in_lower_case(client, reception, houngbedji):
    assert search(client, reception, "houngbedji") == ["1010004512"]


def test_search_finds_by_name_with_accents_and_first_name(client, reception, houngbedji):
    assert search(client, reception, "Sèna arnaud") == ["1010004512"]


def test_search_finds_by_part_of_the_name(client, reception, houngbedji):
    assert search(client, reception, "GBEDJ") == ["1010004512"]


@pytest.mark.parametrize(
    "typed", ["01 96 45 12 78", "0196451278", "+229 01 96 45 12 78", "96451278"]
)
def test_search_finds_by_phone_as_typed(client, reception, houngbedji, other_contract, typed):
    assert search(client, reception, typed) == ["1010004512"]


def test_search_hides_another_agencys_contract(client, outsider, houngbedji):
    assert search(client, outsider, "houngbedji") == []
    assert search(client, outsider, "1010004512") == []


def test_search_shows_every_agency_to_an_auditor(client, auditor, houngbedji):
    assert search(client, auditor, "houngbedji") == ["1010004512"]


def test_search_without_a_match_says_so(client, reception, houngbedji):
    client.force_login(reception)
    response = client.get(reverse("contract_search"), {"q": "ZZZZZ"})
    assert "Aucun contrat ne correspond à « ZZZZZ »." in response.content.decode()


def test_search_page_without_query_lists_nothing(client, reception, houngbedji):
    client.force_login(reception)
    response = client.get(reverse("contract_search"))
    assert response.context["contracts"] == []
    assert response.context["searched"] is False


@pytest.mark.parametrize("rows", [1, 20])
def test_search_query_count_does_not_grow_with_rows(
    client, akpakpa, django_assert_num_queries, rows
):
    user = UserFactory(agency=akpakpa, roles=[Role.RECEPTION])
    for n in range(rows):
        ContractFactory(agency=akpakpa, customer=CustomerFactory(name=f"DOSSOU Kossi {n}"))
    client.force_login(user)
    # session, user with roles; number, serial and name criteria; the fetch; the session save
    # (3)
    with django_assert_num_queries(9):
        response = client.get(reverse("contract_search"), {"q": "dossou"})
    assert len(response.context["contracts"]) == rows
