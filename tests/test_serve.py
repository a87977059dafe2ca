"""The production stack, as `make serve` runs it, with more than one of everything: two
application servers (gunicorn, DEBUG off, static files hashed and compressed) and two task
workers on one database. The daily job runs twice at once, cashiers settle and agents print
through both servers meanwhile, and the workers render what was queued: no number, order or
document twice, nothing left unrendered. Each test runs twice: the web processes connected to
PostgreSQL directly, then through PgBouncer in transaction mode (`make serve POOLER=1`), the
task workers connecting directly."""

import collections
import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from django.core.management import call_command
from django.db import connection

from billing.enums import DocumentKind, DocumentStatus, PaymentMode
from billing.models import Document, DocumentPrint, Invoice, Settlement
from interventions.enums import OrderKind
from interventions.models import InterventionOrder
from sbee_resiliation import localdb
from tests.stacks import ROOT, Stack, a_morning, browser, database_url, post_form, session_of
from tests.workflow import TODAY

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def pooler():
    """The project's PgBouncer in front of its cluster (started, and stopped after, unless it
    ran already: `make serve POOLER=1`)."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("PgBouncer devant le cluster du projet seulement (DATABASE_URL est donné)")
    running = localdb._pooler_pid() is not None
    if not running:
        localdb.start_pooler()
    yield
    if running:  # its connections to the test database closed, so that it can be dropped
        localdb.pooler_release(connection.settings_dict["NAME"])
    else:
        localdb.stop_pooler(quiet=True)


@pytest.fixture(params=["direct", "pooler"])
def stack(request, tmp_path):
    web_env = {}
    if request.param == "pooler":
        request.getfixturevalue("pooler")
        web_env = {"WEB_DATABASE_URL": database_url("pooler")}
    running = Stack(tmp_path, web_env=web_env)
    running.pooled = bool(web_env)
    yield running
    running.stop()


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
    if stack.pooled:  # the pooler's own view of the web processes' pool
        assert health.json()["pooler"]["clients_waiting"] == 0, health.json()
        assert health.json()["pooler"]["clients_active"] >= 1, health.json()
    else:
        assert "pooler" not in health.json()


def test_two_servers_and_two_workers_never_issue_or_number_anything_twice(stack, akpakpa, staff):
    due, to_settle = a_morning(akpakpa, staff, due=8, unsettled=6, prefix="10100")
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
    # The auditors' export, read in chunks (a server-side cursor when connected directly, the
    # whole answer at once through the pooler, where no cursor outlives its transaction).
    auditor = browser(session_of(staff.auditor, second_factor=True))
    export = auditor.get(stack.base(1) + "/demandes/export/demandes.csv?agence=AKP")
    assert export.status_code == 200, stack.log_tail()
    lines = export.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 1 + len(due) + len(to_settle)
    call_command("verify_audit", verbosity=0)
