"""The SMS gateway down for ten minutes, then for good, with a real task worker and the
retry schedule of the settings (SMS_RETRY_BASE, SMS_MAX_ATTEMPTS): every message is tried
again until the gateway takes it, then delivered once; none is lost, none sent twice; a
message the gateway never took is listed for reception.

The test does not wait the ten minutes: each time the worker puts a job back with its wait
(3, 9, 27... seconds), the test counts that wait on the job's own clock and lets the job run
at once, as if the wait had passed. The local gateway refuses a message while its job's clock
is under the outage."""

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from notifications.enums import DeliveryStatus
from notifications.models import Delivery, Notification
from tests.stacks import stack_env
from tests.workflow import create, worked_example_contract

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("frozen_today")]

TEN_MINUTES = 600.0


class Gateway(BaseHTTPRequestHandler):
    outage = TEN_MINUTES  # seconds of each message's clock during which the gateway refuses
    clock: dict[str, float] = {}  # message key -> seconds its job has waited so far
    taken: list = []
    refused: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        destination = body["messages"][0]["destinations"][0]
        key = destination["messageId"]
        if Gateway.clock.get(key, 0.0) < Gateway.outage:
            Gateway.refused.append(key)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        Gateway.taken.append(key)
        answer = json.dumps(
            {
                "messages": [
                    {"messageId": key, "status": {"groupName": "PENDING", "name": "PENDING"}}
                ]
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def fast_forward(keys_of_job) -> None:
    """The waits the worker just set: counted on each job's clock, then run now."""
    with connection.cursor() as cursor:
        cursor.execute("""
            WITH waiting AS (
                SELECT id, args, extract(epoch FROM scheduled_at - now()) AS wait
                FROM procrastinate_jobs
                WHERE status = 'todo' AND scheduled_at > now() FOR UPDATE)
            UPDATE procrastinate_jobs j SET scheduled_at = now() FROM waiting
            WHERE j.id = waiting.id RETURNING waiting.args, waiting.wait""")
        for args, wait in cursor.fetchall():
            for key in keys_of_job(args):
                Gateway.clock[key] = Gateway.clock.get(key, 0.0) + float(wait)


def wait_for(condition, what: str, log, keys_of_job, deadline: float = 300):
    """Poll until `condition()` holds, moving the jobs' clocks; a generous deadline, never a
    timing assertion."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"{what}\n{log.read_text()}"
        fast_forward(keys_of_job)
        time.sleep(0.3)


def run_outage(staff, akpakpa, tmp_path, *, outage: float):
    """Three requests registered (three SMS, three jobs), the gateway down for `outage` seconds
    of each job's clock, a real worker; returns when every message is sent or failed for good."""
    for n in range(3):
        create(worked_example_contract(akpakpa, number=f"101000010{n}"), staff)
    key_of = dict(Notification.objects.values_list("pk", "key"))
    assert len(key_of) == 3

    def keys_of_job(args):
        args = json.loads(args) if isinstance(args, str) else args
        return [key_of[pk] for pk in args["notification_ids"]]

    Gateway.outage, Gateway.clock, Gateway.taken, Gateway.refused = outage, {}, [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = stack_env(tmp_path / "static")
    env.update(
        SMS_BACKEND="notifications.backends.InfobipBackend",
        INFOBIP_BASE_URL=f"http://127.0.0.1:{server.server_port}",
        INFOBIP_API_KEY="test",
    )
    for name in ("SMS_RETRY_BASE", "SMS_MAX_ATTEMPTS"):  # the settings' own schedule
        env.pop(name, None)
    log = tmp_path / "worker.log"
    with open(log, "w") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--queues", "notifications"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        done = (DeliveryStatus.SENT, DeliveryStatus.FAILED)
        wait_for(
            lambda: Delivery.objects.filter(status__in=done).count() == 3,
            "not every message sent or failed for good",
            log,
            keys_of_job,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        server.shutdown()
        server.server_close()
    return key_of


def attempts_within(outage: float) -> int:
    """How many refusals a message meets in an outage, by the settings' schedule."""
    waited, attempts = 0.0, 0
    while waited < outage and attempts < settings.SMS_MAX_ATTEMPTS:
        attempts += 1
        waited += settings.SMS_RETRY_BASE**attempts
    return attempts


def test_ten_minutes_without_the_gateway_then_every_message_delivered_once(
    akpakpa, staff, tmp_path
):
    key_of = run_outage(staff, akpakpa, tmp_path, outage=TEN_MINUTES)
    assert sorted(Gateway.taken) == sorted(key_of.values())  # each message once
    refusals = attempts_within(TEN_MINUTES)
    assert refusals < settings.SMS_MAX_ATTEMPTS  # ten minutes are well within the retries
    for key in key_of.values():
        assert Gateway.refused.count(key) == refusals
        assert Gateway.clock[key] >= TEN_MINUTES
    for notification in Notification.objects.all():
        statuses = list(notification.deliveries.order_by("id").values_list("status", flat=True))
        assert statuses == [DeliveryStatus.RETRYING] * refusals + [DeliveryStatus.SENT]
    assert not Delivery.objects.filter(status=DeliveryStatus.FAILED).exists()


def test_a_gateway_down_for_good_fails_each_message_once_and_reception_is_told(
    client, akpakpa, staff, tmp_path
):
    key_of = run_outage(staff, akpakpa, tmp_path, outage=float("inf"))
    assert Gateway.taken == []
    for key in key_of.values():
        assert Gateway.refused.count(key) == settings.SMS_MAX_ATTEMPTS
        assert Gateway.clock[key] >= 6 * 3600  # tried again for hours
    for notification in Notification.objects.all():
        statuses = list(notification.deliveries.order_by("id").values_list("status", flat=True))
        assert statuses == [DeliveryStatus.RETRYING] * (settings.SMS_MAX_ATTEMPTS - 1) + [
            DeliveryStatus.FAILED
        ]
    client.force_login(staff.reception)
    queue = client.get(reverse("work_queue")).content.decode()
    assert "SMS non remis : prévenir le client par téléphone" in queue
    for number in ("1010000100", "1010000101", "1010000102"):
        assert f"Contrat {number}" in queue
