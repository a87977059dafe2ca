"""The customers' SMS of a large daily job: step 8 issues 10 000 removal orders on the
1 000 000-contract benchmark database, each with its SMS written in the same transaction; the
production stack's task workers then send them to a local server that speaks Infobip's SMS API
(the real backend, its SDK, HTTP on the loopback), timed until the last one is handed over.

    make bench-notifications    # after `make bench` has filled the database
"""

import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from bench.machine import CpuMeter, production_env, tree_cpu
from bench.management.commands.bench_due_orders import seed_due_requests
from notifications.enums import DeliveryStatus, NotificationKind
from notifications.models import Delivery, Notification, QuietHours
from procedure.services import issue_due_orders

ANSWER = (
    b'{"bulkId":"bench","messages":[{"messageId":"%s","status":{"groupId":1,'
    b'"groupName":"PENDING","id":26,"name":"PENDING_ACCEPTED"},"destination":"22901"}]}'
)


class Gateway(BaseHTTPRequestHandler):
    """POST /sms/3/messages: accepted, with the message's own id."""

    protocol_version = "HTTP/1.1"  # kept-alive connections, as the SDK's pool expects
    received = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        start = body.find(b'"messageId":"') + len(b'"messageId":"')
        message_id = body[start : body.find(b'"', start)]
        answer = ANSWER % message_id
        Gateway.received += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


class Command(BaseCommand):
    help = "Mesure l'envoi des SMS de 10 000 ordres de dépose par les workers (base « bench »)."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=10_000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--concurrency", type=int, default=4)

    def handle(self, *args, requests: int, workers: int, concurrency: int, **options):
        if "bench" not in connection.settings_dict["NAME"]:
            raise CommandError("Refus : la base doit être une base de mesure.")
        # Whatever the hour of the run, no quiet hours: the messages leave at once.
        quiet = QuietHours.objects.first() or QuietHours.objects.create()
        kept = (quiet.start, quiet.end)
        QuietHours.objects.filter(pk=quiet.pk).update(start=quiet.end)
        try:
            self.run(requests, workers, concurrency)
        finally:
            QuietHours.objects.filter(pk=quiet.pk).update(start=kept[0], end=kept[1])

    def run(self, requests: int, workers: int, concurrency: int):
        today = timezone.localdate()
        seed_due_requests(requests, today)
        start = time.perf_counter()
        issued = issue_due_orders(today)
        issuing = time.perf_counter() - start
        written = Notification.objects.filter(kind=NotificationKind.VISIT).count()
        if not issued:
            raise CommandError("La base de mesure est vide : lancez d'abord `make bench`.")
        self.stdout.write(
            f"Étape 8 : {issued} ordres émis en {issuing:.1f} s, avec {written} SMS écrits dans "
            "les mêmes transactions."
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env = production_env(
            SMS_BACKEND="notifications.backends.InfobipBackend",
            INFOBIP_BASE_URL=f"http://127.0.0.1:{server.server_port}",
            INFOBIP_API_KEY="bench",
        )
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "run_worker",
                    "--queues",
                    "notifications",
                    "--concurrency",
                    str(concurrency),
                ],
                cwd=settings.BASE_DIR,
                env=env,
            )
            for _ in range(workers)
        ]
        start = time.perf_counter()
        own = time.process_time()
        pg = CpuMeter()
        sent = 0
        try:
            while sent < written:
                time.sleep(2)
                sent = Delivery.objects.filter(status=DeliveryStatus.SENT).count()
                elapsed = time.perf_counter() - start
                rate = sent / elapsed if elapsed else 0
                self.stdout.write(
                    f"\r  {sent:>6}/{written} SMS remis à la passerelle, {rate:6.1f}/s", ending=""
                )
                self.stdout.flush()
        finally:
            workers_cpu = sum(tree_cpu(proc.pid) for proc in procs)
            pg_cpu = pg.spent()[1]
            gateway_cpu = time.process_time() - own
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=60)
            server.shutdown()
            server.server_close()
        elapsed = time.perf_counter() - start
        told = Notification.objects.filter(deliveries__status=DeliveryStatus.SENT).distinct()
        distinct = told.count()
        self.stdout.write("")
        self.stdout.write(
            f"{sent} SMS envoyés par {workers} workers (×{concurrency}) en {elapsed:.1f} s : "
            f"{sent / elapsed:.0f} SMS/s (objectif : au moins 100/s) ; la passerelle en a reçu "
            f"{Gateway.received} ({Gateway.received - distinct} en double) ; "
            f"{written - distinct} non remis."
        )
        per = 1000 / max(sent, 1)
        self.stdout.write(
            f"CPU par SMS : {workers_cpu * per:.2f} ms de worker + {pg_cpu * per:.2f} ms de "
            f"PostgreSQL (+ {gateway_cpu * per:.2f} ms de la passerelle simulée et du suivi, "
            "dans ce processus ; démarrage des workers compris)."
        )
