"""The dashboards and exports at scale (issue: 1 000 000 contracts, 200 000 requests in every
state; each dashboard under 200 ms at p95; an export of 200 000 rows under 30 s).

Seeds, once, requests up to --requests on the benchmark database's contracts (set-based SQL):
70 % closed, 5 % cancelled, the rest spread over the open states, entered into their state over
the last 120 days, with their balance invoices (validated, settled or none, as their state
implies). Then opens the national, one DR's and one agency's dashboard through Django's test
client (the whole stack: middleware, session with the second factor, view, template) and
exports the national list of requests as CSV and as XLSX.

    make bench-dashboard
"""

import re
import statistics
import time

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from bench.machine import CpuMeter
from bench.management.commands.bench_pages import bench_user
from contracts.enums import Role
from contracts.models import Agency, Direction, TerminationRequest
from procedure.deadlines import refresh_all_deadlines
from procedure.queues import refresh_queues
from supervision.scope import Scope
from supervision.selectors import dashboard

OPEN_STATES = [
    "received",
    "takeover_invoiced",
    "order_issued",
    "field_reported",
    "report_approved",
    "invoiced",
    "settled",
    "removal_ordered",
    "meter_removed",
    "removal_impossible",
]

SEED_SQL = """
WITH chosen AS (
    SELECT c.id, c.agency_id, row_number() OVER (ORDER BY c.id) AS n
    FROM contracts_contract c
    WHERE c.status = 'active'
      AND NOT EXISTS (SELECT 1 FROM contracts_terminationrequest r WHERE r.contract_id = c.id)
    ORDER BY c.id
    LIMIT %(missing)s
), shaped AS (
    SELECT id, agency_id, n,
        CASE WHEN n %% 20 < 14 THEN 'closed'
             WHEN n %% 20 = 14 THEN 'cancelled'
             ELSE (%(open_states)s::text[])[1 + (n / 20) %% 10] END AS state,
        now() - make_interval(days => (n %% 120)::int, mins => (n %% 600)::int) AS since
    FROM chosen
)
INSERT INTO contracts_terminationrequest (
    contract_id, agency_id, kind, state, timing, requester_name, requester_id_document_type,
    requester_id_document_number, requester_phone, requester_quality, proxy_reference,
    created_by_id, created_at, cancel_reason, closed_at, state_since, queue_task)
SELECT id, agency_id,
    CASE WHEN n %% 7 = 0 THEN 'with_takeover' ELSE 'without_takeover' END,
    state, 'classic', 'DEMANDEUR ' || n, 'cni', 'B' || n, '+2290197000000', 'holder', '',
    %(creator)s, since - interval '9 days', CASE WHEN state = 'cancelled' THEN 'bench' ELSE '' END,
    CASE WHEN state = 'closed' THEN since END, since, ''
FROM shaped
"""

INVOICE_SQL = """
INSERT INTO billing_invoice (
    kind, state, number, issued_on, total, contract_id, advances_total, balance, consumption,
    days, deposit_amount, request_id, rollover, unpaid_total, validated_at, vat_amount, vat_base,
    vat_rate)
SELECT 'balance',
    CASE WHEN r.state IN ('invoiced', 'takeover_invoiced') THEN 'validated' ELSE 'settled' END,
    'BENCH-FS-' || r.id, r.state_since::date, 20000 + r.id %% 50000, r.contract_id, 0,
    CASE WHEN r.id %% 5 = 0 THEN -(r.id %% 30000) ELSE 1000 + r.id %% 90000 END,
    300, 30, 30000, r.id, false, 0, r.state_since, 0, 0, 18
FROM contracts_terminationrequest r
WHERE r.requester_name LIKE 'DEMANDEUR %%'
  AND r.state IN ('invoiced', 'takeover_invoiced', 'settled', 'removal_ordered',
                  'meter_removed', 'removal_impossible', 'closed')
  AND NOT EXISTS (SELECT 1 FROM billing_invoice i WHERE i.request_id = r.id)
"""


# Their orders, as the procedure would have issued them: the field order (step 3) from
# "order_issued" on (signed by the requester; filed once its report is past), the removal order
# (step 8) from "removal_ordered" on. Requests of a reprise have none.
ORDER_SQL = """
INSERT INTO interventions_interventionorder (
    request_id, agency_id, kind, number, issued_on, due_on, status, issued_by_id,
    requester_signed_at, requester_signature_recorded_by_id, closure_reason, closed_at,
    closed_by_id, reassignments)
SELECT r.id, r.agency_id, o.kind, 'BENCH-' || o.prefix || '-' || r.id,
    (r.created_at + interval '1 day')::date, (r.created_at + interval '1 day')::date,
    CASE WHEN o.kind = 'interruption_reading'
         THEN CASE WHEN r.state = 'order_issued' THEN 'issued'
                   WHEN r.state = 'field_reported' THEN 'reported' ELSE 'filed' END
         ELSE CASE WHEN r.state = 'removal_ordered' THEN 'issued'
                   WHEN r.state = 'removal_impossible' THEN 'impossible' ELSE 'filed' END END,
    %(creator)s,
    CASE WHEN o.kind = 'interruption_reading' THEN r.created_at + interval '1 day' END,
    CASE WHEN o.kind = 'interruption_reading' THEN %(creator)s END,
    CASE WHEN o.kind = 'removal' AND r.state = 'removal_impossible' THEN 'bench' ELSE '' END,
    CASE WHEN o.kind = 'removal' AND r.state = 'removal_impossible' THEN r.state_since END,
    CASE WHEN o.kind = 'removal' AND r.state = 'removal_impossible' THEN %(creator)s END,
    0
FROM contracts_terminationrequest r
JOIN (VALUES ('interruption_reading', 'OI'), ('removal', 'OD')) AS o (kind, prefix) ON true
WHERE r.requester_name LIKE 'DEMANDEUR %%' AND r.kind = 'without_takeover'
  AND r.state IN ('order_issued', 'field_reported', 'report_approved', 'invoiced', 'settled',
                  'removal_ordered', 'meter_removed', 'removal_impossible', 'closed')
  AND (o.kind = 'interruption_reading'
       OR r.state IN ('removal_ordered', 'meter_removed', 'removal_impossible', 'closed'))
  AND NOT EXISTS (SELECT 1 FROM interventions_interventionorder x
                  WHERE x.request_id = r.id AND x.kind = o.kind)
"""


def timed(client, url: str, query: dict, runs: int):
    """A page opened runs times after three to warm up: its last answer, median and p95 in ms,
    and the CPU the server spent on each (Django in this process, PostgreSQL from /proc)."""
    times = []
    for n in range(runs + 3):
        if n == 3:  # after the warm-up
            cpu, own = CpuMeter(), time.process_time()
        start = time.perf_counter()
        response = client.get(url, query)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    django_ms = (time.process_time() - own) * 1000 / runs
    pg_ms = cpu.spent()[1] * 1000 / runs
    times = sorted(times[3:])
    p95 = times[int(len(times) * 0.95) - 1]
    return response, statistics.median(times), p95, django_ms, pg_ms


def auditor_client(auditor) -> Client:
    """A test client logged in as the auditor, second factor verified (the dashboards ask it)."""
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(auditor)
    device = TOTPDevice.objects.filter(user=auditor, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=auditor, name="bench", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


class Command(BaseCommand):
    help = "Mesure les tableaux de bord et les exports sur la base de mesure (200 000 demandes)."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=200_000)
        parser.add_argument("--runs", type=int, default=40)
        parser.add_argument("--export-rows", type=int, default=200_000)

    def handle(self, *args, requests: int, runs: int, export_rows: int, **options):
        auditor = bench_user("bench.audit", Role.AUDITOR)
        self.seed(requests, auditor.pk)
        client = auditor_client(auditor)
        url = reverse("dashboard")
        board = dashboard(auditor, Scope(), timezone.localdate())
        self.stdout.write(
            f"{TerminationRequest.objects.count()} demandes, dont {board.open_total} en cours "
            f"({board.late_total} en retard)"
        )
        for label, query in [
            ("national", {}),
            ("DR Littoral", {"dr": "DRL"}),
            ("agence Akpakpa", {"agence": "AKP"}),
        ]:
            _, median, p95, django_ms, pg_ms = timed(client, url, query, runs)
            self.stdout.write(
                f"Tableau de bord {label:<15} : médiane {median:6.1f} ms, "
                f"p95 {p95:6.1f} ms ({runs} mesures) ; CPU {django_ms:.1f} ms Django + "
                f"{pg_ms:.1f} ms PostgreSQL par page"
            )
        # One seeded request's page per state: each answers (the seed gives them their orders).
        for state in [*OPEN_STATES, "closed", "cancelled"]:
            seeded = TerminationRequest.objects.filter(state=state).order_by("id").first()
            if seeded is not None:
                response = client.get(reverse("request_detail", args=[seeded.pk]))
                assert response.status_code == 200, (state, response.status_code)
        self.stdout.write("Page d'une demande de chaque état : toutes répondent (200).")
        list_url = reverse("request_list")
        for label, query in [
            ("en cours, par échéance", {"tri": "echeance", "etat": "ouvertes"}),
            ("en retard, par échéance", {"tri": "echeance", "etat": "ouvertes", "retard": "oui"}),
        ]:
            response, median, p95, django_ms, pg_ms = timed(client, list_url, query, runs)
            found = re.search(r"<strong>(\d+)</strong> demande", response.content.decode())
            self.stdout.write(
                f"Recherche {label:<24} : médiane {median:6.1f} ms, "
                f"p95 {p95:6.1f} ms ({found.group(1)} demandes, page 1) ; CPU "
                f"{django_ms:.1f} ms Django + {pg_ms:.1f} ms PostgreSQL par page"
            )
        for fmt in ("csv", "xlsx"):
            start = time.perf_counter()
            response = client.get(reverse("request_export", args=["demandes", fmt]))
            size = sum(len(chunk) for chunk in response.streaming_content)
            elapsed = time.perf_counter() - start
            self.stdout.write(
                f"Export des demandes en {fmt.upper():<4} : {elapsed:5.1f} s pour toute la base "
                f"({TerminationRequest.objects.count()} demandes, {size / 1e6:.1f} Mo)"
            )

    def seed(self, wanted: int, creator_id: int) -> None:
        # A benchmark database made before the directions régionales: as the reference data.
        for code, direction in {"AKP": "DRL", "GBE": "DRL", "PNO": "DROP", "PKO": "DRBA"}.items():
            Agency.objects.filter(code=code, direction__isnull=True).update(
                direction=Direction.objects.get(code=direction)
            )
        total = TerminationRequest.objects.count()
        missing = wanted - total
        if missing > 0:
            start = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    SEED_SQL,
                    {"missing": missing, "open_states": OPEN_STATES, "creator": creator_id},
                )
                cursor.execute("ANALYZE contracts_terminationrequest")
            self.stdout.write(
                f"{missing} demandes ajoutées (il y en avait {total}) en "
                f"{time.perf_counter() - start:.0f} s"
            )
        with transaction.atomic(), connection.cursor() as cursor:
            # The orders and invoices are joined to themselves (NOT EXISTS) while they are
            # written: after a TRUNCATE, their statistics say "empty" and the planner probes
            # them row by row, each probe reading every row already written (many minutes at
            # 200 000). Hash joins, whatever the statistics.
            cursor.execute("SET LOCAL enable_nestloop = off")
            cursor.execute(ORDER_SQL, {"creator": creator_id})  # their orders, where missing
            if cursor.rowcount:
                self.stdout.write(f"{cursor.rowcount} ordres d'intervention ajoutés")
                cursor.execute("ANALYZE interventions_interventionorder")
            cursor.execute(INVOICE_SQL, {})  # their balance invoices, where missing
            if cursor.rowcount:
                self.stdout.write(f"{cursor.rowcount} factures de solde ajoutées")
                cursor.execute("ANALYZE billing_invoice")
        # Seeded in SQL, past the services: their stored deadlines and queue tasks, as the
        # night's task does.
        start = time.perf_counter()
        moved = refresh_all_deadlines()
        tasks = refresh_queues()
        if moved or tasks:
            self.stdout.write(
                f"{moved} fins de délai et {tasks} tâches écrites "
                f"en {time.perf_counter() - start:.0f} s"
            )
            with connection.cursor() as cursor:
                # As autovacuum would soon after: the visibility map that lets the dashboards
                # count from the index alone.
                cursor.execute("VACUUM ANALYZE contracts_terminationrequest")
