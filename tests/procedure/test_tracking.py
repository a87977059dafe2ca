"""The customer's page (/suivi/): the request's number and tracking code open it; it says
where the request stands, what comes next and what to pay, and nothing else about the customer;
a wrong code and an unknown number get the same answer; it is throttled."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts.enums import RequestState
from contracts.tracking import tracking_code
from procedure.tracking import NOT_FOUND, TOO_MANY
from tests.workflow import advance, create, worked_example_contract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def shape(sql: str) -> str:
    return re.sub(r"\b\d+\b|'[^']*'", "?", sql)


def look(client, number, code, address="10.0.0.1"):
    return client.post(reverse("tracking"), {"demande": number, "code": code}, REMOTE_ADDR=address)


def test_the_number_and_its_code_open_the_request_and_nothing_more(akpakpa, staff, client):
    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    assert client.get(reverse("tracking")).status_code == 200  # no login
    response = look(client, request.pk, tracking_code(request.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Votre facture de solde est établie." in html
    invoice = request.invoices.get(kind="balance")
    assert f"{invoice.balance:,}".replace(",", "\u00a0") in html
    assert "Cotonou Akpakpa" in html and "avant le 30/12/2026" in html
    for private in (
        request.requester_name,
        request.requester_id_document_number,
        request.contract.customer.address,
        request.contract.meter.serial,
        request.requester_phone,
    ):
        assert private not in html
    assert len(response.content) < 10_000
    assert "<script" not in html


def test_a_wrong_code_and_an_unknown_number_answer_alike(akpakpa, staff, client):
    request = create(worked_example_contract(akpakpa), staff)
    with CaptureQueriesContext(connection) as asked_wrong:
        wrong = look(client, request.pk, "00000000")
    with CaptureQueriesContext(connection) as asked_unknown:
        unknown = look(client, request.pk + 1000, tracking_code(request.pk + 1000))
    # The same statements, whether the number exists or not (the time is measured by
    # `make bench-tracking`).
    assert [shape(q["sql"]) for q in asked_wrong] == [shape(q["sql"]) for q in asked_unknown]

    def refusal(response):
        return re.search(r'<p class="error" role="alert">(.*?)</p>', response.content.decode())[1]

    assert wrong.status_code == unknown.status_code == 200
    assert refusal(wrong) == refusal(unknown) == NOT_FOUND.replace("'", "&#x27;")


def test_the_page_is_throttled_per_number_and_per_address(akpakpa, staff, client):
    request = create(worked_example_contract(akpakpa), staff)
    for n in range(5):
        assert (
            look(client, request.pk, "1111111" + str(n), address=f"10.0.1.{n}").status_code == 200
        )
    blocked = look(client, request.pk, tracking_code(request.pk), address="10.0.2.1")
    assert blocked.status_code == 429
    assert TOO_MANY.replace("'", "&#x27;") in blocked.content.decode()
    for n in range(20):
        look(client, 900000 + n, "12345678", address="10.0.3.1")
    assert look(client, 999999, "12345678", address="10.0.3.1").status_code == 429
    assert look(client, 999999, "12345678", address="10.0.3.2").status_code == 200
