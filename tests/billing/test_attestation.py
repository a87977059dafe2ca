"""The attestation de résiliation, issued at closure, and its public verification page: number,
date, contract number and status only, and whether a presented file is the one issued."""

import hashlib
import io
import re

import pytest
from django.urls import reverse
from pypdf import PdfReader

from billing.documents import verification_url
from billing.enums import DocumentKind
from billing.models import Attestation, Document
from contracts.enums import RequestState
from procedure import services
from tests.workflow import advance, create, documents_rendered, reload, worked_example_contract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def closed(akpakpa, staff):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.METER_REMOVED
    )
    services.termination_request_sign_removal(request, actor=staff.supervisor)
    with documents_rendered():
        services.termination_request_confirm_codification(request, actor=staff.acff)
    return reload(request)


def test_the_attestation_is_issued_at_closure_as_pdf_a_with_a_qr_code(closed):
    attestation = closed.attestation
    assert (attestation.number, attestation.final_index) == ("ATT-AKP-2026-000001", 12300)
    assert len(attestation.token) >= 32
    document = Document.objects.get(kind=DocumentKind.ATTESTATION)
    pdf = bytes(document.content)
    assert document.sha256 == hashlib.sha256(pdf).hexdigest()
    metadata = PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Metadata"].get_object().get_data()
    assert re.search(rb"pdfaid:part(>|=\")3", metadata)
    assert re.search(rb"pdfaid:conformance(>|=\")B", metadata)
    text = text_of(pdf)
    for expected in (
        "Attestation de résiliation",
        "ATT-AKP-2026-000001",
        "1010004512",
        "HOUNKPATIN Codjo Marcel",
        "30/11/2026",
        "12300 kWh",
        "FAC-AKP-2026-000001",
        "REC-AKP-2026-000001",
        "encaissement de 26 417 FCFA",
    ):
        assert expected in " ".join(text.replace("\u00a0", " ").split()), expected
    assert verification_url(attestation) in text.replace("\n", "")
    assert closed.events.get(action="confirm_codification").data["attestation"] == (
        attestation.number
    )


def test_the_public_page_shows_only_what_proves_it(closed, client):
    attestation = closed.attestation
    response = client.get(reverse("attestation_verify", args=[attestation.token]))
    assert response.status_code == 200  # no login
    html = response.content.decode()
    for shown in ("ATT-AKP-2026-000001", "30/11/2026", "1010004512", "Authentique"):
        assert shown in html
    customer = closed.contract.customer
    for personal in (
        customer.name,
        "HOUNKPATIN",
        customer.id_document_number,
        customer.phone,
        customer.address,
        closed.contract.delivery_point.address,
        closed.contract.meter.serial,
        "FCFA",
    ):
        assert personal not in html, personal
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_the_issued_file_matches_and_an_altered_one_does_not(closed, client):
    attestation = closed.attestation
    url = reverse("attestation_verify", args=[attestation.token])
    pdf = bytes(attestation.document.content)
    same = client.post(url, {"document": io.BytesIO(pdf)})
    page = " ".join(re.sub(r"<[^>]+>", "", same.content.decode()).split())
    assert "Le fichier présenté est identique à l'attestation émise (l'original)." in page
    middle = len(pdf) // 2
    altered = pdf[:middle] + bytes([pdf[middle] ^ 1]) + pdf[middle + 1 :]  # one bit changed
    other = client.post(url, {"document": io.BytesIO(altered)})
    body = other.content.decode()
    assert "ne correspond pas à l'attestation émise" in body
    assert hashlib.sha256(altered).hexdigest() in body
    assert "Choisissez le fichier" in client.post(url, {}).content.decode()


def test_an_unknown_token_is_not_found(closed, client):
    assert client.get(reverse("attestation_verify", args=["x" * 32])).status_code == 404
    token = closed.attestation.token
    assert client.get(reverse("attestation_verify", args=[token[:-1]])).status_code == 404
    assert Attestation.objects.count() == 1


def plain(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", response.content.decode()).split())


def test_every_copy_sbee_printed_verifies_as_what_it_is(closed, staff, client):
    attestation = closed.attestation
    document = attestation.document
    client.force_login(staff.reception)
    copies = [
        client.post(reverse("document_print", args=[document.pk]), follow=True).content
        for _ in range(3)
    ]
    assert copies[0] == bytes(document.content)
    client.logout()
    url = reverse("attestation_verify", args=[attestation.token])
    for copy in (1, 2):
        answer = plain(client.post(url, {"document": io.BytesIO(copies[copy])}))
        assert (
            f"Le fichier présenté est le duplicata n° {copy} de l'attestation "
            f"ATT-AKP-2026-000001, conforme" in answer
        ), copy
    # A consultation copy is not a copy SBEE hands out: it does not verify.
    client.force_login(staff.auditor)
    consultation = client.get(reverse("document_consultation", args=[document.pk])).content
    client.logout()
    answer = plain(client.post(url, {"document": io.BytesIO(consultation)}))
    assert "ne correspond pas à l'attestation émise" in answer
    assert list(attestation.checks.order_by("pk").values_list("copy", flat=True)) == [1, 2, None]


def test_uploads_are_throttled_per_address(closed, client, settings):
    settings.VERIFY_UPLOADS_PER_10_MINUTES = 3
    url = reverse("attestation_verify", args=[closed.attestation.token])
    for _ in range(3):
        assert client.post(url, {"document": io.BytesIO(b"%PDF-1.7 x")}).status_code == 200
    refused = client.post(url, {"document": io.BytesIO(b"%PDF-1.7 x")})
    assert refused.status_code == 429
    assert "Trop de vérifications depuis cette adresse" in refused.content.decode()
    other = client.post(url, {"document": io.BytesIO(b"%PDF")}, REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 200
    assert closed.attestation.checks.count() == 4


def test_an_oversized_upload_is_refused_before_it_is_read(closed, client):
    url = reverse("attestation_verify", args=[closed.attestation.token])
    refused = client.post(url, {"document": io.BytesIO(b"0" * (11 * 1024 * 1024))})
    assert refused.status_code == 413
    assert "Envoi trop volumineux : 10 Mo au plus" in refused.content.decode()
    assert not closed.attestation.checks.exists()
