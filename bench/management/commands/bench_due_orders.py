"""Step 8 at utility scale (DESIGN.md §8): 10 000 due requests on the 1 000 000-contract
benchmark database, issued by one run of the daily job; then the ARPNT's work queue.

    make bench      # after the search benchmark has filled the database
"""

import statistics
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
from django.utils import timezone

from contracts.enums import Role
from contracts.models import Agency, User
from procedure.services import issue_due_orders

SEED_SQL = """
INSERT INTO contracts_terminationrequest
  (contract_id, agency_id, kind, state, timing, cut_date, requester_name,
   requester_id_document_type, requester_id_document_number, requester_phone,
   requester_quality, proxy_reference, created_by_id, created_at,
   cancel_reason, state_since, queue_task)
SELECT c.id, c.agency_id, 'without_takeover', 'settled', 'classic', %(today)s - 1,
       'DEMANDEUR ' || c.id, 'cni', (4000000000 + c.id)::text, '+2290197000000', 'holder', '',
       %(user)s, now(), '', now() - (c.id %% 30) * interval '1 hour', ''
FROM contracts_contract c
WHERE c.id %% 97 = 0
ORDER BY c.id
LIMIT %(n)s
"""


def seed_due_requests(n: int, today) -> None:
    """Start afresh: no request, order, document or job; then n settled requests whose cut
    date was yesterday, spread over the agencies."""
    reception, _ = User.objects.get_or_create(
        username="bench.accueil", defaults={"agency": Agency.objects.get(code="AKP")}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE interventions_interventionreport, interventions_visitattempt, "
            "interventions_interventionorder, billing_documentprint, billing_attestation, "
            "contracts_terminationevent, billing_document, contracts_terminationrequest, "
            "contracts_numbersequence, procrastinate_jobs, procrastinate_workers CASCADE"
        )
        cursor.execute(SEED_SQL, {"today": today, "user": reception.pk, "n": n})
        cursor.execute("ANALYZE contracts_terminationrequest")


class Command(BaseCommand):
    help = "Mesure l'étape 8 sur 10 000 demandes échues et la corbeille ARPNT (base « bench »)."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=10_000)
        parser.add_argument("--runs", type=int, default=50)

    def handle(self, *args, requests: int, runs: int, **options):
        if "bench" not in connection.settings_dict["NAME"]:
            raise CommandError(
                "Refus : la base doit être une base de mesure (nom contenant « bench »)."
            )
        agency = Agency.objects.get(code="AKP")
        arpnt, _ = User.objects.get_or_create(username="bench.arpnt", defaults={"agency": agency})
        from django.contrib.auth.models import Group

        arpnt.groups.set([Group.objects.get(name=Role.ARPNT)])
        today = timezone.localdate()
        seed_due_requests(requests, today)
        self.stdout.write(f"{requests} demandes réglées, échues le {today:%d/%m/%Y}.")
        start = time.perf_counter()
        issued = issue_due_orders(today)
        elapsed = time.perf_counter() - start
        self.stdout.write(
            f"Étape 8 : {issued} ordres émis en {elapsed:.1f} s "
            f"({issued / elapsed:.0f} par seconde), rendus PDF confiés au worker."
        )
        assert issue_due_orders(today) == 0
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE contracts_terminationrequest")  # as autovacuum would
        setup_test_environment()
        client = Client()
        client.force_login(arpnt)
        url = reverse("work_queue")
        client.get(url)
        samples = []
        for _ in range(runs):
            t = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - t) * 1000)
        items = len(response.context["items"])
        p95 = statistics.quantiles(samples, n=20)[-1]
        self.stdout.write(
            f"Corbeille ARPNT ({items} lignes affichées) : médiane "
            f"{statistics.median(samples):.1f} ms, p95 {p95:.1f} ms"
        )
