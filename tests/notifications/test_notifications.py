"""The customer in the loop: one message per fact and number, written in the step's
transaction, sent once by the worker through a gateway (files, or Infobip's API spoken by a
local server), outside the quiet hours, in the customer's language, never to who refused them."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from contracts.enums import RequesterQuality, RequestState
from contracts.tracking import tracking_code, tracking_code_matches
from notifications import services as notifications
from notifications.enums import DeliveryStatus, Language, NotificationKind
from notifications.models import Delivery, Notification, QuietHours, Template
from notifications.texts import segments
from procedure import services
from tests.workflow import (
    TODAY,
    advance,
    confirm_codification,
    create,
    reload,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def kinds(request) -> list[str]:
    return list(request.notifications.order_by("id").values_list("kind", flat=True))


def test_a_classic_path_tells_the_customer_each_step_that_concerns_them(akpakpa, staff):
    request = create(worked_example_contract(akpakpa), staff)
    registered = request.notifications.get()
    assert registered.kind == NotificationKind.REGISTERED
    assert registered.phone == request.requester_phone == "+2290197123456"
    assert f"Code de suivi: {tracking_code(request.pk)}" in registered.text
    # Told at the counter: not held for the morning.
    assert registered.send_after <= registered.created_at
    request = advance(request, staff, RequestState.METER_REMOVED)
    services.termination_request_sign_removal(request, actor=staff.supervisor)
    confirm_codification(reload(request), actor=staff.acff)
    assert kinds(request) == [
        NotificationKind.REGISTERED,
        NotificationKind.VISIT,  # the cut and reading
        NotificationKind.BALANCE,
        NotificationKind.VISIT,  # the removal
        NotificationKind.TERMINATED,
    ]
    balance = request.notifications.get(kind=NotificationKind.BALANCE)
    invoice = request.invoices.get(kind="balance")
    assert f"{invoice.balance:,}".replace(",", "\u00a0") in balance.text
    assert "Cotonou Akpakpa" in balance.text
    terminated = request.notifications.get(kind=NotificationKind.TERMINATED)
    assert request.attestation.number in terminated.text
    assert "/verification/" in terminated.text


def test_a_proxy_request_tells_the_holder_too_and_a_failed_visit_and_its_new_date(akpakpa, staff):
    contract = worked_example_contract(akpakpa)
    request = services.termination_request_create(
        contract,
        actor=staff.reception,
        kind="without_takeover",
        requester_name="AHOUANSOU Pierre",
        requester_id_document_type="cni",
        requester_id_document_number="5566778899",
        requester_phone="0166554433",
        requester_quality=RequesterQuality.PROXY,
        proxy_reference="Procuration 12",
    )
    assert sorted(request.notifications.values_list("role", flat=True)) == [
        "demandeur",
        "titulaire",
    ]
    request = advance(request, staff, RequestState.ORDER_ISSUED)
    services.termination_request_record_failed_visit(
        request, actor=staff.reader, visited_on=TODAY, reason="absent"
    )
    services.termination_request_reschedule_visit(
        reload(request), actor=staff.reception, due_on=TODAY + dt.timedelta(days=2)
    )
    requester = request.notifications.filter(role="demandeur").order_by("id")
    assert [n.kind for n in requester] == [
        NotificationKind.REGISTERED,
        NotificationKind.VISIT,
        NotificationKind.VISIT_FAILED,
        NotificationKind.VISIT,
    ]
    assert f"{TODAY + dt.timedelta(days=2):%d/%m/%Y}" in requester.last().text


def test_one_fact_is_told_once_and_never_to_who_refused(akpakpa, staff):
    request = create(worked_example_contract(akpakpa), staff)
    with transaction.atomic():
        again = notifications.notify(
            request, NotificationKind.REGISTERED, fact=str(request.pk), context={}
        )
    assert again == [] and request.notifications.count() == 1
    notifications.preference_record(request.requester_phone, actor=staff.reception, opted_out=True)
    with transaction.atomic():
        refused = notifications.notify(
            request, NotificationKind.VISIT_FAILED, fact="x", context={"contrat": "1"}
        )
    assert refused == []


def test_the_customers_language_and_a_text_edited_in_the_admin(akpakpa, staff):
    contract = worked_example_contract(akpakpa)
    notifications.preference_record("01 97 00 00 01", actor=None, language=Language.ENGLISH)
    request = services.termination_request_create(
        contract,
        actor=staff.reception,
        kind="without_takeover",
        requester_name="HOUNKPATIN Codjo Marcel",
        requester_id_document_type="cni",
        requester_id_document_number="1210004512",
        requester_phone="97000001",  # a former eight-digit number: 01 in front
        requester_quality=RequesterQuality.HOLDER,
    )
    told = request.notifications.get()
    assert told.phone == "+2290197000001"
    assert told.text.startswith("SBEE: termination request")
    template = Template(kind=NotificationKind.VISIT, language="fr", text="Passage {jour}")
    with pytest.raises(ValidationError, match="jour"):
        template.full_clean(exclude=["kind", "language"])


def test_what_a_text_costs():
    assert segments("SBEE: un agent passera le 15/12/2026 à 8h.")[::2] == ("GSM 7 bits", 1)
    assert segments("é" * 160) == ("GSM 7 bits", 160, 1)
    assert segments("ê" * 71) == ("UCS-2", 71, 2)  # ê is outside the GSM alphabet
    assert segments("€" * 80) == ("GSM 7 bits", 160, 1)  # the extension table: two septets


def test_the_quiet_hours_hold_a_message_until_the_morning():
    QuietHours.objects.all().delete()
    QuietHours.objects.create(start=dt.time(21, 0), end=dt.time(7, 0))
    late = dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.UTC)  # Cotonou is UTC+1: 23:30
    morning = notifications.send_after(late)
    assert morning.isoformat() == "2026-12-01T07:00:00+01:00"
    assert notifications.send_after(late, asked_at_counter=True) == late
    noon = dt.datetime(2026, 11, 30, 11, 0, tzinfo=dt.UTC)
    assert notifications.send_after(noon) == noon


def test_the_tracking_code_is_the_servers_own():
    code = tracking_code(42)
    assert len(code) == 8 and code.isdigit()
    assert tracking_code_matches(42, code[:4] + " " + code[4:])
    assert not tracking_code_matches(43, code)


def test_the_file_backend_sends_each_message_once(akpakpa, staff, settings, tmp_path):
    settings.SMS_BACKEND = "notifications.backends.FileBackend"
    settings.SMS_FILE_DIR = tmp_path
    request = create(worked_example_contract(akpakpa), staff)
    told = request.notifications.get()
    first = notifications.deliver(told.pk, last_attempt=False)
    second = notifications.deliver(told.pk, last_attempt=False)
    assert first.status == DeliveryStatus.SENT and second.pk == first.pk
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert json.loads(files[0].read_text())["text"] == told.text


class Gateway(BaseHTTPRequestHandler):
    """Infobip's POST /sms/3/messages, as far as we use it; `down` answers 503."""

    down = False
    received: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Gateway.down:
            self.send_response(503)
            self.end_headers()
            return
        Gateway.received.append((self.path, self.headers["Authorization"], body))
        message = body["messages"][0]
        destination = message["destinations"][0]
        answer = {
            "bulkId": "b1",
            "messages": [
                {
                    "messageId": destination["messageId"],
                    "status": {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING"},
                    "destination": destination["to"],
                }
            ],
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway(settings):
    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Gateway.down, Gateway.received = False, []
    settings.SMS_BACKEND = "notifications.backends.InfobipBackend"
    settings.INFOBIP_BASE_URL = f"http://127.0.0.1:{server.server_port}"
    settings.INFOBIP_API_KEY = "cle-de-test"
    try:
        yield Gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def test_infobip_takes_the_message_then_reports_its_delivery(akpakpa, staff, gateway, client):
    request = create(worked_example_contract(akpakpa), staff)
    told = request.notifications.get()
    sent = notifications.deliver(told.pk, last_attempt=False)
    assert sent.status == DeliveryStatus.SENT and sent.reference == told.key
    path, authorization, body = gateway.received[0]
    assert path == "/sms/3/messages" and authorization == "App cle-de-test"
    assert body["messages"][0]["destinations"][0]["to"] == told.phone.lstrip("+")
    assert body["messages"][0]["content"]["text"] == told.text
    report = {"results": [{"messageId": told.key, "status": {"groupName": "DELIVERED"}}]}
    from django.conf import settings

    url = reverse("sms_delivery_reports", args=[settings.SMS_CALLBACK_TOKEN])
    forged = client.post(
        reverse("sms_delivery_reports", args=["faux"]), report, content_type="application/json"
    )
    assert forged.status_code == 403
    assert client.post(url, report, content_type="application/json").json() == {"recorded": 1}
    assert client.post(url, report, content_type="application/json").json() == {"recorded": 0}
    statuses = list(told.deliveries.order_by("id").values_list("status", flat=True))
    assert statuses == [DeliveryStatus.SENT, DeliveryStatus.DELIVERED]


def test_a_gateway_down_is_tried_again_then_given_up_and_listed(akpakpa, staff, gateway):
    request = create(worked_example_contract(akpakpa), staff)
    told = request.notifications.get()
    gateway.down = True
    with pytest.raises(notifications.SendFailed):
        notifications.deliver(told.pk, last_attempt=False)
    gateway.down = False
    assert notifications.deliver(told.pk, last_attempt=False).status == DeliveryStatus.SENT
    assert len(gateway.received) == 1  # delivered once, after the outage
    other = create(worked_example_contract(akpakpa, number="1010000009"), staff)
    lost = other.notifications.get()
    gateway.down = True
    assert notifications.deliver(lost.pk, last_attempt=True).status == DeliveryStatus.FAILED
    assert list(notifications.failed_for(akpakpa)) == [lost]


@pytest.mark.django_db(transaction=True)
def test_forty_sends_of_one_fact_write_one_message(akpakpa, staff):
    from tests.test_concurrency import race

    request = create(worked_example_contract(akpakpa), staff)

    def tell():
        with transaction.atomic():
            return notifications.notify(
                request, NotificationKind.VISIT_FAILED, fact="course", context={"contrat": "1"}
            )

    results = race(*[tell for _ in range(40)])
    assert all(outcome == "ok" for outcome, _ in results), results
    assert Notification.objects.filter(kind=NotificationKind.VISIT_FAILED).count() == 1
    assert Delivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_forty_agents_issuing_the_same_order_at_once_tell_the_customer_once(akpakpa, staff):
    from django.db import connection

    from tests.test_concurrency import race

    request = create(worked_example_contract(akpakpa), staff)

    def issue():
        return services.termination_request_issue_order(
            reload(request), actor=staff.reception, timing="classic", cut_date=None
        )

    results = race(*[issue for _ in range(40)])
    assert sorted(outcome for outcome, _ in results) == ["ok"] + ["refused"] * 39
    assert request.orders.count() == 1
    assert kinds(request) == [NotificationKind.REGISTERED, NotificationKind.VISIT]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'notifications.send'"
        )
        assert cursor.fetchone()[0] == 2  # the registration's, and the order's


def test_the_request_page_and_receptions_queue_show_the_messages(akpakpa, staff, gateway, client):
    request = create(worked_example_contract(akpakpa), staff)
    told = request.notifications.get()
    gateway.down = True
    notifications.deliver(told.pk, last_attempt=True)
    client.force_login(staff.reception)
    page = client.get(reverse("request_detail", args=[request.pk])).content.decode()
    assert "SMS au client" in page and "01 97 12 34 56" in page
    assert "Échec définitif" in page and "prévenir le client par téléphone" in page
    queue = client.get(reverse("work_queue")).content.decode()
    assert "SMS non remis : prévenir le client par téléphone" in queue
    assert "01 97 12 34 56" in queue


def test_the_order_carries_the_tracking_code(akpakpa, staff):
    from billing.documents import document_issue
    from billing.enums import DocumentKind
    from tests.billing.test_documents import text_of

    request = advance(create(worked_example_contract(akpakpa), staff), staff, "order_issued")
    document = document_issue(DocumentKind.ORDER, request.orders.get().pk)
    assert f"code {tracking_code(request.pk)}" in text_of(bytes(document.content))


def test_the_evening_reminders_are_sent_once(akpakpa, staff):
    visit = advance(create(worked_example_contract(akpakpa), staff), staff, "order_issued")
    due_on = visit.orders.get().due_on
    assert services.send_reminders(due_on - dt.timedelta(days=2)) == 0
    assert services.send_reminders(due_on - dt.timedelta(days=1)) == 1
    assert services.send_reminders(due_on - dt.timedelta(days=1)) == 0  # told once
    reminder = visit.notifications.get(kind=NotificationKind.VISIT_REMINDER)
    assert f"demain {due_on:%d/%m/%Y}" in reminder.text

    billed = advance(
        create(worked_example_contract(akpakpa, number="1010000008"), staff),
        staff,
        RequestState.INVOICED,
    )
    invoice = billed.invoices.get(kind="balance")
    assert services.send_reminders(invoice.issued_on + dt.timedelta(days=22)) == 0
    assert services.send_reminders(invoice.issued_on + dt.timedelta(days=23)) == 1
    recovery = billed.notifications.get(kind=NotificationKind.RECOVERY_REMINDER)
    assert f"avant le {invoice.issued_on + dt.timedelta(days=30):%d/%m/%Y}" in recovery.text


def test_reception_records_the_requesters_language_or_refusal_at_the_counter(
    akpakpa, staff, client
):
    request = create(worked_example_contract(akpakpa), staff)
    client.force_login(staff.reception)
    page = client.get(reverse("request_detail", args=[request.pk])).content.decode()
    assert reverse("request_sms_choice", args=[request.pk]) in page
    response = client.post(
        reverse("request_sms_choice", args=[request.pk]), {"language": "en", "opted_out": "on"}
    )
    assert response.status_code == 302
    chosen = notifications.preference(notifications.e164(request.requester_phone))
    assert (chosen.language, chosen.opted_out, chosen.recorded_by) == ("en", True, staff.reception)
    assert request.events.filter(action="sms_choice").exists()
    services.termination_request_issue_order(
        reload(request), actor=staff.reception, timing="classic", cut_date=None
    )
    assert not request.notifications.filter(kind=NotificationKind.VISIT).exists()  # refused
    client.force_login(staff.reader)  # not reception's: refused
    assert client.get(reverse("request_sms_choice", args=[request.pk])).status_code == 403


def test_the_admin_shows_each_sms_as_the_phone_received_it_and_the_texts_cost(
    akpakpa, staff, client, settings, tmp_path
):
    from contracts.enums import Role
    from tests.factories import UserFactory

    settings.SMS_BACKEND = "notifications.backends.FileBackend"
    settings.SMS_FILE_DIR = tmp_path
    request = create(worked_example_contract(akpakpa), staff)
    told = request.notifications.get()
    admin = UserFactory(agency=akpakpa, roles=[Role.ADMIN])
    client.force_login(admin)
    url = reverse("admin:notifications_notification_change", args=[told.pk])
    page = client.get(url).content.decode()
    assert "Reçu par le téléphone" in page and "<strong>À " not in page
    listing = client.get(reverse("admin:notifications_notification_changelist")).content.decode()
    assert "en attente d&#x27;envoi" in listing
    notifications.deliver(told.pk, last_attempt=False)
    page = client.get(url).content.decode()
    assert f"<strong>À {told.phone}</strong><br>{told.text}" in page.replace("&#x27;", "'")
    listing = client.get(reverse("admin:notifications_notification_changelist")).content.decode()
    assert "Envoyé à l&#x27;opérateur" in listing

    # A text edited in the admin: its preview and its cost, an unknown variable refused.
    template = Template.objects.get(kind=NotificationKind.VISIT, language="fr")
    before = template.text
    change = reverse("admin:notifications_template_change", args=[template.pk])
    typed = {"kind": NotificationKind.VISIT, "language": "fr"}
    refused = client.post(change, {**typed, "text": "Passage le {jour}"})
    assert refused.status_code == 200 and "{jour}" in refused.content.decode()
    template.refresh_from_db()
    assert template.text == before
    assert client.post(change, {**typed, "text": "SBEE: passage le {date}."}).status_code == 302
    page = client.get(change).content.decode()
    assert "SBEE: passage le 15/12/2026." in page and "GSM 7 bits, 1 SMS" in page
