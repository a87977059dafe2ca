"""Server-side time of a login (DESIGN §11: under 300 ms), with the production hasher (Argon2):
the password checked, the throttling consulted, the session opened and the security event
written. A right and a wrong password, 20 of each, through the real login view, in a transaction
rolled back afterwards.

    make bench-login
"""

import statistics
import time

from django.conf import settings
from django.contrib.auth.hashers import get_hasher
from django.core.management.base import BaseCommand
from django.test import Client
from django.urls import reverse

from bench.machine import CpuMeter, begin, end, rolled_back
from contracts.enums import Role
from contracts.models import Agency, User

PASSWORD = "Un-mot-de-passe-de-mesure-2026"


class Command(BaseCommand):
    help = "Mesure le temps serveur d'une connexion (Argon2), mot de passe juste et faux."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=20)

    def handle(self, *args, runs: int, **options):
        begin(self.stdout, "bench-login", queue=False)
        self.stdout.write(f"Hachage : {get_hasher().algorithm} ({settings.PASSWORD_HASHERS[0]})")
        rolled_back(lambda: self.measure(runs))
        end(self.stdout, "bench-login")

    def measure(self, runs: int) -> None:
        agency = Agency.objects.order_by("id").first()
        user = User.objects.create(username="bench.connexion", agency=agency)
        user.set_password(PASSWORD)
        user.save()
        from django.contrib.auth.models import Group

        user.groups.set([Group.objects.get(name=Role.RECEPTION)])
        for label, password, expected in (
            ("mot de passe juste", PASSWORD, 302),
            ("mot de passe faux ", "faux", 200),
        ):
            samples = []
            cpu = CpuMeter()
            own = time.process_time()
            # One handler (a new Client would load the middleware, and whitenoise's scan of
            # the static files, again for each login); no session kept between logins.
            client = Client()
            for n in range(runs + 2):
                client.cookies.clear()
                # A new address each time: the throttling would lock a repeated wrong one out.
                start = time.perf_counter()
                response = client.post(
                    reverse("login"),
                    {"username": user.username, "password": password},
                    REMOTE_ADDR=f"10.7.{n // 250}.{n % 250 + 1}",
                )
                elapsed = (time.perf_counter() - start) * 1000
                assert response.status_code == expected, response.status_code
                if n >= 2:  # the first two warm the process up
                    samples.append(elapsed)
                if expected == 200:
                    from axes.models import AccessAttempt

                    AccessAttempt.objects.all().delete()  # keep the name unlocked
            web_ms = (time.process_time() - own) * 1000 / (runs + 2)
            pg_ms = cpu.spent()[1] * 1000 / (runs + 2)
            p95 = statistics.quantiles(samples, n=20)[-1]
            self.stdout.write(
                f"  {label} : médiane {statistics.median(samples):6.1f} ms  p95 {p95:6.1f} ms"
                f"  ({runs} connexions) ; CPU {web_ms:.1f} ms Django + {pg_ms:.1f} ms "
                "PostgreSQL par connexion"
            )
