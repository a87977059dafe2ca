"""The documents of a large daily job (DESIGN.md §8): 10 000 removal orders issued by step 8
on the 1 000 000-contract benchmark database, then rendered and stored by the production
stack's task workers, timed until the last one is stored.

    make bench-documents        # after `make bench` has filled the database
"""

import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from bench.machine import CpuMeter, production_env, tree_cpu
from bench.management.commands.bench_due_orders import seed_due_requests
from billing.enums import DocumentKind, DocumentStatus
from billing.models import Document
from procedure.services import issue_due_orders


class Command(BaseCommand):
    help = "Mesure la production des PDF de 10 000 ordres par les workers (base « bench »)."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=10_000)
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, requests: int, workers: int, **options):
        if "bench" not in connection.settings_dict["NAME"]:
            raise CommandError("Refus : la base doit être une base de mesure.")
        today = timezone.localdate()
        seed_due_requests(requests, today)
        start = time.perf_counter()
        issued = issue_due_orders(today)
        issuing = time.perf_counter() - start
        self.stdout.write(
            f"Étape 8 : {issued} ordres émis en {issuing:.1f} s, chacun avec sa ligne de document "
            "« en cours de production » et sa tâche de rendu."
        )
        procs = [
            subprocess.Popen(
                [sys.executable, "manage.py", "run_worker", "--queues", "documents"],
                cwd=settings.BASE_DIR,
                env=production_env(),
            )
            for _ in range(workers)
        ]
        start = time.perf_counter()
        pending = issued
        pg = CpuMeter()
        workers_cpu = 0.0
        try:
            while pending:
                time.sleep(2)
                pending = Document.objects.filter(
                    kind=DocumentKind.ORDER, status=DocumentStatus.PENDING
                ).count()
                elapsed = time.perf_counter() - start
                done = issued - pending
                rate = done / elapsed if elapsed else 0
                left = pending / rate if rate else float("inf")
                self.stdout.write(
                    f"\r  {done:>6}/{issued} PDF stockés, {rate:5.1f}/s, reste ~{left:4.0f} s",
                    ending="",
                )
                self.stdout.flush()
        finally:
            workers_cpu = sum(tree_cpu(proc.pid) for proc in procs)  # before they go
            pg_cpu = pg.spent()[1]
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=60)
        elapsed = time.perf_counter() - start
        failed = Document.objects.filter(status=DocumentStatus.TO_REGENERATE).count()
        self.stdout.write("")
        self.stdout.write(
            f"{issued} ordres rendus et stockés par {workers} workers en {elapsed:.0f} s "
            f"({issued / elapsed:.1f} PDF/s ; objectif : 10 000 en 600 s) ; "
            f"{failed} à régénérer."
        )
        self.stdout.write(
            f"CPU : {workers_cpu / max(issued, 1):.3f} s de worker + "
            f"{pg_cpu / max(issued, 1):.3f} s de PostgreSQL par ordre (le démarrage des workers "
            "compris)."
        )
