"""Benchmark of the contract search on a utility-sized database (DESIGN.md §8).

Fills a database whose name contains "bench" with N contracts (default 1 000 000) through
generate_series, prints the EXPLAIN of each search criterion's query, then times whole search
requests (view and template, server side) and prints the median and p95 per kind of search.

    make bench          # or: DATABASE_URL=.../sbee_bench manage.py bench_search --contracts 1000000
"""

import statistics
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Value
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse

from contracts.enums import Role
from contracts.models import Agency, Contract, Customer, Normalize, User

SURNAMES = [
    "HOUNKPATIN",
    "AHOUANDJINOU",
    "DOSSOU",
    "AGBODJAN",
    "KPOSSOU",
    "ZINSOU",
    "HOUNGBÉDJI",
    "GBÈDO",
    "AKPLOGAN",
    "ADJOVI",
    "TOSSOU",
    "ASSOGBA",
    "AGOSSOU",
    "HOUÉTO",
    "KIKI",
    "DANSOU",
    "ADANDÉ",
    "AKAKPO",
    "SOSSA",
    "ZANNOU",
    "HOUNSOU",
    "TCHIBOZO",
    "AÏDJI",
    "DJOSSOU",
    "AHOLOU",
    "SANNI",
    "BIO",
    "OROU",
    "YAROU",
    "GOUNOU",
    "SABI",
    "CHABI",
    "BONI",
    "SALIFOU",
    "IDRISSOU",
    "MAMA",
    "WOROU",
    "BAKO",
    "GADO",
    "TAMOU",
    "ALASSANE",
    "SOULÉ",
    "DAOUDA",
    "ZIME",
    "GBIAN",
    "VODOUNON",
    "AKOGBÉTO",
    "HOUNYÈMÈ",
    "SÈHOUÉTO",
    "GNONLONFOUN",
]
FIRST_NAMES = [
    "Codjo",
    "Kossi",
    "Afiavi",
    "Sèna",
    "Mahougnon",
    "Houéfa",
    "Fifamè",
    "Gbènato",
    "Dossi",
    "Ayaba",
    "Sèdjro",
    "Ablawa",
    "Tognon",
    "Kocou",
    "Yétondé",
    "Rachidatou",
    "Zénabou",
    "Mariam",
    "Adjara",
    "Alimatou",
    "Ibrahim",
    "Moussa",
    "Aminatou",
    "Nafissatou",
    "Bachirou",
    "Issiaka",
    "Marcel",
    "Bérénice",
    "Clarisse",
    "Rodrigue",
]


def sql_array(values: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


FILL_SQL = f"""
INSERT INTO contracts_customer
  (id, kind, name, id_document_type, id_document_number, phone, address)
SELECT i, 'person',
       ({sql_array(SURNAMES)})[1 + i % {len(SURNAMES)}] || ' '
         || ({sql_array(FIRST_NAMES)})[1 + (i / {len(SURNAMES)}) % {len(FIRST_NAMES)}] || ' '
         || ({sql_array(FIRST_NAMES)})[1 + (i / 7) % {len(FIRST_NAMES)}],
       'cni', (3000000000 + i)::text,
       '+22901' || lpad(((i::bigint * 7919) % 100000000)::text, 8, '0'),
       'Quartier ' || (i % 500) || ', carré ' || (i % 3000)
FROM generate_series(1, %(n)s) AS i;

INSERT INTO contracts_deliverypoint (id, reference, address, agency_id, voltage, status)
SELECT i, 'PL-B-' || lpad(i::text, 9, '0'), 'Quartier ' || (i % 500), 1 + i % 4, 'bt', 'active'
FROM generate_series(1, %(n)s) AS i;

INSERT INTO contracts_meter (id, serial, digits, status)
SELECT i, 'BM' || lpad(((i::bigint * 104729) % 1000000000)::text, 9, '0') || (i % 10),
       6, 'installed'
FROM generate_series(1, %(n)s) AS i;

INSERT INTO contracts_contract (id, number, agency_id, customer_id, delivery_point_id, meter_id,
  tariff_category_id, subscribed_power_kva, start_date, status, last_billed_index, last_billed_date)
SELECT i, '9' || lpad(i::text, 9, '0'), 1 + i % 4, i, i, i, 1, 6, DATE '2015-01-01', 'active',
       1000 + i % 50000, DATE '2026-10-31'
FROM generate_series(1, %(n)s) AS i;
"""


class Command(BaseCommand):
    help = "Remplit une base « bench » de contrats et mesure la recherche (médiane, p95)."

    def add_arguments(self, parser):
        parser.add_argument("--contracts", type=int, default=1_000_000)
        parser.add_argument("--runs", type=int, default=50)

    def handle(self, *args, contracts: int, runs: int, **options):
        if "bench" not in connection.settings_dict["NAME"]:
            raise CommandError(
                "Refus : la base doit être une base de mesure (nom contenant « bench »)."
            )
        call_command("load_demo_data", "--reference-only", verbosity=0)
        if Contract.objects.count() != contracts:
            self.fill(contracts)
        user, _ = User.objects.get_or_create(
            username="bench.accueil", defaults={"agency": Agency.objects.get(code="AKP")}
        )
        user.groups.set([_group(Role.RECEPTION)])
        # An Akpakpa contract (agency 1 + id % 4), from the middle of the table.
        probe = Contract.objects.select_related("customer", "meter").get(pk=contracts // 8 * 4)
        searches = {
            "numéro de contrat": probe.number,
            "numéro de compteur": probe.meter.serial,
            "téléphone": probe.customer.phone[4:],  # as an agent types it: 0197…
            "nom complet": probe.customer.name,
            "début de nom": probe.customer.name.split()[0][:5].lower(),
            "prénom": " ".join(probe.customer.name.split()[1:]),
        }
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_size_pretty(pg_database_size(current_database())),"
                " pg_size_pretty(sum(pg_relation_size(indexrelid))) FROM pg_index x"
                " JOIN pg_class c ON c.oid = x.indrelid"
                " WHERE c.relnamespace = 'public'::regnamespace"
            )
            size, indexes = cursor.fetchone()
        self.stdout.write(f"Base de mesure : {size}, dont index {indexes}.")
        self.explain(user, searches)
        setup_test_environment()  # lets the client see the response's context
        client = Client()
        client.force_login(user)
        url = reverse("contract_search")
        self.stdout.write(f"\nRecherche, requête entière côté serveur, {runs} essais :")
        for label, q in searches.items():
            client.get(url, {"q": q})  # warm-up
            samples = []
            for _ in range(runs):
                start = time.perf_counter()
                response = client.get(url, {"q": q})
                samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
            found = len(response.context["contracts"])
            p95 = statistics.quantiles(samples, n=20)[-1]
            self.stdout.write(
                f"  {label:<20} q={q!r:<28} {found:>3} résultats  "
                f"médiane {statistics.median(samples):6.1f} ms  p95 {p95:6.1f} ms"
            )

    def fill(self, n: int) -> None:
        self.stdout.write(f"Remplissage : {n} contrats…")
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE contracts_contract, contracts_customer, contracts_deliverypoint, "
                "contracts_meter CASCADE"
            )
            for statement in FILL_SQL.split(";\n"):
                if statement.strip():
                    cursor.execute(statement.replace("%(n)s", str(int(n))))
            for table in ("customer", "deliverypoint", "meter", "contract"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('contracts_{table}', 'id'), %s)", [n]
                )
            cursor.execute("ANALYZE")
        self.stdout.write(f"  fait en {time.perf_counter() - start:.0f} s")

    def explain(self, user, searches: dict[str, str]) -> None:
        from contracts.phone import normalize_phone
        from contracts.selectors import contracts_visible_to

        visible = contracts_visible_to(user)
        queries = {
            "numéro de contrat": visible.filter(number__startswith=searches["numéro de contrat"]),
            "numéro de compteur": visible.filter(
                meter__serial__startswith=searches["numéro de compteur"]
            ),
            "téléphone": visible.filter(customer__phone=normalize_phone(searches["téléphone"])),
            "début de nom": visible.filter(
                customer__name_normalized__startswith=Normalize(Value(searches["début de nom"]))
            ).order_by("customer__name_normalized"),
            "nom complet": visible.filter(
                customer__name_normalized__startswith=Normalize(Value(searches["nom complet"]))
            ).order_by("customer__name_normalized"),
            "prénoms, dans le nom (clients)": Customer.objects.filter(
                name_normalized__contains=Normalize(Value(searches["prénom"]))
            ),
        }
        for label, qs in queries.items():
            self.stdout.write(f"\nEXPLAIN ANALYZE – {label} :")
            limit = 1001 if "clients" in label else 51
            if not qs.query.order_by:
                qs = qs.order_by()
            plan = qs.values_list("pk", flat=True)[:limit].explain(analyze=True)
            self.stdout.write("\n".join("  " + line for line in plan.splitlines()))


def _group(role: str):
    from django.contrib.auth.models import Group

    return Group.objects.get(name=role)
