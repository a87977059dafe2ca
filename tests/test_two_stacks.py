"""Two application machines behind one nginx (Debian's package, deploy/nginx/sbee-app.conf),
one database; one machine dies in the middle of the morning (every process of its stack killed
at once). The other keeps serving; the step-8 job, the settlements, the prints and the SMS are
neither lost nor written twice."""

import collections
import datetime as dt
import re
import subprocess
import threading
import time
import uuid

import pytest
import requests
from django.core.management import call_command

from billing.enums import DocumentKind, DocumentStatus, PaymentMode
from billing.models import Document, DocumentPrint, Settlement
from interventions.enums import OrderKind
from interventions.models import InterventionOrder
from notifications.enums import DeliveryStatus
from notifications.models import Delivery, Notification, QuietHours
from sbee_resiliation import proxy
from tests.stacks import Stack, a_morning, browser, free_port, hidden_fields, session_of
from tests.workflow import TODAY

pytestmark = [pytest.mark.django_db(transaction=True)]

FAILOVER = (502, 503, 504)


class Proxy:
    """nginx in front of the stacks, in the foreground, in a process group of its own."""

    def __init__(self, tmp_path, upstreams):
        self.port = free_port()
        folder = tmp_path / "nginx"
        command = proxy.prepare(f"127.0.0.1:{self.port}", upstreams, folder)
        self.log = folder / "error.log"
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(self.base + "/connexion/", timeout=60)
                return
            except requests.RequestException:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"nginx ne répond pas : {self.log.read_text()}") from None
                time.sleep(0.5)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture
def machines(tmp_path):
    """Two stacks (a gunicorn and a task worker each), the customers' SMS written to files,
    and nginx in front."""
    sms = {
        "SMS_BACKEND": "notifications.backends.FileBackend",
        "SMS_FILE_DIR": str(tmp_path / "sms"),
    }
    started = []
    try:
        for name in ("a", "b"):
            started.append(Stack(tmp_path, servers=1, workers=1, name=name, env=sms))
        front = Proxy(tmp_path, [f"127.0.0.1:{s.ports[0]}" for s in started])
    except BaseException:
        for stack in started:
            stack.stop()
        raise
    yield (*started, front)
    front.stop()
    for stack in started:
        stack.stop()


def test_one_machine_dies_mid_load_and_nothing_is_lost_or_written_twice(machines, akpakpa, staff):
    a, b, front = machines
    quiet = QuietHours.objects.first() or QuietHours()
    quiet.start = quiet.end = dt.time(0, 0)  # no quiet hours: every SMS goes now
    quiet.save()
    due, to_settle = a_morning(akpakpa, staff, due=10, unsettled=8, prefix="10200")
    cashier = session_of(staff.cashier, second_factor=True)
    reception = session_of(staff.reception)
    cut_date = (TODAY + dt.timedelta(days=10)).isoformat()
    to_print = list(Document.objects.filter(kind=DocumentKind.INVOICE).order_by("pk"))
    errors, printed, pages = [], collections.Counter(), collections.Counter()
    killed = threading.Event()

    def settle(invoice):
        """A cashier's settlement through the proxy; an answer lost with the machine (502) is
        sent again with the same key, as the browser's form would be."""
        tab, key = browser(cashier), str(uuid.uuid4())
        path = f"/factures/{invoice.pk}/reglement/"
        for _attempt in range(20):
            try:
                form = tab.get(front.base + path, timeout=120)
                fields = hidden_fields(form.text)
                if form.status_code != 200 or "csrfmiddlewaretoken" not in fields:
                    time.sleep(0.5)
                    continue
                answer = tab.post(
                    front.base + path,
                    data={
                        **fields,
                        "amount": invoice.balance,
                        "mode": PaymentMode.CASH,
                        "idempotency_key": key,
                        "confirm": "on",
                    },
                    headers={"Referer": front.base + path},
                    allow_redirects=False,
                    timeout=120,
                )
            except requests.RequestException:
                time.sleep(0.5)
                continue
            if answer.status_code in (200, 302):
                return
            if answer.status_code not in FAILOVER:
                errors.append(f"règlement {invoice.number} : HTTP {answer.status_code}")
                return
            time.sleep(0.5)
        errors.append(f"règlement {invoice.number} : jamais enregistré")

    def prints():
        tab = browser(reception)
        for _round in range(3):
            for document in to_print:
                try:
                    page = tab.get(front.base + f"/demandes/{document.request_id}/", timeout=120)
                    pages[page.status_code] += 1
                    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
                    answer = tab.post(
                        front.base + f"/documents/{document.pk}/imprimer/",
                        data={"csrfmiddlewaretoken": token.group(1)},
                        headers={"Referer": front.base + "/"},
                        timeout=120,
                    )
                except requests.RequestException as error:
                    errors.append(f"impression {document.number} : {error}")
                    continue
                if answer.status_code == 200 and answer.content[:5] == b"%PDF-":
                    printed[document.pk] += 1
                elif answer.status_code not in FAILOVER or not killed.is_set():
                    errors.append(f"impression {document.number} : HTTP {answer.status_code}")

    # Step 8 starts on the machine about to die (DEBUG: the cut date is ahead of the clock).
    a.run("issue_due_orders", "--date", cut_date, DEBUG="true")
    threads = [threading.Thread(target=settle, args=(inv,)) for inv in to_settle]
    threads.append(threading.Thread(target=prints))
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while Settlement.objects.filter(invoice__in=to_settle).count() < 3:
        assert time.monotonic() < deadline, a.log_tail()
        time.sleep(0.05)
    killed.set()  # from now on, an answer lost with the machine (502) is expected
    a.kill()
    # Whatever the job had done, the morning job runs again on the machine left.
    again = b.run("issue_due_orders", "--date", cut_date, DEBUG="true")
    assert again.wait(timeout=300) == 0, b.log_tail()
    for thread in threads:
        thread.join(timeout=600)
    # Pages asked after the machine died are answered by the other one.
    for _ in range(10):
        answer = browser(reception).get(front.base + "/corbeille/", timeout=120)
        assert answer.status_code == 200, (answer.status_code, b.log_tail())
    assert not errors, (errors, b.log_tail())
    # No page the agents asked for went unanswered: those in flight on the dead machine were
    # asked again of the other by nginx.
    assert set(pages) == {200}, pages

    # Step 8: one removal order per due request.
    orders = InterventionOrder.objects.filter(kind=OrderKind.REMOVAL, request_id__in=due)
    assert sorted(orders.values_list("request_id", flat=True)) == sorted(due)
    # One settlement per invoice, whatever the number of times its form was sent.
    settlements = Settlement.objects.filter(invoice__in=to_settle)
    assert sorted(settlements.values_list("invoice_id", flat=True)) == sorted(
        i.pk for i in to_settle
    )
    numbers = list(Settlement.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers))
    # Prints: each copy numbered once, none skipped; at least every print that came back.
    for document in to_print:
        copies = sorted(
            DocumentPrint.objects.filter(document=document).values_list("copy", flat=True)
        )
        assert copies == list(range(len(copies))), (document.number, copies)
        assert len(copies) >= printed[document.pk]
    # The machine left renders what the dead one had queued or was rendering (its jobs are
    # taken up again once its worker is known silent).
    deadline = time.monotonic() + 300
    while Document.objects.exclude(status=DocumentStatus.READY).exists():
        assert time.monotonic() < deadline, b.log_tail()
        time.sleep(1)
    assert Document.objects.filter(order__in=orders).count() == len(due)
    assert Document.objects.filter(
        kind=DocumentKind.RECEIPT, settlement__in=settlements
    ).count() == len(to_settle)
    # Every SMS sent, once.
    deadline = time.monotonic() + 300
    while Notification.objects.exclude(deliveries__status=DeliveryStatus.SENT).exists():
        assert time.monotonic() < deadline, b.log_tail()
        time.sleep(1)
    sent = Delivery.objects.filter(status=DeliveryStatus.SENT)
    assert sent.count() == Notification.objects.count() > 0
    call_command("verify_audit", verbosity=0)
