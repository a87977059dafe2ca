import datetime as dt
import hashlib
import io
import re

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from pypdf import PdfReader
from weasyprint import CSS, HTML
from weasyprint.urls import FatalURLFetchingError

from billing.documents import (
    BASE_URL,
    SOURCES,
    STAMP_CSS,
    DocumentHTML,
    RefusedURL,
    StaticOnlyFetcher,
    _shared,
    _source,
    build_invoice_context,
    build_order_context,
    document_issue,
)
from billing.enums import DocumentKind, DocumentStatus, InvoiceKind, PaymentMode
from billing.models import Document, TariffCategory, TariffItem
from contracts.enums import RequestState, SecurityEventKind, TerminationKind
from contracts.models import Deposit, SecurityEvent
from interventions.enums import OrderKind
from procedure import services
from tests.workflow import (
    TODAY,
    advance,
    confirm_codification,
    create,
    credit_shown,
    documents_rendered,
    issue_and_sign,
    reload,
    take_over,
    validate_invoice,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text)  # lines wrap where the page is narrow


@pytest.fixture
def invoiced(akpakpa, staff):
    with documents_rendered():
        request = advance(
            create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED
        )
    return request


def test_invoice_context_is_built_without_weasyprint(invoiced):
    context = build_invoice_context(invoiced.invoices.get(kind=InvoiceKind.BALANCE))
    assert (context["balance_label"], context["balance_amount"]) == ("À PAYER", 26417)
    assert context["balance_words"] == "vingt-six mille quatre cent dix-sept francs CFA"
    assert context["number"] == "FAC-AKP-2026-000001"
    assert context["qr"].startswith("data:image/svg+xml")
    assert context["request_url"].endswith(f"/demandes/{invoiced.pk}/")


def test_order_context_carries_the_requester_and_the_meter(invoiced):
    order = invoiced.orders.get(kind=OrderKind.INTERRUPTION_READING)
    context = build_order_context(order)
    assert context["number"] == "OI-AKP-2026-000001"
    assert context["req"].requester_name == "HOUNKPATIN Codjo Marcel"
    assert context["contract"].meter.digits == 6


def test_balance_invoice_pdf_shows_number_identity_amounts_and_to_pay(invoiced):
    document = Document.objects.get(kind=DocumentKind.INVOICE)
    assert document.status == DocumentStatus.READY
    text = text_of(bytes(document.content))
    assert "FAC-AKP-2026-000001" in text
    assert "HOUNKPATIN Codjo Marcel" in text
    assert "49 417 FCFA" in text and "26 417 FCFA" in text
    assert "À PAYER" in text
    assert "vingt-six mille quatre cent dix-sept francs CFA" in text


def test_invoice_pdf_is_pdf_a_3b_with_a_title_and_french(invoiced):
    pdf = bytes(Document.objects.get(kind=DocumentKind.INVOICE).content)
    reader = PdfReader(io.BytesIO(pdf))
    metadata = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert re.search(rb"pdfaid:part(>|=\")3", metadata)
    assert re.search(rb"pdfaid:conformance(>|=\")B", metadata)
    assert reader.metadata.title.startswith("Facture de solde")
    assert reader.trailer["/Root"].get("/Lang") == "fr"


def test_refund_invoice_pdf_says_to_refund(akpakpa, staff):
    contract = worked_example_contract(akpakpa)
    Deposit.objects.filter(contract=contract).update(amount=90000)
    with documents_rendered():
        advance(create(contract, staff), staff, RequestState.INVOICED)
    text = text_of(bytes(Document.objects.get(kind=DocumentKind.INVOICE).content))
    assert "À REMBOURSER : 33 583 FCFA" in text


def test_orders_receipts_and_successor_contract_are_printed(akpakpa, staff):
    with documents_rendered():
        request = advance(
            create(worked_example_contract(akpakpa), staff), staff, RequestState.METER_REMOVED
        )
    removal = text_of(bytes(Document.objects.get(number="OI-AKP-2026-000002").content))
    assert "Ordre de dépose de compteur" in removal
    assert "Se munir de gants isolants BT" in removal and "la plomber" in removal
    first = text_of(bytes(Document.objects.get(number="OI-AKP-2026-000001").content))
    assert "Ordre d'interruption et de relève" in first
    assert "Signature du demandeur" in first and "HOUNKPATIN Codjo Marcel" in first
    assert request.contract.customer.id_document_number in first
    receipt = text_of(bytes(Document.objects.get(kind=DocumentKind.RECEIPT).content))
    assert "Reçu de caisse" in receipt and "REC-AKP-2026-000001" in receipt
    assert "26 417 FCFA" in receipt
    assert request.documents.count() == 4

    other = worked_example_contract(akpakpa, number="1010007777")
    with documents_rendered():
        takeover = create(other, staff, kind=TerminationKind.WITH_TAKEOVER)
        take_over(takeover, staff)
    contract_doc = Document.objects.get(kind=DocumentKind.SUCCESSOR_CONTRACT)
    text = text_of(bytes(contract_doc.content))
    assert "ZINSOU Afiavi Bérénice" in text and "12300 kWh" in text
    assert "30 000 FCFA" in text


def test_reprints_carry_duplicata_and_the_stored_original_never_changes(invoiced, staff, client):
    document = Document.objects.get(kind=DocumentKind.INVOICE)
    stored, sha = bytes(document.content), document.sha256
    client.force_login(staff.reception)
    copies = [
        client.post(reverse("document_print", args=[document.pk]), follow=True) for _ in "abc"
    ]
    assert [c["Content-Type"] for c in copies] == ["application/pdf"] * 3
    assert [c["Content-Disposition"] for c in copies] == [
        'inline; filename="FAC-AKP-2026-000001.pdf"',
        'inline; filename="FAC-AKP-2026-000001-duplicata-1.pdf"',
        'inline; filename="FAC-AKP-2026-000001-duplicata-2.pdf"',
    ]
    assert copies[0].content == stored  # the first print is the original, as issued
    texts = [text_of(c.content) for c in copies]
    assert "DUPLICATA" not in texts[0]
    assert "DUPLICATA n° 1" in texts[1] and "DUPLICATA n° 2" in texts[2]
    assert all("FAC-AKP-2026-000001" in t and "26 417 FCFA" in t for t in texts)
    document.refresh_from_db()
    assert (bytes(document.content), document.sha256) == (stored, sha)
    assert hashlib.sha256(stored).hexdigest() == sha
    assert [(p.copy, p.printed_by) for p in document.prints.all()] == [
        (0, staff.reception),
        (1, staff.reception),
        (2, staff.reception),
    ]
    assert not invoiced.events.filter(action="print").exists()  # a print is not a step


def test_a_copy_is_served_only_to_the_one_who_printed_it(invoiced, staff, client):
    document = Document.objects.get(kind=DocumentKind.INVOICE)
    client.force_login(staff.reception)
    client.post(reverse("document_print", args=[document.pk]))
    client.force_login(staff.cashier)
    response = client.get(reverse("document_copy", args=[document.pk, 0]))
    assert response.status_code == 404


def test_an_auditor_reads_a_consultation_copy_and_writes_nothing(invoiced, staff, client):
    document = Document.objects.get(kind=DocumentKind.INVOICE)
    client.force_login(staff.auditor)
    response = client.post(reverse("document_print", args=[document.pk]), follow=True)
    assert "COPIE DE CONSULTATION" in text_of(response.content)
    assert document.prints.count() == 0


def test_an_auditor_of_another_agency_and_the_chef_d_agence_read_it_too(
    invoiced, auditor, akpakpa, client
):
    """Printing another agency's document is no 404 for an auditor: DIG/DAI read every agency.
    The chef d'agence reads too, and records no print."""
    from contracts.enums import Role
    from tests.factories import UserFactory

    document = Document.objects.get(kind=DocumentKind.INVOICE)
    manager = UserFactory(username="akp.agence", agency=akpakpa, roles=[Role.MANAGER])
    for reader in (auditor, manager):
        client.force_login(reader)
        response = client.post(reverse("document_print", args=[document.pk]), follow=True)
        assert response.status_code == 200
        assert "COPIE DE CONSULTATION" in text_of(response.content)
    assert document.prints.count() == 0


def test_a_stored_pdf_whose_bytes_changed_is_not_served(invoiced, staff, client):
    document = Document.objects.get(kind=DocumentKind.INVOICE)
    with connection.cursor() as cursor:  # behind the application, as the tables' owner
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE billing_document DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE billing_document SET content = %s WHERE id = %s",
            [b"%PDF-1.7 forged", document.pk],
        )
        cursor.execute("ALTER TABLE billing_document ENABLE TRIGGER USER")
    client.force_login(staff.reception)
    response = client.post(reverse("document_print", args=[document.pk]))
    assert response.status_code == 409
    assert "ne correspond plus à son empreinte SHA-256" in response.content.decode()
    assert not document.prints.exists()  # no print recorded either
    client.force_login(staff.auditor)
    assert client.get(reverse("document_consultation", args=[document.pk])).status_code == 409
    refused = SecurityEvent.objects.filter(kind=SecurityEventKind.DOCUMENT_TAMPERED)
    assert [(e.actor, e.data["number"]) for e in refused.order_by("id")] == [
        (staff.reception, document.number),
        (staff.auditor, document.number),
    ]


def test_issuing_again_never_renders_twice(invoiced):
    document = Document.objects.get(kind=DocumentKind.INVOICE)
    again = document_issue(DocumentKind.INVOICE, document.invoice_id)
    assert (again.pk, again.sha256, again.issued_at) == (
        document.pk,
        document.sha256,
        document.issued_at,
    )


def test_a_validated_invoice_pdf_does_not_change_after_a_tariff_change(invoiced):
    document = Document.objects.get(kind=DocumentKind.INVOICE)
    TariffItem.objects.create(
        category=TariffCategory.objects.get(code="BT-DOM"),
        code="energie-tranche-2",
        label="Énergie tranche 2",
        kind="energy",
        value=200,
        from_kwh=20,
        to_kwh=250,
        vat_applies=True,
        valid_from=TODAY - dt.timedelta(days=40),
    )
    again = document_issue(DocumentKind.INVOICE, document.invoice_id)
    assert again.sha256 == document.sha256
    assert text_of(bytes(again.content)).count("26 417 FCFA") >= 1


def test_the_url_fetcher_refuses_the_network_and_files_outside_static():
    fetcher = StaticOnlyFetcher()
    with pytest.raises(RefusedURL):
        fetcher.fetch("http://127.0.0.1:8000/static/css/app.css")
    with pytest.raises(RefusedURL):
        fetcher.fetch("file:///etc/passwd")
    with pytest.raises(FatalURLFetchingError):
        HTML(
            string='<link rel="stylesheet" href="http://example.org/x.css"><p>x</p>',
            url_fetcher=StaticOnlyFetcher(),
        ).write_pdf()


def test_a_rendering_failure_leaves_the_action_intact_and_the_document_to_regenerate(
    invoiced, staff, client, monkeypatch
):
    from billing import documents

    def broken(*args, **kwargs):
        raise OSError("disque plein")

    invoice = invoiced.invoices.get(kind=InvoiceKind.BALANCE)
    with monkeypatch.context() as patched:
        patched.setattr(documents, "render_pdf", broken)
        with documents_rendered():
            services.termination_request_settle(
                invoice, actor=staff.cashier, amount=26417, mode=PaymentMode.CASH
            )
    receipt = Document.objects.get(kind=DocumentKind.RECEIPT)
    assert (receipt.status, receipt.error) == (
        DocumentStatus.TO_REGENERATE,
        "OSError: disque plein",
    )
    assert invoice.settlement.number == "REC-AKP-2026-000001"  # the settlement stands
    client.force_login(staff.cashier)
    page = client.get(reverse("request_detail", args=[invoiced.pk])).content.decode()
    assert "à régénérer" in page
    client.post(reverse("document_regenerate", args=[receipt.pk]))
    receipt.refresh_from_db()
    assert receipt.status == DocumentStatus.READY


def test_every_other_kind_of_document_carries_its_number_and_its_words(akpakpa, staff):
    import time_machine

    from procedure.services import issue_due_orders
    from tests.factories import ContractFactory, CustomerFactory, TariffCategoryFactory

    # Anticipated BT: reading order, a refund voucher, a complementary invoice.
    contract = worked_example_contract(akpakpa)
    Deposit.objects.filter(contract=contract).update(amount=90000)
    with documents_rendered():
        request = advance(
            create(contract, staff), staff, RequestState.INVOICED, timing="anticipated"
        )
        deposit = Deposit.objects.get(contract=contract)
        services.termination_request_settle(
            request.invoices.get(kind=InvoiceKind.BALANCE),
            actor=staff.cashier,
            amount=33583,
            mode=PaymentMode.CASH,
            beneficiary_id_document_type=deposit.payer_id_document_type,
            beneficiary_id_document_number=deposit.payer_id_document_number,
        )
    reading = text_of(bytes(Document.objects.get(number="OI-AKP-2026-000001").content))
    assert "Ordre de relève d'index" in reading and "Relevé seul (pas de coupure)" in reading
    voucher = text_of(bytes(Document.objects.get(kind=DocumentKind.RECEIPT).content))
    assert "Bon de remboursement" in voucher and "33 583 FCFA" in voucher
    assert "trente-trois mille cinq cent quatre-vingt-trois francs CFA" in voucher
    issue_due_orders(TODAY + dt.timedelta(days=10))
    with (
        time_machine.travel(dt.datetime(2026, 12, 10, 9, 0, tzinfo=dt.UTC), tick=False),
        documents_rendered(),
    ):
        services.termination_request_report_removal(
            request,
            actor=staff.arpnt,
            index_read=12360,
            read_on=dt.date(2026, 12, 10),
            cut_done=True,
            safety_steps_confirmed=list(range(1, 9)),
            remarks=[],
        )
        services.termination_request_sign_removal(request, actor=staff.supervisor)
        confirm_codification(request, actor=staff.acff)
    extra = request.invoices.get(kind=InvoiceKind.COMPLEMENTARY)
    text = text_of(bytes(extra.document.content))
    assert "Facture complémentaire" in text and extra.number in text
    assert f"À PAYER : {extra.total:,} FCFA".replace(",", " ") in text

    # MT anticipated: the final interruption order. Reprise: the subscription invoice.
    mt = TariffCategoryFactory(code="MT-GEN")
    company = CustomerFactory(
        kind="company",
        name="Rizerie du Borgou SARL",
        id_document_type="rccm",
        id_document_number="RB/PKO/18 B 987",
    )
    mt_contract = ContractFactory(
        agency=akpakpa,
        customer=company,
        tariff_category=mt,
        delivery_point__voltage="mt",
        subscribed_power_kva=160,
        last_billed_index=500000,
        meter__digits=7,
        deposit__amount=3_200_000,
    )
    mt_request = create(mt_contract, staff)
    issue_and_sign(mt_request, staff, timing="anticipated", cut_date=TODAY + dt.timedelta(days=2))
    services.termination_request_report_field(
        mt_request,
        actor=staff.reader,
        index_read=510000,
        read_on=TODAY,
        cut_done=False,
        cut_index=None,
        remarks=[],
        high_consumption_confirmed=True,
    )
    invoice = validate_invoice(mt_request, actor=staff.reception)
    mt_deposit = Deposit.objects.get(contract=mt_contract)
    services.termination_request_settle(
        invoice,
        actor=staff.cashier,
        amount=-invoice.balance,
        mode=PaymentMode.TRANSFER,
        reference="VIR-1",
        beneficiary_id_document_type=mt_deposit.payer_id_document_type,
        beneficiary_id_document_number=mt_deposit.payer_id_document_number,
    )
    issue_due_orders(TODAY + dt.timedelta(days=2))
    final = mt_request.orders.get(kind=OrderKind.FINAL_INTERRUPTION)
    document = document_issue(DocumentKind.ORDER, final.pk)
    text = text_of(bytes(document.content))
    assert "Ordre de coupure définitive" in text and "reste en place" in text
    assert "dépose" not in text.lower()

    takeover = create(
        worked_example_contract(akpakpa, number="1010008888"),
        staff,
        kind=TerminationKind.WITH_TAKEOVER,
    )
    with documents_rendered():
        take_over(takeover, staff)
    subscription = takeover.invoices.get(kind=InvoiceKind.SUBSCRIPTION)
    text = text_of(bytes(subscription.document.content))
    assert "Facture d'abonnement" in text and "ZINSOU Afiavi Bérénice" in text
    assert "Frais de police" in text and "À PAYER : 33 000 FCFA" in text


def print_copy(client, user, document) -> bytes:
    client.force_login(user)
    response = client.post(reverse("document_print", args=[document.pk]), follow=True)
    assert response["Content-Type"] == "application/pdf"
    return response.content


def test_a_receipt_reprint_is_a_duplicate(akpakpa, staff, client):
    with documents_rendered():
        request = advance(
            create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED
        )
        services.termination_request_settle(
            request.invoices.get(), actor=staff.cashier, amount=26417, mode=PaymentMode.CASH
        )
    receipt = Document.objects.get(kind=DocumentKind.RECEIPT)
    first = print_copy(client, staff.cashier, receipt)
    second = print_copy(client, staff.cashier, receipt)
    assert first == bytes(receipt.content)
    assert "DUPLICATA n° 1" in text_of(second) and "REC-AKP-2026-000001" in text_of(second)


def test_an_order_of_a_cancelled_request_prints_cancelled(akpakpa, staff, client):
    request = create(worked_example_contract(akpakpa), staff)
    issue_and_sign(request, staff)  # printed once, as the original
    services.termination_request_cancel(request, actor=staff.reception, reason="Erreur")
    document = Document.objects.get(kind=DocumentKind.ORDER)
    text = text_of(print_copy(client, staff.reception, document))
    assert "ANNULÉ" in text and "NE PAS EXÉCUTER" in text
    assert "DUPLICATA" not in text  # an order is a working paper, not a duplicate
    assert "OI-AKP-2026-000001" in text


def test_an_order_reassigned_after_printing_names_its_new_agent(akpakpa, staff, client):
    from contracts.enums import Role
    from tests.factories import UserFactory

    request = create(worked_example_contract(akpakpa), staff)
    issue_and_sign(request, staff, assignee=staff.reader)
    other = UserFactory(
        username="akp.releve2",
        first_name="Rodrigue",
        last_name="AGBO",
        agency=akpakpa,
        roles=[Role.READER],
    )
    services.termination_request_reassign_order(request, actor=staff.supervisor, assignee=other)
    document = Document.objects.get(kind=DocumentKind.ORDER)
    original = text_of(bytes(document.content))
    assert "agent : Sènami ADJOVI" in original and "akp.releve" not in original
    text = text_of(print_copy(client, staff.reception, document))
    assert "Réaffecté le 30/11/2026 à Rodrigue AGBO" in text


def test_the_removal_order_fits_on_one_a4_page(akpakpa, staff):
    contract = worked_example_contract(akpakpa)
    contract.delivery_point.address = (
        "Quartier Sègbèya, carré 1245, maison HOUNKPATIN, rue à droite après la pharmacie "
        "du Bon Samaritain, portail bleu, 3e compteur à gauche dans la cour commune"
    )
    contract.delivery_point.save()
    with documents_rendered():
        request = advance(create(contract, staff), staff, RequestState.REMOVAL_ORDERED)
    removal = request.orders.get(kind=OrderKind.REMOVAL)
    pdf = bytes(Document.objects.get(order=removal).content)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4
    text = text_of(pdf)
    assert "Signature de l'agent ARPNT" in text and "Contrôle ACFF" in text
    assert "Fermer la boîte de dérivation et la plomber" in text


def test_a_document_is_written_with_its_action_and_printed_before_the_worker_gets_to_it(
    akpakpa, staff, client
):
    """The action writes the document's row ("en cours de production") and its rendering job in
    its own transaction; the page says so; printing it renders it at once, and the worker's
    job then finds it stored and renders nothing."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    document = Document.objects.get(kind=DocumentKind.INVOICE)
    assert (document.status, document.sha256) == (DocumentStatus.PENDING, "")
    job = ProcrastinateJob.objects.get(
        task_name="billing.render_document", args={"kind": "invoice", "pk": document.invoice_id}
    )
    client.force_login(staff.cashier)
    page = client.get(reverse("request_detail", args=[request.pk])).content.decode()
    assert "en cours de production" in page
    response = client.post(reverse("document_print", args=[document.pk]), follow=True)
    assert response["Content-Type"] == "application/pdf"
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    stored = document.sha256
    from billing.tasks import render_document

    render_document(**job.args)  # the worker's turn: already stored
    document.refresh_from_db()
    assert document.sha256 == stored


def test_a_document_still_in_production_after_a_quarter_of_an_hour_may_be_regenerated(
    akpakpa, staff, client
):
    """The workers are down: a quarter of an hour later the issuing role is offered
    "Régénérer", which renders it."""
    import time_machine

    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    document = Document.objects.get(kind=DocumentKind.INVOICE)
    client.force_login(staff.reception)
    url = reverse("request_detail", args=[request.pk])
    assert "Régénérer" not in client.get(url).content.decode()
    with time_machine.travel(document.created_at + dt.timedelta(minutes=16)):
        client.force_login(staff.reception)
        page = client.get(url).content.decode()
        assert "en cours de production depuis le" in page
        assert "Régénérer" in page
        client.post(reverse("document_regenerate", args=[document.pk]))
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY


def test_a_reprint_of_an_invoice_cancelled_by_a_credit_note_says_so(invoiced, staff, client):
    document = Document.objects.get(kind=DocumentKind.INVOICE)
    print_copy(client, staff.reception, document)  # the original, handed to the customer
    request = reload(invoiced)
    services.termination_request_cancel_balance_invoice(
        request, actor=staff.supervisor, reason="Index mal saisi", shown=credit_shown(request)
    )

    def flat(text: str) -> str:  # the banner may wrap anywhere
        return "".join(text.split())

    reprint = flat(text_of(print_copy(client, staff.reception, document)))
    assert "DUPLICATAn°1" in reprint
    assert flat("FACTURE ANNULÉE par l'avoir AV-AKP-2026-000001 du 30/11/2026") in reprint
    assert "NEPASPAYER" in reprint and "ANNULÉ" in reprint
    # The consultation copy an auditor reads says it too.
    client.force_login(staff.auditor)
    consulted = client.get(reverse("document_consultation", args=[document.pk]))
    assert flat("FACTURE ANNULÉE par l'avoir AV-AKP-2026-000001") in flat(
        text_of(consulted.content)
    )


def test_the_arrete_prints_its_movements_and_the_audit_anchor(akpakpa, staff, settings, tmp_path):
    from contracts.audit import anchor, verify_anchor
    from tests.workflow import close_cash_desk

    settings.AUDIT_ANCHOR_FILE = tmp_path / "ancres.txt"
    with documents_rendered():
        request = advance(
            create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED
        )
        services.termination_request_settle(
            request.invoices.get(kind=InvoiceKind.BALANCE),
            actor=staff.cashier,
            amount=26417,
            mode=PaymentMode.CASH,
        )
        closing = close_cash_desk(staff.cashier, TODAY)
    text = text_of(bytes(Document.objects.get(cash_closing=closing).content))
    lines = text.splitlines()
    assert any("REC-AKP-2026-000001" in line and "1010004512" in line for line in lines)
    now = anchor()
    printed = " ".join(text.split())
    assert f"sécurité n° {now.security_id} {now.security_head[:16]}" in printed
    assert f"demandes n° {now.events_id} {now.events_heads[:16]}" in printed
    # What the paper carries is enough to check the chains against later.
    kept = settings.AUDIT_ANCHOR_FILE.read_text().splitlines()[-1]
    assert verify_anchor(now) == [] and kept.startswith("ANCRE ")


def drawing(pdf: bytes) -> list[bytes]:
    """Each page's drawing instructions: text, lines, positions (not the file's metadata)."""
    return [page.get_contents().get_data() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_the_documents_user_agent_stylesheet_draws_them_as_weasyprint_s_own(akpakpa, staff):
    """static/documents/ua.css replaces WeasyPrint's user-agent stylesheet (a tenth of the
    rendering): every kind of document, and a reprint's stamp, must be drawn exactly as with
    WeasyPrint's own. A template that starts using an element the cut sheet does not style
    fails here."""
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.METER_REMOVED
    )
    takeover = create(
        worked_example_contract(akpakpa, number="1010008888"),
        staff,
        kind=TerminationKind.WITH_TAKEOVER,
    )
    take_over(takeover, staff)
    for bill in reload(takeover).invoices.order_by("id"):
        services.termination_request_settle(
            bill, actor=staff.cashier, amount=bill.balance, mode=PaymentMode.CASH
        )
    font_config, stylesheet, fetcher = _shared()

    def both(html: str, stylesheets, variant=None):
        return [
            drawing(
                cls(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf(
                    stylesheets=stylesheets, font_config=font_config, pdf_variant=variant
                )
            )
            for cls in (HTML, DocumentHTML)
        ]

    kinds = set()
    for document in Document.objects.filter(request__in=[request, takeover]):
        source = SOURCES[document.kind]
        pk = (
            document.request_id
            if source.model is type(request)
            else getattr(document, f"{source.link}_id")
        )
        number, _, _, template, build, variant = _source(document.kind, pk)
        own, cut = both(render_to_string(template, build()), [stylesheet], variant)
        assert own == cut, number
        kinds.add(document.kind)
    assert {"order", "invoice", "receipt", "attestation", "successor_contract"} <= kinds

    stamp = render_to_string(
        "documents/stamp.html",
        {"banner": "DUPLICATA n° 2", "cancelled": True, "signature": None},
    )
    sheet = CSS(string=STAMP_CSS, base_url=BASE_URL, font_config=font_config, url_fetcher=fetcher)
    own, cut = both(stamp, [sheet])
    assert own == cut
