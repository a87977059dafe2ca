"""The customer's page (/suivi/) must not tell whether a request number exists: a wrong code
on an existing request and an unknown number must answer alike, in status, in content and in
time. Through the real view, in a transaction rolled back afterwards: the three cases (the right
code, a wrong code, an unknown number) interleaved at random, each from its own address, the
throttle's limits raised for the run so that it never answers instead (its queries still run).

    make bench-tracking
"""

import random
import re
import statistics
import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max
from django.test import Client
from django.urls import reverse

from bench.machine import CpuMeter, begin, end, rolled_back
from contracts.models import TerminationRequest
from contracts.tracking import tracking_code
from procedure import tracking

TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')


class Command(BaseCommand):
    help = "Mesure le temps de réponse de /suivi/ : bon code, mauvais code, numéro inconnu."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=400)

    def handle(self, *args, runs: int, **options):
        begin(self.stdout, "bench-tracking", queue=False)
        rolled_back(lambda: self.measure(runs))
        end(self.stdout, "bench-tracking")

    def measure(self, runs: int) -> None:
        existing = list(TerminationRequest.objects.values_list("pk", flat=True)[:500])
        if not existing:
            raise CommandError("Aucune demande : `make run` (ou `make setup`) charge la démo.")
        unknown_from = (TerminationRequest.objects.aggregate(m=Max("pk"))["m"] or 0) + 1000
        cases = {
            "bon code": lambda n: (existing[n % len(existing)], None),
            "mauvais code": lambda n: (existing[n % len(existing)], "wrong"),
            "numéro inconnu": lambda n: (unknown_from + n, "wrong"),
        }
        order = [(label, n) for label in cases for n in range(runs + 5)]
        random.Random(2026).shuffle(order)
        samples: dict[str, list[float]] = {label: [] for label in cases}
        bodies: dict[str, set] = {label: set() for label in cases}
        statuses: dict[str, set] = {label: set() for label in cases}
        url = reverse("tracking")
        tracking.PER_ADDRESS = tracking.PER_REQUEST = 10**9
        client = Client()  # one handler: a new one would load the middleware (and whitenoise's
        # scan of the static files) again for each lookup
        cpu, own = CpuMeter(), time.process_time()
        for i, (label, n) in enumerate(order):
            pk, code = cases[label](n)
            if code is None:
                code = tracking_code(pk)
            else:  # a code of the right form that is not this request's
                code = f"{(int(tracking_code(pk)) + 1) % 10**8:08d}"
            address = f"10.8.{i // 250 % 250}.{i % 250 + 1}"
            start = time.perf_counter()
            response = client.post(url, {"demande": pk, "code": code}, REMOTE_ADDR=address)
            elapsed = (time.perf_counter() - start) * 1000
            statuses[label].add(response.status_code)
            if label != "bon code":  # the page less its token and what was typed back
                typed = TOKEN.sub(b"", response.content)
                typed = typed.replace(f'value="{pk}"'.encode(), b"").replace(
                    f'value="{code}"'.encode(), b""
                )
                bodies[label].add(typed)
            if n >= 5:  # the first lookups of each case warm the process up
                samples[label].append(elapsed)
        web_ms = (time.process_time() - own) * 1000 / len(order)
        pg_ms = cpu.spent()[1] * 1000 / len(order)
        self.stdout.write(f"{runs} consultations par cas, mélangées ; une adresse chacune.")
        for label, values in samples.items():
            q = statistics.quantiles(values, n=20)
            self.stdout.write(
                f"  {label:15} statut {sorted(statuses[label])}  médiane "
                f"{statistics.median(values):5.2f} ms  p25-p75 {q[4]:5.2f}-{q[14]:5.2f} ms  "
                f"p95 {q[18]:5.2f} ms"
            )
        wrong, unknown = samples["mauvais code"], samples["numéro inconnu"]
        gap = statistics.median(wrong) - statistics.median(unknown)
        spread = statistics.quantiles(unknown, n=4)[2] - statistics.quantiles(unknown, n=4)[0]
        same = (
            bodies["mauvais code"] == bodies["numéro inconnu"] and len(bodies["mauvais code"]) == 1
        )
        self.stdout.write(
            f"Mauvais code contre numéro inconnu : écart des médianes {gap:+.2f} ms, pour un "
            f"écart interquartile de {spread:.2f} ms ; même statut "
            f"{'oui' if statuses['mauvais code'] == statuses['numéro inconnu'] else 'NON'}, "
            f"même page {'oui' if same else 'NON'}."
        )
        self.stdout.write(
            f"CPU par consultation : {web_ms:.2f} ms Django + {pg_ms:.2f} ms PostgreSQL."
        )
