"""Load benchmark (DESIGN.md §8): simulated agents (locust, headless, think time 1-3 s, the
agency mix of bench/locustfile.py) against the production stack (gunicorn with its workers sized
to the CPUs, two task workers) on the 1 000 000-contract benchmark database. Prints requests/s,
p50/p95/p99 and errors per number of agents, and the saturation point.

    make bench-load     # after `make bench` has filled the database
    make bench-load BENCH_STACKS=2 BENCH_REPLICA=1 BENCH_POOLER=1
                        # nginx in front of two stacks, the read-only pages on a hot standby,
                        # the web processes through PgBouncer (README, "Beyond one machine")
"""

import csv
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from bench.machine import CpuMeter, begin, end, production_env
from bench.management.commands.bench_pages import (
    PASSWORD,
    bench_user,
    free_port,
    seed_reception_work,
    start_server,
)
from billing.documents import document_issue
from billing.enums import DocumentKind
from billing.models import Document
from contracts.enums import Role
from contracts.models import Contract, TerminationRequest
from interventions.enums import OrderStatus
from interventions.models import InterventionOrder
from sbee_resiliation import localdb, proxy

TARGET_P95_MS = 300
# Seconds after a level's start when every agent has logged in (they arrive over 60 s).
STEADY_FROM = 70


def wait_for(url: str) -> None:
    """A server starting on a busy machine: a generous deadline."""
    import requests

    deadline = time.monotonic() + 240
    while True:
        try:
            requests.get(url, timeout=60)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise CommandError(f"{url} ne répond pas.") from None
            time.sleep(0.5)


def samples(reception, arpnt) -> dict:
    contracts = list(
        Contract.objects.filter(agency=reception.agency, id__in=range(4, 1_000_000, 397))
        .select_related("customer", "meter")
        .order_by("id")[:2000]
    )
    return {
        "accounts": {
            "reception": {"username": reception.username, "password": PASSWORD},
            "arpnt": {"username": arpnt.username, "password": PASSWORD},
        },
        "contracts": [
            {
                "number": c.number,
                "serial": c.meter.serial,
                "phone": c.customer.phone,
                "name": c.customer.name,
            }
            for c in contracts
        ],
        "requests": list(
            TerminationRequest.objects.filter(agency=reception.agency)
            .order_by("?")
            .values_list("pk", flat=True)[:500]
        ),
        "documents": list(
            Document.objects.filter(request__agency=reception.agency, kind="order")
            .order_by("?")
            .values_list("pk", flat=True)[:300]
        ),
    }


def chef_with_codes(count: int) -> dict:
    """The agency's chef (dashboards, search, cash journal, exports), with a confirmed TOTP
    device and as many single-use backup codes as chefs will log in (the second factor's page
    takes either); returns their account for the samples."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    chef = bench_user("bench.chef", Role.MANAGER)
    TOTPDevice.objects.get_or_create(user=chef, name="bench", defaults={"confirmed": True})
    device, _ = StaticDevice.objects.get_or_create(user=chef, name="bench")
    run = secrets.token_hex(3)  # codes of this run only: those of earlier runs are spent
    codes = [f"{run}{n:06d}" for n in range(count)]
    device.token_set.bulk_create([device.token_set.model(device=device, token=c) for c in codes])
    return {"username": chef.username, "password": PASSWORD, "codes": codes}


class Command(BaseCommand):
    help = "Agents simulés (locust) contre la pile de production sur la base « bench »."

    def add_arguments(self, parser):
        parser.add_argument("--users", default="100", help="paliers d'agents, ex. 50,100,200")
        parser.add_argument("--duration", type=int, default=120, help="secondes par palier")
        parser.add_argument("--workers", type=int, default=2, help="workers de tâches par pile")
        parser.add_argument(
            "--stacks", type=int, default=1, help="piles (gunicorn + workers), nginx devant 2+"
        )
        parser.add_argument("--replica", action="store_true", help="lectures sur un réplica")
        parser.add_argument("--pooler", action="store_true", help="le web à travers PgBouncer")
        parser.add_argument(
            "--chefs",
            action="store_true",
            help="un chef d'agence pour 8 agents : tableaux de bord, recherche, journal, exports",
        )

    def printable_orders(self, reception, n: int = 100) -> None:
        """Stored orders for the crews to print: `make bench` leaves them (step 8's) unless its
        growth table, last, seeded the requests again; then the agency's first orders, rendered
        here."""
        if Document.objects.filter(request__agency=reception.agency, kind="order").exists():
            return
        orders = (
            InterventionOrder.objects.filter(agency=reception.agency)
            .exclude(status=OrderStatus.CANCELLED)
            .order_by("id")
            .values_list("pk", flat=True)[:n]
        )
        for pk in orders:
            document_issue(DocumentKind.ORDER, pk)
        self.stdout.write(f"{len(orders)} ordres rendus pour l'impression")

    def start_stacks(self, stacks, workers, replica, pooler, started, companions):
        """The stacks (gunicorn and task workers each), with the replica and the pooler when
        asked, and nginx in front of two or more; returns the port the agents use and the
        process trees whose CPU is the server's (PostgreSQL's is counted apart)."""
        db = connection.settings_dict
        extra, web_extra, web_roots = {}, {}, []
        if replica:
            if not localdb.replica_is_running():
                localdb.start_replica()
                companions.append(localdb.stop_replica)
            extra["REPLICA_DATABASE_URL"] = localdb.replica_url(db["USER"], db["NAME"])
        if pooler:
            if localdb._pooler_pid() is None:
                localdb.start_pooler()
                companions.append(localdb.stop_pooler)
            web_extra["WEB_DATABASE_URL"] = localdb.pooler_url(db["USER"], db["NAME"])
            web_roots.append(localdb._pooler_pid())
        ports = []
        for _ in range(stacks):
            ports.append(free_port())
            server = start_server(ports[-1], **extra, **web_extra)
            started.append(server)
            web_roots.append(server.pid)
            for _ in range(workers):
                started.append(
                    subprocess.Popen(
                        [sys.executable, "manage.py", "run_worker"],
                        cwd=settings.BASE_DIR,
                        env=production_env(**extra),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        if stacks == 1:
            port = ports[0]
        else:
            port = free_port()
            folder = Path(tempfile.mkdtemp(prefix="sbee-nginx-"))
            command = proxy.prepare(f"127.0.0.1:{port}", [f"127.0.0.1:{p}" for p in ports], folder)
            front = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started.append(front)
            web_roots.append(front.pid)
            companions.append(lambda: shutil.rmtree(folder, ignore_errors=True))
            wait_for(f"http://127.0.0.1:{port}/connexion/")
        self.stdout.write(
            f"  {stacks} pile(s) de {workers} worker(s) de tâches"
            + (", nginx devant" if stacks > 1 else "")
            + (", réplica pour les pages de lecture" if replica else "")
            + (", PgBouncer (transaction) devant le primaire" if pooler else "")
        )
        return port, web_roots

    def handle(
        self,
        *args,
        users: str,
        duration: int,
        workers: int,
        stacks: int,
        replica: bool,
        pooler: bool,
        chefs: bool,
        **options,
    ):
        if "bench" not in connection.settings_dict["NAME"]:
            raise CommandError("Refus : la base doit être une base de mesure.")
        begin(self.stdout, "bench-load")
        reception = bench_user("bench.accueil", Role.RECEPTION)
        arpnt = bench_user("bench.arpnt", Role.ARPNT)
        seed_reception_work(reception)
        self.printable_orders(reception)
        data = samples(reception, arpnt)
        if not data["documents"]:
            raise CommandError("Aucun ordre à imprimer : lancez d'abord make bench.")
        if chefs:
            most = max(int(n) for n in users.split(","))
            data["accounts"]["chef"] = chef_with_codes(most)
        folder = Path(tempfile.mkdtemp(prefix="sbee-load-"))
        samples_file = folder / "samples.json"
        samples_file.write_text(json.dumps(data))
        started: list[subprocess.Popen] = []
        companions = []
        try:
            port, web_roots = self.start_stacks(
                stacks, workers, replica, pooler, started, companions
            )
            results = []
            for level in [int(n) for n in users.split(",")]:
                results.append(
                    self.run_level(level, duration, port, folder, samples_file, web_roots)
                )
        finally:
            for proc in started:
                proc.terminate()
            for proc in started:
                proc.wait(timeout=60)
            for stop in companions:
                stop()
            shutil.rmtree(folder, ignore_errors=True)
        self.report(results)
        end(self.stdout, "bench-load")

    def run_level(
        self, level: int, duration: int, port: int, folder: Path, samples_file: Path, web: list
    ):
        prefix = folder / f"agents-{level}"
        command = [
            str(Path(sys.executable).parent / "locust"),
            "--locustfile",
            str(settings.BASE_DIR / "bench" / "locustfile.py"),
            "--headless",
            "--host",
            f"http://127.0.0.1:{port}",
            "--users",
            str(level),
            "--spawn-rate",  # the agents log in over the first minute
            f"{level / 60:.3f}",
            "--run-time",
            f"{duration}s",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "ERROR",
        ]
        self.stdout.write(f"  {level} agents, {duration} s…")
        env = {**os.environ, "SBEE_LOAD_SAMPLES": str(samples_file)}
        # The connections to the database, counted every second while the agents work: kept
        # connections must stay one per server process and a few per task worker, not grow.
        counts: list[int] = []
        done = threading.Event()

        def count_connections():
            import psycopg

            params = connection.get_connection_params()
            keep = ("host", "port", "user", "dbname", "password", "passfile")
            params = {k: v for k, v in params.items() if k in keep}
            with psycopg.connect(**params, autocommit=True) as watcher:
                while not done.wait(1):
                    counts.append(
                        watcher.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                            " current_database() AND pid <> pg_backend_pid()"
                        ).fetchone()[0]
                    )

        watcher = threading.Thread(target=count_connections)
        watcher.start()
        cpu = CpuMeter(web)
        # Once every agent has logged in (they arrive over the first minute), the CPU read
        # again: the working day's cost per request, without the morning's logins.
        settled: list = []
        reading = threading.Timer(STEADY_FROM, lambda: settled.append((time.time(), *cpu.spent())))
        if duration >= STEADY_FROM + 30:
            reading.start()
        try:
            subprocess.run(command, env=env, check=False, capture_output=True, text=True)
        finally:
            reading.cancel()
            done.set()
            watcher.join()
        web_cpu, pg_cpu = cpu.spent()
        with open(f"{prefix}_stats.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        total = next(row for row in rows if row["Name"] == "Aggregated")
        steady = None
        if settled:
            at, web_then, pg_then = settled[0]
            with open(f"{prefix}_stats_history.csv", newline="") as handle:
                history = [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]
            before = [int(r["Total Request Count"]) for r in history if int(r["Timestamp"]) <= at]
            answered = int(total["Request Count"]) - (before[-1] if before else 0)
            if answered > 0:
                steady = (web_cpu - web_then, pg_cpu - pg_then, answered)
        pages = {
            row["Name"]: (int(row["Request Count"]), float(row["50%"] or 0), float(row["95%"] or 0))
            for row in rows
            if row["Name"] != "Aggregated" and int(row["Request Count"] or 0)
        }
        return {
            "agents": level,
            "requests": int(total["Request Count"]),
            "failures": int(total["Failure Count"]),
            "rps": float(total["Requests/s"]),
            "p50": float(total["50%"]),
            "p95": float(total["95%"]),
            "p99": float(total["99%"]),
            "pages": pages,
            "connections": (min(counts), max(counts), counts[-1]) if counts else (0, 0, 0),
            # Over the whole level, the morning's logins included, per request answered.
            "cpu": (web_cpu, pg_cpu, max(1, int(total["Request Count"]))),
            "steady": steady,
        }

    def report(self, results: list[dict]) -> None:
        self.stdout.write(
            f"\n  {'agents':>6} {'requêtes':>9} {'req/s':>7} {'p50':>7} {'p95':>7} "
            f"{'p99':>7} {'erreurs':>8}"
        )
        for r in results:
            self.stdout.write(
                f"  {r['agents']:>6} {r['requests']:>9} {r['rps']:>7.1f} {r['p50']:>5.0f}ms "
                f"{r['p95']:>5.0f}ms {r['p99']:>5.0f}ms {r['failures']:>8}"
            )
        for r in results:
            web_cpu, pg_cpu, count = r["cpu"]
            self.stdout.write(
                f"  CPU du serveur à {r['agents']} agents : {1000 * web_cpu / count:.1f} ms web "
                f"+ {1000 * pg_cpu / count:.1f} ms PostgreSQL par requête "
                f"({count} requêtes, connexions comprises)"
            )
            if r["steady"]:
                web_cpu, pg_cpu, count = r["steady"]
                self.stdout.write(
                    f"    dont après la dernière connexion (de {STEADY_FROM} s à la fin) : "
                    f"{1000 * web_cpu / count:.1f} ms web + {1000 * pg_cpu / count:.1f} ms "
                    f"PostgreSQL par requête ({count} requêtes)"
                )
        for r in results:
            low, high, last = r["connections"]
            self.stdout.write(
                f"  connexions à la base pendant le palier de {r['agents']} agents : "
                f"de {low} à {high}, {last} à la fin"
            )
        for r in results:
            self.stdout.write(f"  à {r['agents']} agents, par page (nombre, p50, p95) :")
            for name, (count, p50, p95) in sorted(r["pages"].items(), key=lambda i: -i[1][2]):
                self.stdout.write(f"    {name:<28} {count:>6} {p50:>6.0f}ms {p95:>6.0f}ms")
        within = [r for r in results if r["p95"] < TARGET_P95_MS and r["failures"] == 0]
        beyond = [r for r in results if r not in within]
        if within:
            best = max(within, key=lambda r: r["agents"])
            self.stdout.write(
                f"  Tenue de l'objectif (p95 < {TARGET_P95_MS} ms, 0 erreur) jusqu'à "
                f"{best['agents']} agents ({best['rps']:.1f} req/s)."
            )
        if beyond:
            first = min(beyond, key=lambda r: r["agents"])
            self.stdout.write(
                f"  Saturation : à {first['agents']} agents, p95 {first['p95']:.0f} ms, "
                f"{first['failures']} erreurs, {first['rps']:.1f} req/s."
            )
