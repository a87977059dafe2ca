"""The production stack, as `make serve` runs it, with more than one of everything: two
application servers (gunicorn, DEBUG off, static files hashed and compressed) and two task
workers on one database. The daily job runs twice at once, cashiers settle and agents print
through both servers meanwhile, and the workers render what was queued: no number, order or
document twice, nothing left unrendered."""

import collections
import datetime as dt
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.db import connection
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from billing.enums import DocumentKind, DocumentStatus, InvoiceKind, PaymentMode
from billing.models import Document, DocumentPrint, Invoice, Settlement
from contracts.enums import RequestState, Timing
from interventions.enums import OrderKind
from interventions.models import InterventionOrder
from procedure import services
from sbee_resiliation import backup, localdb
from tests.workflow import TODAY, advance, create, worked_example_contract

pytestmark = [pytest.mark.django_db(transaction=True)]

ROOT = Path(settings.BASE_DIR)
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_env(static_root: Path) -> dict:
    """The environment `make serve` gives the stack, on the test database, as the application's
    role when the project's own cluster is used."""
    db = connection.settings_dict
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LOCAL_DB_USER", "DATABASE_MAINTENANCE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    if os.environ.get("DATABASE_URL"):
        url = backup.with_dbname(os.environ["DATABASE_URL"], db["NAME"])
    else:
        url = localdb.url(localdb.APP_USER, db["NAME"])
    env.update(
        DATABASE_URL=url,
        DEBUG="false",
        SECRET_KEY="tests-only-not-secret",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="false",
        SECURE_HSTS_SECONDS="0",
        STATIC_MANIFEST="true",
        STATIC_ROOT=str(static_root),
        CONN_MAX_AGE="300",
        WEB_WORKERS="2",
        PYTHONUNBUFFERED="1",
    )
    return env


class Stack:
    def __init__(self, tmp_path: Path, servers: int = 2, workers: int = 2):
        self.env = stack_env(tmp_path / "static")
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
            cwd=ROOT,
            env=self.env,
            check=True,
        )
        self.ports = [free_port() for _ in range(servers)]
        self.logs = tmp_path
        self.procs = []
        try:
            self._start_all(workers)
        except BaseException:
            # A stack that failed to start stops what it started before the error is told.
            self.stop()
            raise

    def _start_all(self, workers: int):
        for n, port in enumerate(self.ports):
            self.procs.append(
                self._start(
                    [str(BIN / "gunicorn"), "--config", str(ROOT / "deploy/gunicorn.conf.py")],
                    f"web-{n}",
                    HOST="127.0.0.1",
                    PORT=str(port),
                )
            )
        for n in range(workers):
            self.procs.append(
                self._start(
                    [sys.executable, "manage.py", "run_worker", "--name", f"worker-{n}"],
                    f"worker-{n}",
                )
            )
        for port in self.ports:
            self._wait(port)

    def _start(self, command, name, **extra):
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        return subprocess.Popen(
            command, cwd=ROOT, env={**self.env, **extra}, stdout=log, stderr=subprocess.STDOUT
        )

    def _wait(self, port):
        # A busy machine may take long to start gunicorn and to answer its first page: a
        # generous deadline, and a slow answer is waited for, not taken for a failure.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/connexion/", timeout=60)
                return
            except requests.RequestException:
                time.sleep(0.5)
        raise AssertionError(f"gunicorn ne répond pas sur {port} : {self.log_tail()}")

    def base(self, n: int) -> str:
        return f"http://127.0.0.1:{self.ports[n % len(self.ports)]}"

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-1500:]}" for path in self.logs.glob("*.log")
        )

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def stack(tmp_path):
    running = Stack(tmp_path)
    yield running
    running.stop()


def session_of(user, *, second_factor: bool = False) -> str:
    """The session of a person already logged in (and past the second factor when needed)."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "accounts.auth.RolesBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if second_factor:
        device = TOTPDevice.objects.create(user=user, name="tests", confirmed=True)
        store[DEVICE_ID_SESSION_KEY] = device.persistent_id
    store.create()
    return store.session_key


def browser(session_key: str) -> requests.Session:
    """One browser tab of that person: its own cookies (the CSRF cookie set by its first page)."""
    tab = requests.Session()
    tab.cookies.set("sessionid", session_key)
    return tab


def post_form(browser, base: str, path: str, data: dict) -> requests.Response:
    page = browser.get(base + path)
    assert page.status_code == 200, page.status_code
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return browser.post(
        base + path,
        data={**data, "csrfmiddlewaretoken": token},
        headers={"Referer": base + path},
        allow_redirects=False,
    )


def test_the_production_stack_serves_its_css_and_says_all_is_well(stack):
    login = requests.get(stack.base(0) + "/connexion/", headers={"Accept-Encoding": "gzip"})
    assert login.status_code == 200
    # The page itself compressed by the application, and said to vary with what is accepted.
    assert login.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in login.headers["Vary"]
    css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', login.text).group(1)
    answer = requests.get(stack.base(1) + css, headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/css")
    assert answer.headers["Content-Encoding"] == "gzip"
    assert "immutable" in answer.headers["Cache-Control"]
    deadline = time.monotonic() + 60
    while True:  # the workers beat within seconds of starting
        health = requests.get(stack.base(0) + "/sante/")
        if health.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert health.status_code == 200, (health.text, stack.log_tail())
    assert health.json()["workers"]["alive"] == 2


def test_two_servers_and_two_workers_never_issue_or_number_anything_twice(stack, akpakpa, staff):
    import time_machine

    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC), tick=False):
        due, to_settle = [], []
        for n in range(8):
            contract = worked_example_contract(akpakpa, number=f"10100{n:05d}")
            request = advance(
                create(contract, staff), staff, RequestState.INVOICED, timing=Timing.ANTICIPATED
            )
            services.termination_request_settle(
                request.invoices.get(kind=InvoiceKind.BALANCE),
                actor=staff.cashier,
                amount=26417,
                mode=PaymentMode.CASH,
            )
            due.append(request.pk)
        for n in range(8, 14):
            contract = worked_example_contract(akpakpa, number=f"10100{n:05d}")
            request = advance(create(contract, staff), staff, RequestState.INVOICED)
            to_settle.append(request.invoices.get(kind=InvoiceKind.BALANCE))
    documents_before = set(Document.objects.values_list("pk", flat=True))
    cashier = session_of(staff.cashier, second_factor=True)
    reception = session_of(staff.reception)
    cut_date = (TODAY + dt.timedelta(days=10)).isoformat()

    errors = []

    def daily_job():
        result = subprocess.run(
            [sys.executable, "manage.py", "issue_due_orders", "--date", cut_date],
            cwd=ROOT,
            # The cut date is ahead of the machine's clock: only the demo's setting accepts it.
            env={**stack.env, "DEBUG": "true"},
            capture_output=True,
            text=True,
        )
        if result.returncode:
            errors.append(result.stderr)

    def settle(n, invoice):
        # Each invoice is sent twice, through both servers, with two keys: one settlement.
        tab = browser(cashier)
        for attempt in range(2):
            answer = post_form(
                tab,
                stack.base(n + attempt),
                f"/factures/{invoice.pk}/reglement/",
                {
                    "amount": invoice.balance,
                    "mode": PaymentMode.CASH,
                    "idempotency_key": str(uuid.uuid4()),
                    "confirm": "on",
                },
            )
            if answer.status_code not in (200, 302):
                errors.append(f"règlement {invoice.number} : HTTP {answer.status_code}")

    invoices_to_print = list(Document.objects.filter(kind=DocumentKind.INVOICE).order_by("pk"))

    def prints(n):
        tab = browser(reception)
        for document in invoices_to_print:
            page = tab.get(stack.base(n) + f"/demandes/{document.request_id}/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            printed = tab.post(
                stack.base(n) + f"/documents/{document.pk}/imprimer/",
                data={"csrfmiddlewaretoken": token},
                headers={"Referer": stack.base(n) + "/"},
            )
            if printed.status_code != 200 or printed.content[:5] != b"%PDF-":
                errors.append(f"impression {document.number} : HTTP {printed.status_code}")

    threads = [threading.Thread(target=daily_job) for _ in range(2)]
    threads += [threading.Thread(target=settle, args=(n, inv)) for n, inv in enumerate(to_settle)]
    threads += [threading.Thread(target=prints, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, (errors, stack.log_tail())

    # Step 8 once per request, whichever process got there first.
    orders = InterventionOrder.objects.filter(kind=OrderKind.REMOVAL, request_id__in=due)
    assert sorted(orders.values_list("request_id", flat=True)) == sorted(due)
    # Each invoice settled once, every number once.
    settlements = Settlement.objects.filter(invoice__in=to_settle)
    assert settlements.count() == len(to_settle)
    numbers = list(Settlement.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers))
    order_numbers = list(InterventionOrder.objects.values_list("number", flat=True))
    assert len(order_numbers) == len(set(order_numbers))
    # The workers render what the actions queued; nothing is left behind.
    deadline = time.monotonic() + 120
    while Document.objects.exclude(status=DocumentStatus.READY).exists():
        assert time.monotonic() < deadline, stack.log_tail()
        time.sleep(1)
    new = Document.objects.exclude(pk__in=documents_before)
    kinds = collections.Counter(new.values_list("kind", flat=True))
    # The removal orders of the daily job, and those of the classic requests settled meanwhile
    # (settled after their cut, they need not wait for the morning).
    assert kinds[DocumentKind.ORDER] == len(due) + len(to_settle)
    assert kinds[DocumentKind.RECEIPT] == len(to_settle)
    # One document per source, each print numbered once per document.
    assert Document.objects.filter(kind=DocumentKind.ORDER).count() == (
        InterventionOrder.objects.count()
    )
    assert Document.objects.filter(order__in=orders).count() == len(due)
    copies = list(DocumentPrint.objects.values_list("document_id", "copy"))
    assert len(copies) == len(set(copies))
    assert {copy for _, copy in copies} == {0, 1}
    assert Invoice.objects.filter(pk__in=[i.pk for i in to_settle]).count() == len(to_settle)
    call_command("verify_audit", verbosity=0)
