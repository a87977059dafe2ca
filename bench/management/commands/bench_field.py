"""The field app as a crew's phone gets it, in the production configuration (hashed static files
compressed ahead of time, pages compressed by the application): the bytes of its first load,
of the day's orders, of a report sent and of an order's PDF; and what the server spends on each
(latency and CPU), through the real views, in a transaction rolled back afterwards. On the demo's
Akpakpa reader (`akp.releve`) and its orders.

    make bench-field
"""

import json
import statistics
import time
import uuid
from pathlib import Path

from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management.base import BaseCommand, CommandError
from django.test import Client
from django.test.client import BOUNDARY, encode_multipart
from django.urls import reverse
from django.utils import timezone

from bench.machine import CpuMeter, begin, end, rolled_back
from contracts.models import User
from field import selectors
from field.views import APP_FILES

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}
WORKBOX = [
    f"vendor/workbox/workbox-{m}.prod.js" for m in ("core", "routing", "strategies", "precaching")
]


class Command(BaseCommand):
    help = "Mesure l'application de terrain : octets transférés et coût serveur."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=200)
        parser.add_argument("--agent", default="akp.releve")

    def handle(self, *args, runs: int, agent: str, **options):
        reader = User.objects.filter(username=agent).first()
        if reader is None or not selectors.day_orders(reader):
            raise CommandError(
                f"Aucun ordre pour {agent} : `make run` (ou `make setup`) charge la démo."
            )
        begin(self.stdout, "bench-field", queue=False)
        rolled_back(lambda: self.measure(reader, runs))
        end(self.stdout, "bench-field")

    def timed(self, label: str, runs: int, call) -> int:
        """Run `call` runs times (after three to warm up); print latency and CPU; return the size
        of the last answer's body."""
        for _ in range(3):
            call()
        cpu, own, samples = CpuMeter(), time.process_time(), []
        for _ in range(runs):
            start = time.perf_counter()
            response = call()
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        web = (time.process_time() - own) * 1000 / runs
        pg = cpu.spent()[1] * 1000 / runs
        q = statistics.quantiles(samples, n=20) if runs > 1 else [samples[0]] * 19
        self.stdout.write(
            f"  {label:38} médiane {statistics.median(samples):6.1f} ms  p95 {q[18]:6.1f} ms  "
            f"CPU {web:5.1f} ms Django + {pg:4.1f} ms PostgreSQL  ({runs} fois)"
        )
        return len(response.content)

    def measure(self, reader: User, runs: int) -> None:
        client = Client()
        client.force_login(reader)
        orders = selectors.day_orders(reader)
        self.stdout.write(f"Agent {reader.username}, {len(orders)} ordre(s) dans sa tournée.")

        # First load: the page, its worker and manifest (compressed by the application), the
        # static files as whitenoise sends them (their .gz, made by collectstatic).
        pages = {
            name: client.get(reverse(name), **GZIP)
            for name in ("field_app", "field_service_worker", "field_manifest")
        }
        sizes = {name: len(r.content) for name, r in pages.items()}
        for name in ["css/app.css", *APP_FILES, *WORKBOX]:
            stored = Path(staticfiles_storage.path(staticfiles_storage.stored_name(name)))
            gz = stored.with_name(stored.name + ".gz")
            sizes[name] = gz.stat().st_size if gz.exists() else stored.stat().st_size
        total, page, worker = sum(sizes.values()), sizes["field_app"], sizes["field_service_worker"]
        self.stdout.write("Octets sur le réseau (corps, compressés comme servis) :")
        self.stdout.write(
            f"  premier chargement de l'application   {total:6d} octets (page {page}, service "
            f"worker {worker}, manifeste, scripts et styles {total - page - worker})"
        )
        day = client.get(reverse("field_day"), **GZIP)
        self.stdout.write(
            f"  tournée du jour ({len(orders)} ordres)              {len(day.content):6d} octets"
        )
        order = orders[0]
        pdf = client.get(reverse("field_order_pdf", args=[order.number]))
        self.stdout.write(f"  PDF d'un ordre (copie de consultation) {len(pdf.content):6d} octets")
        fields = {
            "index_read": order.request.contract.last_billed_index + 150,
            "read_on": timezone.localdate().isoformat(),
            "cut_done": True,
            "remarks": [],
        }
        if order.kind == "interruption_reading":
            fields["cut_index"] = fields["index_read"]
        report = {
            "id": str(uuid.uuid4()),
            "nature": "releve" if order.kind in ("interruption_reading", "reading") else "depose",
            "ordre": order.number,
            "champs": json.dumps(fields),
            "fait_le": timezone.now().isoformat(),
            "lat": "6.370312",
            "lon": "2.447031",
            "precision": "12",
        }
        body = encode_multipart(BOUNDARY, report)
        self.stdout.write(f"  un compte-rendu envoyé (sans photo)    {len(body):6d} octets")

        self.stdout.write("Coût serveur (vues réelles, client de test Django) :")
        self.timed("tournée du jour (JSON)", runs, lambda: client.get(reverse("field_day"), **GZIP))
        self.timed("page de l'application", runs, lambda: client.get(reverse("field_app"), **GZIP))
        self.timed(
            "PDF d'un ordre (tamponné)",
            max(runs // 10, 5),
            lambda: client.get(reverse("field_order_pdf", args=[order.number])),
        )
        self.timed(
            "feuille de route du jour (PDF)",
            max(runs // 20, 3),
            lambda: client.get(reverse("field_route_sheet", args=[reader.username])),
        )

        def send():
            return client.post(reverse("field_send"), report)

        start = time.perf_counter()
        first = send()
        elapsed = (time.perf_counter() - start) * 1000
        answer = first.json()
        self.stdout.write(
            f"  premier envoi du compte-rendu          {elapsed:6.1f} ms : {answer.get('resultat')}"
            f" {answer.get('message', '')}".rstrip()
        )
        self.timed("même compte-rendu renvoyé (rejeu)", runs, send)
