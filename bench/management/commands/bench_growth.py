"""Growth: each page's SQL at 10 000 / 100 000 / 1 000 000 contracts with 2 000 / 20 000 /
200 000 requests in every state (seeded as `make bench-dashboard` seeds them). A page whose
SQL grows with the tables reads them whole somewhere; a flat line is an index scan at every
size. Each statement the page runs (captured through Django's test client, the whole stack) is
replayed on one open connection, best of --runs; the plans are read (EXPLAIN) for a sequential
scan of a table of more than a thousand rows.

The database is left at the last size (1 000 000 contracts, 200 000 requests), as
`make bench-dashboard` wants it.

    make bench          # its last step
"""

import json
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from bench.management.commands import bench_dashboard, bench_search
from bench.management.commands.bench_pages import bench_user, pages
from contracts.enums import Role
from contracts.models import Contract, TerminationRequest

SIZES = "10000:2000,100000:20000,1000000:200000"


def statements(client: Client, url: str) -> list[tuple[str, tuple]]:
    """The SQL one request of the page runs, as sent (after a first request: warm caches)."""
    client.get(url)
    seen = []

    def record(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.get(url)
    if response.status_code != 200:
        raise CommandError(f"{url} : HTTP {response.status_code}")
    return seen


def sequential_scans(cursor, sql: str, params) -> set[str]:
    """The tables of more than a thousand rows that the plan reads whole."""
    cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
    plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found = set()

    def walk(node):
        if node.get("Node Type") == "Seq Scan" and node.get("Plan Rows", 0) > 1000:
            found.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def replay(stmts, runs: int) -> tuple[float, set[str]]:
    """Milliseconds of the page's SQL (best of `runs`), and the tables read whole."""
    best = float("inf")
    scans = set()
    with connection.cursor() as cursor:
        for sql, params in stmts:
            if sql.lstrip().upper().startswith("SELECT"):
                scans |= sequential_scans(cursor, sql, params)
        for _ in range(runs):
            start = time.perf_counter()
            for sql, params in stmts:
                cursor.execute(sql, params)
                if cursor.description:
                    cursor.fetchall()
            best = min(best, time.perf_counter() - start)
    return best * 1000, scans


class Command(BaseCommand):
    help = "Le SQL de chaque page à 10 000, 100 000 et 1 000 000 contrats (base « bench »)."

    def add_arguments(self, parser):
        parser.add_argument("--sizes", default=SIZES, help="contrats:demandes,…")
        parser.add_argument("--runs", type=int, default=20)

    def handle(self, *args, sizes: str, runs: int, **options):
        if "bench" not in connection.settings_dict["NAME"]:
            raise CommandError("Refus : la base doit être une base de mesure.")
        steps = [tuple(int(n) for n in size.split(":")) for size in sizes.split(",")]
        reception = bench_user("bench.accueil", Role.RECEPTION)
        arpnt = bench_user("bench.arpnt", Role.ARPNT)
        auditor = bench_user("bench.audit", Role.AUDITOR)
        results: dict[str, list[str]] = {}
        whole: list[str] = []
        for contracts, requests in steps:
            self.fill(contracts, requests, auditor.pk)
            clients = {}
            for user in (reception, arpnt):
                clients[user.pk] = Client(HTTP_HOST="127.0.0.1")
                clients[user.pk].force_login(user)
            clients[auditor.pk] = bench_dashboard.auditor_client(auditor)
            measured = [
                *pages(reception, arpnt),
                ("tableau de bord national", auditor, reverse("dashboard")),
                ("tableau de bord d'agence", auditor, reverse("dashboard") + "?agence=AKP"),
                (
                    "demandes en retard, par échéance",
                    auditor,
                    reverse("request_list") + "?tri=echeance&etat=ouvertes&retard=oui",
                ),
            ]
            for label, user, url in measured:
                ms, scans = replay(statements(clients[user.pk], url), runs)
                results.setdefault(label, []).append(f"{ms:.1f} ms" + (" *" if scans else ""))
                if scans:
                    whole.append(f"{label} à {contracts} contrats : {', '.join(sorted(scans))}")
        header = "".join(f"{f'{c:,}/{r:,}'.replace(',', ' '):>18}" for c, r in steps)
        self.stdout.write(
            f"\nCroissance : le SQL de chaque page (meilleur de {runs}), contrats/demandes :"
        )
        self.stdout.write(f"  {'page':<36}{header}")
        for label, cells in results.items():
            self.stdout.write(f"  {label:<36}" + "".join(f"{cell:>18}" for cell in cells))
        self.stdout.write(
            "  * une table de plus de 1 000 lignes lue en entier : " + "; ".join(whole)
            if whole
            else "  Aucune table de plus de 1 000 lignes lue en entier, à aucune taille."
        )

    def fill(self, contracts: int, requests: int, creator_id: int) -> None:
        start = time.perf_counter()
        if Contract.objects.count() != contracts:
            bench_search.Command(stdout=self.stdout).fill(contracts)
        elif TerminationRequest.objects.count() != requests:
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE contracts_terminationrequest CASCADE")
        bench_dashboard.Command(stdout=self.stdout).seed(requests, creator_id)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
            # The seeding's gigabyte written out now, not by the checkpointer while the pages'
            # SQL is timed. The local cluster's benchmark role may; another may not (then the
            # figures of the largest size may carry some of that writing: said below).
            try:
                with transaction.atomic():
                    cursor.execute("CHECKPOINT")
            except DatabaseError:
                self.stdout.write("  (CHECKPOINT refusé à ce rôle : mesure sans lui)")
        self.stdout.write(
            f"{contracts} contrats, {TerminationRequest.objects.count()} demandes prêts en "
            f"{time.perf_counter() - start:.0f} s"
        )
