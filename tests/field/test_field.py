"""The field app's server side: the day's orders as JSON, each report by the identifier made on
the phone (the same content once, other content refused), checked like a report typed at the
agency, a conflict kept when the order changed meanwhile, the photo kept with its hash."""

import hashlib
import io
import json
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contracts.enums import RequestState, Role
from interventions.enums import OrderStatus, SubmissionOutcome
from interventions.models import (
    FieldSubmission,
    IndexPhoto,
    InterventionReport,
    PhotoRule,
    VisitAttempt,
)
from procedure import services
from tests.factories import UserFactory
from tests.workflow import TODAY, advance, create, reload, worked_example_contract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

JPEG = b"\xff\xd8\xff\xe0" + b"photo de l'afficheur" * 50


@pytest.fixture
def order(akpakpa, staff):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.ORDER_ISSUED
    )
    return request.orders.get()


def reading(**changes):
    fields = {
        "index_read": 12300,
        "read_on": TODAY.isoformat(),
        "cut_done": True,
        "cut_index": 12300,
        "remarks": [],
    }
    return {**fields, **changes}


def send(client, order, *, client_id=None, kind="releve", fields=None, photo=None, **extra):
    data = {
        "id": client_id or str(uuid.uuid4()),
        "nature": kind,
        "ordre": order.number,
        "champs": json.dumps(reading() if fields is None else fields),
        "fait_le": "2026-11-30T10:15:00+01:00",
        **extra,
    }
    if photo is not None:
        data["photo"] = SimpleUploadedFile("index.jpg", photo, content_type="image/jpeg")
    return client.post(reverse("field_send"), data)


def test_the_day_lists_the_crews_orders_with_what_it_needs(client, staff, order):
    client.force_login(staff.reader)
    day = client.get(reverse("field_day")).json()
    (sent,) = day["ordres"]
    assert sent["numero"] == order.number and sent["envoi"] == "releve"
    assert sent["compteur"] == order.request.contract.meter.serial
    assert sent["dernier_index"] == 12000 and sent["travail"].startswith("Relever l'index")
    assert day["jeton"] and day["envois"] == []
    client.force_login(staff.arpnt)  # step 5 names the ARPNT agent: an order for anyone
    assert [o["numero"] for o in client.get(reverse("field_day")).json()["ordres"]] == [
        order.number
    ]
    services.termination_request_reassign_order(
        order.request, actor=staff.supervisor, assignee=staff.reader
    )
    assert client.get(reverse("field_day")).json()["ordres"] == []  # confided to the reader
    client.force_login(staff.cashier)
    assert client.get(reverse("field_day")).status_code == 403


def test_a_report_sent_twice_is_entered_once_and_other_content_is_refused(client, staff, order):
    client.force_login(staff.reader)
    client_id = str(uuid.uuid4())
    first = send(client, order, client_id=client_id, photo=JPEG, lat="6.3703", lon="2.4470")
    assert first.status_code == 200
    assert first.json()["resultat"] == SubmissionOutcome.ACCEPTED
    assert first.json()["deja_recu"] is False
    again = send(client, order, client_id=client_id, photo=JPEG, lat="6.3703", lon="2.4470")
    assert again.status_code == 200 and again.json()["deja_recu"] is True
    assert again.json()["resultat"] == SubmissionOutcome.ACCEPTED
    assert InterventionReport.objects.count() == 1 and FieldSubmission.objects.count() == 1
    assert reload(order.request).state == RequestState.FIELD_REPORTED
    edited = send(client, order, client_id=client_id, fields=reading(index_read=12310))
    assert edited.status_code == 409
    assert edited.json()["message"].startswith("Ce compte-rendu a déjà été reçu avec un autre")
    assert InterventionReport.objects.count() == 1
    submission = FieldSubmission.objects.get()
    assert submission.report == InterventionReport.objects.get()
    assert (submission.latitude, submission.longitude) == (6.3703, 2.447)
    # Where it was made, against the delivery point's position when known (100 m north).
    point = order.request.contract.delivery_point
    type(point).objects.filter(pk=point.pk).update(latitude=6.3712, longitude=2.4470)
    assert FieldSubmission.objects.get().distance_m == 100
    client.force_login(staff.supervisor)
    page = client.get(reverse("request_detail", args=[order.request_id])).content.decode()
    assert "à 100 m du point de livraison" in page
    photo = IndexPhoto.objects.get()
    assert (
        photo.sha256
        == hashlib.sha256(JPEG).hexdigest()
        == hashlib.sha256(bytes(photo.content)).hexdigest()
    )


def test_a_report_is_checked_like_one_typed_at_the_agency(client, staff, order, parakou):
    client.force_login(staff.reader)
    wrong = send(client, order, fields=reading(cut_index=12290))
    assert wrong.json()["resultat"] == SubmissionOutcome.REFUSED
    assert "ne peut pas être inférieur à l'index relevé" in wrong.json()["message"]
    empty = send(client, order, fields=reading(index_read=""))
    assert empty.json()["resultat"] == SubmissionOutcome.REFUSED
    assert "Index relevé" in empty.json()["message"]
    assert not InterventionReport.objects.exists()
    assert FieldSubmission.objects.filter(outcome=SubmissionOutcome.REFUSED).count() == 2
    # Refused ones are listed for the crew, with their reasons.
    assert len(client.get(reverse("field_day")).json()["envois"]) == 2
    # Another agency's order: nothing kept.
    other = UserFactory(agency=parakou, roles=[Role.READER, Role.ARPNT])
    client.force_login(other)
    assert send(client, order).status_code == 400


def test_the_photo_is_served_to_the_agency_only(client, staff, order, akpakpa):
    from tests.factories import AgencyFactory

    client.force_login(staff.reader)
    send(client, order, photo=JPEG)
    photo = IndexPhoto.objects.get()
    client.force_login(staff.supervisor)
    served = client.get(reverse("index_photo", args=[photo.pk]))
    assert served["Content-Type"] == "image/jpeg" and served.content == JPEG
    page = client.get(reverse("request_approve_report", args=[order.request_id]))
    assert reverse("index_photo", args=[photo.pk]) in page.content.decode()
    outsider = UserFactory(agency=AgencyFactory(code="GBE"), roles=[Role.SUPERVISOR])
    client.force_login(outsider)
    assert client.get(reverse("index_photo", args=[photo.pk])).status_code == 404


def test_a_failed_visit_from_the_field(client, staff, order):
    client.force_login(staff.reader)
    response = send(
        client,
        order,
        kind="visite",
        fields={"visited_on": TODAY.isoformat(), "reason": "absent", "reason_detail": ""},
    )
    assert response.json()["resultat"] == SubmissionOutcome.ACCEPTED
    assert VisitAttempt.objects.get().submission == FieldSubmission.objects.get()
    order.refresh_from_db()
    assert order.status == OrderStatus.VISIT_FAILED


def test_an_order_reassigned_meanwhile_keeps_the_report_as_a_conflict(
    client, staff, order, akpakpa
):
    other = UserFactory(username="akp.releve2", agency=akpakpa, roles=[Role.READER])
    services.termination_request_reassign_order(
        order.request, actor=staff.supervisor, assignee=other
    )
    client.force_login(staff.reader)
    response = send(client, order)
    assert response.json()["resultat"] == SubmissionOutcome.CONFLICT
    assert "a été confié à" in response.json()["message"]
    assert not InterventionReport.objects.exists()
    conflict = FieldSubmission.objects.get()
    assert conflict.outcome == SubmissionOutcome.CONFLICT and conflict.payload["champs"]
    (listed,) = client.get(reverse("field_day")).json()["envois"]
    assert listed["resultat"] == SubmissionOutcome.CONFLICT
    assert order.request.events.filter(action="field_conflict").count() == 1

    # The supervisor says what was done with it, once; nobody else does.
    from accounts.rules import StepRefused

    with pytest.raises(StepRefused, match="Indiquez la suite donnée"):
        services.termination_request_review_field_conflict(
            conflict, actor=staff.supervisor, note=" "
        )
    with pytest.raises(PermissionDenied):
        services.termination_request_review_field_conflict(conflict, actor=staff.reader, note="vu")
    services.termination_request_review_field_conflict(
        conflict, actor=staff.supervisor, note="Ressaisi par l'agent désigné."
    )
    with pytest.raises(StepRefused, match="déjà été examiné"):
        services.termination_request_review_field_conflict(
            conflict, actor=staff.supervisor, note="encore"
        )
    assert order.request.events.filter(action="field_conflict_reviewed").count() == 1


def test_a_photo_required_by_the_admin(client, staff, order):
    PhotoRule.objects.create(kind="releve", required=True)
    client.force_login(staff.reader)
    without = send(client, order)
    assert without.json()["resultat"] == SubmissionOutcome.REFUSED
    assert without.json()["message"] == "La photo de l'index est exigée pour ce compte-rendu."
    not_a_photo = send(client, order, photo=b"%PDF-1.7 ...")
    assert not_a_photo.status_code == 400
    assert send(client, order, photo=JPEG).json()["resultat"] == SubmissionOutcome.ACCEPTED


@pytest.mark.django_db(transaction=True)
def test_the_same_report_sent_from_ten_connections_at_once_is_entered_once(akpakpa, staff):
    from django.test import Client

    from tests.test_concurrency import race

    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.ORDER_ISSUED
    )
    order = request.orders.get()
    client_id = str(uuid.uuid4())

    def one():
        client = Client()
        client.force_login(staff.reader)
        return send(client, order, client_id=client_id).json()["resultat"]

    results = race(*[one for _ in range(10)])
    assert [r for _, r in results] == [SubmissionOutcome.ACCEPTED] * 10
    assert InterventionReport.objects.count() == 1 and FieldSubmission.objects.count() == 1


def test_the_app_its_worker_and_its_manifest(client, staff):
    client.force_login(staff.reader)
    page = client.get(reverse("field_app"))
    assert page.status_code == 200 and "Ma tournée" in page.content.decode()
    client.logout()
    worker = client.get(reverse("field_service_worker"))
    assert worker["Content-Type"].startswith("application/javascript")
    assert "workbox-precaching" in worker.content.decode()
    manifest = client.get(reverse("field_manifest")).json()
    assert manifest["start_url"] == "/terrain/" and manifest["display"] == "standalone"


def test_the_app_is_light_on_first_load_and_a_report_is_small(client, staff, order):
    """The field app's first load, compressed as gzip would send it (the page, its styles and
    scripts, the service worker and the manifest) stays under 30 KB; a report sent without its
    photo stays under 5 KB."""
    import gzip

    from django.contrib.staticfiles import finders
    from django.test.client import BOUNDARY, encode_multipart

    from field.views import APP_FILES

    client.force_login(staff.reader)
    pages = [
        client.get(reverse(name), HTTP_ACCEPT_ENCODING="gzip, deflate, br")
        for name in ("field_app", "field_service_worker", "field_manifest")
    ]
    # Compressed by the application (the manifest, a few hundred bytes, only when it pays).
    assert pages[0]["Content-Encoding"] == pages[1]["Content-Encoding"] == "gzip"
    sent = sum(len(p.content) for p in pages)
    served = []
    files = [*APP_FILES] + [
        f"vendor/workbox/workbox-{m}.prod.js"
        for m in ("core", "routing", "strategies", "precaching")
    ]
    served += [Path(finders.find(f)).read_bytes() for f in files]
    compressed = sent + sum(len(gzip.compress(body, 9)) for body in served)
    assert compressed < 30 * 1024, compressed
    print(f"\nPremier chargement de l'application, compressé : {compressed} octets")
    body = encode_multipart(
        BOUNDARY,
        {
            "id": str(uuid.uuid4()),
            "nature": "releve",
            "ordre": order.number,
            "champs": json.dumps(reading(remarks=["rotten_panel"], remarks_other="x" * 100)),
            "fait_le": "2026-11-30T10:15:00.000Z",
            "lat": "6.370312",
            "lon": "2.447031",
            "precision": "12",
        },
    )
    assert len(body) < 5 * 1024, len(body)


def test_the_route_sheet_of_the_day(client, staff, order):
    from pypdf import PdfReader

    client.force_login(staff.reader)
    sheet = client.get(reverse("field_route_sheet", args=[staff.reader.username]))
    assert sheet["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(sheet.content)).pages)
    packed = "".join(text.split())  # a number may wrap in its narrow column
    assert "Feuille de route" in text and order.number in packed
    assert order.request.contract.meter.serial in packed
    # Printed at the agency by the supervisor; refused to a cashier, and for a non-crew.
    client.force_login(staff.supervisor)
    queue = client.get(reverse("work_queue")).content.decode()
    assert reverse("field_route_sheet", args=[staff.reader.username]) in queue
    assert client.get(reverse("field_route_sheet", args=[staff.reader.username])).status_code == 200
    client.force_login(staff.cashier)
    assert client.get(reverse("field_route_sheet", args=[staff.reader.username])).status_code == 403
    assert (
        client.get(reverse("field_route_sheet", args=[staff.cashier.username])).status_code == 404
    )


def test_the_orders_pdf_kept_on_the_phone(client, staff, order, parakou):
    """Each order of the day as a consultation copy, for its crew only."""
    from pypdf import PdfReader

    client.force_login(staff.reader)
    (listed,) = client.get(reverse("field_day")).json()["ordres"]
    assert listed["pdf"] == reverse("field_order_pdf", args=[order.number])
    pdf = client.get(listed["pdf"], HTTP_ACCEPT_ENCODING="gzip")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert not pdf.has_header("Content-Encoding")  # a PDF goes as it is
    text = "".join(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().split())
    assert order.number in text and "COPIEDECONSULTATION" in text
    # Not the crew's: another agency's reader, an ARPNT agent once the order is confided to
    # the reader, a cashier.
    services.termination_request_reassign_order(
        order.request, actor=staff.supervisor, assignee=staff.reader
    )
    other = UserFactory(username="releveur-parakou", agency=parakou, roles=[Role.READER])
    for user, status in ((other, 404), (staff.arpnt, 404), (staff.cashier, 403)):
        client.force_login(user)
        assert client.get(listed["pdf"]).status_code == status, user
    # Once the report is in, the order leaves the day and its PDF with it.
    client.force_login(staff.reader)
    assert send(client, order).json()["resultat"] == "accepted"
    assert client.get(listed["pdf"]).status_code == 404
