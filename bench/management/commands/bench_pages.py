"""Each page beside the SQL it runs (DESIGN.md §8: a page over HTTP through the production
server costs at most 5 times its SQL), on the 1 000 000-contract benchmark database.

The production server (gunicorn with deploy/gunicorn.conf.py, DEBUG off, connections kept) is
started on a free port; a person logs in over HTTP and opens each page; the same page's queries
are captured in this process and replayed, as sent, on one open connection. Both are timed in the
same run, side by side.

    make bench          # after bench_search and bench_due_orders
"""

import http.client
import socket
import statistics
import subprocess
import sys
import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bench.machine import production_env, tree_cpu
from contracts.enums import Role
from contracts.models import Agency, Contract, TerminationRequest, User
from procedure.queues import refresh_queues

PASSWORD = "mesure-des-pages-2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_user(username: str, role: str) -> User:
    from django.contrib.auth.models import Group

    user, _ = User.objects.get_or_create(
        username=username, defaults={"agency": Agency.objects.get(code="AKP")}
    )
    user.groups.set([Group.objects.get(name=role)])
    if not user.check_password(PASSWORD):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    return user


def start_server(port: int, workers: int | None = None, **extra: str) -> subprocess.Popen:
    env = production_env(HOST="127.0.0.1", PORT=str(port), **extra)
    if workers:
        env["WEB_WORKERS"] = str(workers)
    proc = subprocess.Popen(
        [
            str(settings.BASE_DIR / ".venv" / "bin" / "gunicorn"),
            "--config",
            str(settings.BASE_DIR / "deploy" / "gunicorn.conf.py"),
            "--access-logfile",
            "/dev/null",
        ],
        cwd=settings.BASE_DIR,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/connexion/", timeout=2)
            return proc
        except requests.ConnectionError:
            time.sleep(0.3)
    proc.terminate()
    raise CommandError("Le serveur de production n'a pas démarré.")


def http_login(base: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(base + "/connexion/")
    response = session.post(
        base + "/connexion/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": base + "/connexion/"},
        allow_redirects=False,
    )
    if response.status_code != 302:
        raise CommandError(f"Connexion de {username} refusée ({response.status_code}).")
    return session


def pages(reception: User, arpnt: User) -> list[tuple[str, User, str]]:
    search = reverse("contract_search")
    probe = Contract.objects.select_related("customer", "meter").get(
        pk=Contract.objects.count() // 8 * 4
    )
    request = TerminationRequest.objects.filter(agency=reception.agency).order_by("id").first()
    found = [
        ("recherche : numéro de contrat", reception, f"{search}?q={probe.number}"),
        ("recherche : numéro de compteur", reception, f"{search}?q={probe.meter.serial}"),
        ("recherche : téléphone", reception, f"{search}?q={probe.customer.phone[4:]}"),
        ("recherche : début de nom", reception, f"{search}?q=dossou"),
        ("corbeille de l'accueil", reception, reverse("work_queue")),
        ("corbeille ARPNT", arpnt, reverse("work_queue")),
        ("page du contrat", reception, reverse("contract_detail", args=[probe.number])),
    ]
    if request is not None:
        url = reverse("request_detail", args=[request.pk])
        found.append(("page de la demande", reception, url))
    return found


RECEIVED_SQL = """
INSERT INTO contracts_terminationrequest
  (contract_id, agency_id, kind, state, timing, cut_date, requester_name,
   requester_id_document_type, requester_id_document_number, requester_phone,
   requester_quality, proxy_reference, created_by_id, created_at,
   cancel_reason, state_since, queue_task)
SELECT c.id, c.agency_id, 'without_takeover', 'received', '', NULL,
       'DEMANDEUR ' || c.id, 'cni', (5000000000 + c.id)::text, '+2290197000000', 'holder', '',
       %(user)s, now(), '', now() - (c.id %% 90) * interval '1 hour', ''
FROM contracts_contract c
WHERE c.id %% 89 = 0 AND c.agency_id = %(agency)s
  AND NOT EXISTS (SELECT 1 FROM contracts_terminationrequest r WHERE r.contract_id = c.id)
ORDER BY c.id
LIMIT %(n)s
"""


def seed_reception_work(reception: User, n: int = 500) -> None:
    """Requests received at the counter, so that the reception's queue has its 50 rows (the
    step-8 benchmark leaves only removal orders)."""
    waiting = TerminationRequest.objects.filter(agency=reception.agency, state="received").count()
    if waiting < n:
        with connection.cursor() as cursor:
            cursor.execute(
                RECEIVED_SQL, {"user": reception.pk, "agency": reception.agency_id, "n": n}
            )
            cursor.execute("ANALYZE contracts_terminationrequest")
        refresh_queues()  # written in SQL, past the services: their queue task


class Command(BaseCommand):
    help = "Compare chaque page servie par gunicorn au SQL qu'elle exécute (base « bench »)."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=100)

    def handle(self, *args, runs: int, **options):
        if "bench" not in connection.settings_dict["NAME"]:
            raise CommandError("Refus : la base doit être une base de mesure.")
        reception = bench_user("bench.accueil", Role.RECEPTION)
        seed_reception_work(reception)
        arpnt = bench_user("bench.arpnt", Role.ARPNT)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # One worker: every request meets the same warm process, as a busy server's do.
        server = start_server(port, workers=1)
        try:
            sessions = {user.pk: http_login(base, user.username) for user in (reception, arpnt)}
            clients = {}
            for user in (reception, arpnt):
                clients[user.pk] = Client()
                clients[user.pk].force_login(user)
            self.stdout.write(
                f"\nPages par HTTP (gunicorn, DEBUG off) et leur SQL rejoué sur une connexion "
                f"ouverte, {runs} essais, médianes :"
            )
            self.stdout.write(
                f"  {'page':<32} {'requêtes':>8} {'SQL':>8} {'page':>8} {'p95':>8} {'rapport':>8}"
                f" {'CPU web':>8} {'octets':>7}"
            )
            ratios = []
            for label, user, url in pages(reception, arpnt):
                http_session = sessions[user.pk]
                for _ in range(10):
                    response = http_session.get(base + url, allow_redirects=False)
                if response.status_code != 200:
                    raise CommandError(f"{label} : HTTP {response.status_code}")
                clients[user.pk].get(url)
                with CaptureQueriesContext(connection) as captured:
                    clients[user.pk].get(url)
                statements = [q["sql"] for q in captured.captured_queries]
                # Side by side: each run times the page, then its SQL, so that whatever else the
                # machine does weighs on both alike. The page is fetched with the standard
                # library's client (a new connection each time, as gunicorn's sync workers
                # close it): the least a client adds.
                headers = {
                    "Cookie": "; ".join(f"{k}={v}" for k, v in http_session.cookies.items()),
                    "Host": "127.0.0.1",
                    "Accept-Encoding": "gzip",  # as every browser asks
                }
                page_ms, sql_ms = [], []
                web_cpu = tree_cpu(server.pid)  # gunicorn's CPU: the pages only (not the replay)
                with connection.cursor() as cursor:
                    for _ in range(runs):
                        start = time.perf_counter()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                        conn.request("GET", url, headers=headers)
                        answer = conn.getresponse()
                        wire = len(answer.read())  # the body as sent (compressed)
                        conn.close()
                        page_ms.append((time.perf_counter() - start) * 1000)
                        if answer.status != 200:
                            raise CommandError(f"{label} : HTTP {answer.status}")
                        start = time.perf_counter()
                        for sql in statements:
                            cursor.execute(sql)
                            if cursor.description:
                                cursor.fetchall()
                        sql_ms.append((time.perf_counter() - start) * 1000)
                cpu_ms = (tree_cpu(server.pid) - web_cpu) * 1000 / runs
                page, sql = statistics.median(page_ms), statistics.median(sql_ms)
                p95 = statistics.quantiles(page_ms, n=20)[-1]
                ratios.append(page / sql)
                self.stdout.write(
                    f"  {label:<32} {len(statements):>8} {sql:>6.1f}ms {page:>6.1f}ms "
                    f"{p95:>6.1f}ms {page / sql:>7.1f}× {cpu_ms:>6.1f}ms {wire:>7}"
                )
            self.stdout.write(
                f"  rapport page / SQL : médiane {statistics.median(ratios):.1f}×, "
                f"maximum {max(ratios):.1f}× (objectif : au plus 5×)"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        sys.stdout.flush()
