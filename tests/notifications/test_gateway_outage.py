"""The SMS gateway down for a while, with a real task worker: every message is tried again
until the gateway takes it, then delivered once; none is lost, none sent twice."""

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings

from notifications.enums import DeliveryStatus
from notifications.models import Delivery, Notification
from tests.test_serve import stack_env
from tests.workflow import create, worked_example_contract

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("frozen_today")]


class Gateway(BaseHTTPRequestHandler):
    down = True
    taken: list = []
    refused = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Gateway.down:
            Gateway.refused += 1
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        destination = body["messages"][0]["destinations"][0]
        Gateway.taken.append(destination["messageId"])
        answer = json.dumps(
            {
                "messages": [
                    {
                        "messageId": destination["messageId"],
                        "status": {"groupName": "PENDING", "name": "PENDING_ACCEPTED"},
                    }
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


def wait_for(condition, what: str, log, deadline: float = 120):
    """Poll until `condition()` holds; a generous deadline, never a timing assertion."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"{what}\n{log.read_text()}"
        time.sleep(0.5)


def test_a_gateway_down_then_back_delivers_every_message_once(akpakpa, staff, tmp_path):
    for n in range(3):
        create(worked_example_contract(akpakpa, number=f"101000010{n}"), staff)
    keys = set(Notification.objects.values_list("key", flat=True))
    assert len(keys) == 3
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    Gateway.down, Gateway.taken, Gateway.refused = True, [], 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = stack_env(tmp_path / "static")
    env.update(
        SMS_BACKEND="notifications.backends.InfobipBackend",
        INFOBIP_BASE_URL=f"http://127.0.0.1:{server.server_port}",
        INFOBIP_API_KEY="test",
        SMS_RETRY_BASE="1",  # a second between attempts, for the test
        SMS_MAX_ATTEMPTS="1000",
    )
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
        # The gateway refuses: each message is tried, recorded as failed for now, tried again.
        wait_for(
            lambda: Delivery.objects.filter(status=DeliveryStatus.RETRYING).count() >= 6,
            "no retries",
            log,
        )
        assert not Delivery.objects.filter(status=DeliveryStatus.SENT).exists()
        Gateway.down = False
        wait_for(
            lambda: Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 3,
            "not all delivered",
            log,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        server.shutdown()
        server.server_close()
    assert sorted(Gateway.taken) == sorted(keys)  # each message once
    assert Gateway.refused >= 6
    assert not Delivery.objects.filter(status=DeliveryStatus.FAILED).exists()
    for notification in Notification.objects.all():
        statuses = list(notification.deliveries.order_by("id").values_list("status", flat=True))
        assert statuses[-1] == DeliveryStatus.SENT and statuses.count(DeliveryStatus.SENT) == 1
