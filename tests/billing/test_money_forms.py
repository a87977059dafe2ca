"""The money forms through HTTP: bounded values (no server error, nothing recorded on bad
input), a refusal that never shows the expected document number, invoice lines that show what
makes their amount, and a form sent many times at once that records once."""

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from billing.enums import InvoiceKind
from billing.models import AccountEntry, CreditNote, RefundAuthorisation, Settlement
from contracts.enums import RequestState
from contracts.models import Contract, Deposit
from tests.workflow import advance, create, worked_example_contract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

BAD_NUMBERS = [
    "9223372036854775808",
    "-1",
    "1e6",
    "12 000",
    "abc",
    "",
    "0x10",
    "١٢٣",
    "１２３",
    "3.5",
]


def fields_of(client, url) -> dict:
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["form"]
    return {name: form[name].value() for name in form.fields if form[name].value() is not None}


def test_the_advance_form_refuses_every_bad_amount_in_french(akpakpa, staff, client):
    contract = worked_example_contract(akpakpa)
    client.force_login(staff.cashier)
    url = reverse("advance_record", args=[contract.number])
    before = AccountEntry.objects.count()
    for value in [*BAD_NUMBERS, "0", "1000000000"]:
        data = fields_of(client, url) | {"amount": value, "mode": "cash", "confirm": "on"}
        response = client.post(url, data)
        assert response.status_code == 200, value
        errors = response.context["form"].errors["amount"]
        assert errors and all(e.startswith(("Saisissez", "Un montant", "Ce champ")) for e in errors)
    for field, value in [("mode", "bitcoin"), ("reference", "x" * 81), ("idempotency_key", "1")]:
        data = fields_of(client, url) | {"amount": "1000", "mode": "cash", "confirm": "on"}
        response = client.post(url, data | {field: value})
        assert response.status_code == 200 and field in response.context["form"].errors
    assert AccountEntry.objects.count() == before


@pytest.fixture
def refund(akpakpa, staff):
    contract = worked_example_contract(akpakpa)
    Deposit.objects.filter(contract=contract).update(
        amount=90000,
        payer_name="HOUNKPATIN Kossi Eméric",
        payer_id_document_type="passport",
        payer_id_document_number="B4512789",
    )
    return advance(create(contract, staff), staff, RequestState.INVOICED)


def test_the_money_forms_never_fail_and_record_nothing_on_bad_input(refund, staff, client):
    invoice = refund.invoices.get(kind=InvoiceKind.BALANCE)
    forms = [
        (staff.cashier, reverse("invoice_settle", args=[invoice.pk]), "amount"),
        (staff.supervisor, reverse("request_credit_note", args=[refund.pk]), "reason"),
        (
            staff.supervisor,
            reverse("request_refund_authorisation", args=[refund.pk]),
            "beneficiary_id_document_number",
        ),
    ]
    for user, url, field in forms:
        client.force_login(user)
        for value in [*BAD_NUMBERS, "x" * 300, "<script>alert(1)</script>", "\x00"]:
            data = {"action": "credit_note" if "avoir" in url else "authorise", field: value}
            if "reglement" in url:
                data = fields_of(client, url) | {field: value, "confirm": "on"}
            response = client.post(url, data)
            assert response.status_code in (200, 302), (url, value, response.status_code)
            assert "<script>alert(1)</script>" not in response.content.decode()
    assert not Settlement.objects.exists()
    assert not CreditNote.objects.exists()
    assert not RefundAuthorisation.objects.exists()


def test_the_refusal_of_a_wrong_id_never_shows_the_expected_number(refund, staff, client):
    invoice = refund.invoices.get(kind=InvoiceKind.BALANCE)
    client.force_login(staff.cashier)
    url = reverse("invoice_settle", args=[invoice.pk])
    data = fields_of(client, url) | {
        "amount": "33583",
        "mode": "cash",
        "beneficiary_id_document_type": "cni",
        "beneficiary_id_document_number": "1122334455",
        "confirm": "on",
    }
    page = client.post(url, data).content.decode()
    assert "Remboursement refusé" in page and "HOUNKPATIN Kossi Eméric" in page
    assert "se terminant par 789" in page
    assert "B4512789" not in page and "4512789" not in page
    contract_page = client.get(reverse("contract_detail", args=[refund.contract.number]))
    assert "B4512789" not in contract_page.content.decode()  # nor on the contract page
    assert not Settlement.objects.exists()


def test_invoice_lines_show_what_makes_their_amount_on_the_page_and_the_pdf(akpakpa, staff, client):
    contract = worked_example_contract(akpakpa)
    # 29 days: the social tranche's bound is 19 kWh, the fixed charge 29/30 of a month.
    Contract.objects.filter(pk=contract.pk).update(last_billed_date=dt.date(2026, 11, 1))
    request = advance(
        create(Contract.objects.get(pk=contract.pk), staff), staff, RequestState.INVOICED
    )
    invoice = request.invoices.get(kind=InvoiceKind.BALANCE)
    client.force_login(staff.reception)
    page = client.get(reverse("invoice_detail", args=[invoice.pk])).content.decode()
    nbsp = "\u00a0"
    for basis in (
        "Énergie tranche sociale (0 à 19 kWh sur 29 j)",
        f"19 kWh × 86{nbsp}FCFA",
        "Énergie tranche 2 (20 à 242 kWh sur 29 j)",
        f"223 kWh × 125{nbsp}FCFA",
        "Énergie tranche 3 (au-delà de 242 kWh sur 29 j)",
        f"58 kWh × 148{nbsp}FCFA",
        f"500{nbsp}FCFA × 6 kVA × 29/30 j",
        f"2{nbsp}900{nbsp}FCFA",
        f"300 kWh × 3{nbsp}FCFA",
    ):
        assert basis in page, basis
    from billing.documents import build_invoice_context, render_pdf
    from tests.billing.test_documents import text_of

    pdf = render_pdf("documents/invoice.html", build_invoice_context(invoice))
    text = text_of(pdf).replace(nbsp, " ")
    for basis in ("0 à 19 kWh sur 29 j", "500 FCFA × 6 kVA × 29/30 j", "19 kWh × 86 FCFA"):
        assert basis in text, basis


def race_posts(username, url, data, count):
    barrier = threading.Barrier(count)
    codes: list = []

    def send():
        client = Client()
        from contracts.models import User

        client.force_login(User.objects.get(username=username))
        barrier.wait()
        codes.append(client.post(url, data).status_code)
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return codes


@pytest.mark.django_db(transaction=True)
def test_forty_simultaneous_sends_of_one_advance_form_record_one(akpakpa, staff):
    contract = worked_example_contract(akpakpa)
    url = reverse("advance_record", args=[contract.number])
    data = {
        "idempotency_key": str(uuid.uuid4()),
        "amount": "15000",
        "mode": "cash",
        "reference": "",
        "confirm": "on",
    }
    codes = race_posts(staff.cashier.username, url, data, 40)
    assert codes == [302] * 40  # each sender is shown the one receipt
    advances = Settlement.objects.filter(contract=contract, kind="advance")
    assert advances.count() == 1
    assert AccountEntry.objects.filter(contract=contract, kind="advance", credit=15000).count() == 1
