"""The requester's signature drawn on the agent's screen (step 3): kept append-only with the
SHA-256 of the exact order it signs and the agent who witnessed it, written into the request's
audit chain, and printed on the order's copies. Paper stays possible."""

import base64
import hashlib
import io

import pytest
from django.urls import reverse
from PIL import Image

from billing.documents import document_issue
from billing.enums import DocumentKind
from contracts.enums import Timing
from interventions.models import OrderSignature
from procedure import services
from tests.billing.test_documents import text_of
from tests.workflow import create, reload, worked_example_contract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def drawn() -> bytes:
    image = Image.new("RGBA", (300, 100), (255, 255, 255, 0))
    for x in range(20, 280):
        image.putpixel((x, 50 + (x % 30) - 15), (11, 42, 74, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def order_out(akpakpa, staff):
    request = create(worked_example_contract(akpakpa), staff)
    services.termination_request_issue_order(
        request, actor=staff.reception, timing=Timing.CLASSIC, cut_date=None
    )
    document = document_issue(DocumentKind.ORDER, reload(request).orders.get().pk)
    return reload(request), document


def test_a_signature_drawn_on_the_screen_is_kept_with_the_order_it_signs(order_out, staff, client):
    request, document = order_out
    client.force_login(staff.reception)
    picture = drawn()
    response = client.post(
        reverse("request_signature", args=[request.pk]),
        {
            "action": "sign",
            "drawing": "data:image/png;base64," + base64.b64encode(picture).decode(),
            "confirm": "on",
        },
    )
    assert response.status_code == 302
    signature = OrderSignature.objects.get()
    assert bytes(signature.drawing) == picture
    assert signature.drawing_sha256 == hashlib.sha256(picture).hexdigest()
    assert signature.document_sha256 == document.sha256
    assert signature.witnessed_by == staff.reception
    event = request.events.get(action="requester_signed")
    assert event.data["drawn"] is True
    assert event.data["document_sha256"] == document.sha256
    assert reload(request).orders.get().is_signed_by_requester
    # A print of the order now carries the signature and who witnessed it.
    printed = client.post(reverse("document_print", args=[document.pk]), follow=True)
    assert printed["Content-Type"] == "application/pdf"
    content = b"".join(printed.streaming_content) if printed.streaming else printed.content
    text = text_of(content)
    assert "Signé à l'écran par HOUNKPATIN" in text and document.sha256[:16] in text


def test_a_drawing_that_is_not_a_png_is_refused_and_nothing_recorded(order_out, staff, client):
    request, _ = order_out
    client.force_login(staff.reception)
    response = client.post(
        reverse("request_signature", args=[request.pk]),
        {"action": "sign", "drawing": "data:image/png;base64,bm90IGEgcG5n", "confirm": "on"},
    )
    assert response.status_code == 200
    assert "illisible" in response.content.decode()
    assert not OrderSignature.objects.exists()
    assert not reload(request).orders.get().is_signed_by_requester


def test_paper_stays_possible(order_out, staff, client):
    request, document = order_out
    client.force_login(staff.reception)
    client.post(reverse("document_print", args=[document.pk]))
    response = client.post(
        reverse("request_signature", args=[request.pk]), {"action": "sign", "confirm": "on"}
    )
    assert response.status_code == 302
    assert not OrderSignature.objects.exists()
    assert request.events.get(action="requester_signed").data["drawn"] is False
