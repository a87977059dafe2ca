"""Supervision: the dashboards' counts equal the lists they link to; lists and dashboards cost
the same number of queries with 1 and 20 rows; an export read back equals its search; who may
read what; the chef d'agence reassigns but never acts on a step."""

import csv
import datetime as dt
import io
import re
import uuid
from types import SimpleNamespace

import openpyxl
import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import services as billing
from billing.enums import PaymentMode
from contracts.audit import security_event
from contracts.enums import RequestState, Role, SecurityEventKind
from contracts.forms import DATE_OUT_OF_RANGE
from contracts.models import SecurityEvent, TerminationRequest
from interventions.models import InterventionOrder
from procedure import services
from procedure.selectors import ACTION_LABELS
from tests.factories import ContractFactory, UserFactory
from tests.workflow import FROZEN_NOW, TODAY, advance, create, worked_example_contract

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(akpakpa):
    return UserFactory(username="akp.agence", agency=akpakpa, roles=[Role.MANAGER])


@pytest.fixture
def scene(akpakpa, parakou, staff, frozen_today):
    """Akpakpa: two received requests, one order issued, one invoiced (a balance to collect);
    Parakou: one received."""
    requests = [create(worked_example_contract(akpakpa, f"10100045{n:02d}"), staff) for n in (1, 2)]
    requests.append(
        advance(
            create(worked_example_contract(akpakpa, "1010004503"), staff),
            staff,
            RequestState.ORDER_ISSUED,
        )
    )
    requests.append(
        advance(
            create(worked_example_contract(akpakpa, "1010004504"), staff),
            staff,
            RequestState.INVOICED,
        )
    )
    pko = SimpleNamespace(
        reception=UserFactory(username="pko.accueil", agency=parakou, roles=[Role.RECEPTION])
    )
    requests.append(create(worked_example_contract(parakou, "4010014501"), pko))
    return requests


def count_of(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response.context["form"].is_valid(), (url, response.context["form"].errors)
    return response.context["page"].paginator.count


def dashboard_links(context) -> list[tuple[int, str]]:
    links = [(s["line"].count, s["url"]) for s in context["states"]]
    links += [(s["line"].late, s["late_url"]) for s in context["states"]]
    links += [(a["count"], a["url"]) for a in context["ages"]]
    links += [(w["opened"], w["opened_url"]) for w in context["weeks"]]
    links += [(w["closed"], w["closed_url"]) for w in context["weeks"]]
    links += [(count, url) for _, count, _, url in context["money"][:3]]
    links.append((context["board"].open_total, context["open_url"]))
    links.append((context["board"].late_total, context["late_url"]))
    return links


@pytest.mark.parametrize("query", ["", "?dr=DRL", "?agence=AKP", "?agence=PKO"])
def test_every_number_of_the_dashboard_is_the_count_of_the_list_it_links_to(
    client, scene, auditor, query
):
    client.force_login(auditor)
    response = client.get(reverse("dashboard") + query)
    assert response.status_code == 200
    links = dashboard_links(response.context)
    assert sum(count for count, _ in links) > 0
    for count, url in links:
        assert count_of(client, url) == count, url
    expected_open = {"": 5, "?dr=DRL": 4, "?agence=AKP": 4, "?agence=PKO": 1}[query]
    assert response.context["board"].open_total == expected_open


def test_lateness_appears_on_the_dashboard_at_the_end_of_the_delai(client, scene, auditor):
    """The order issued at 09:00 on 30/11 is late 3 days later, not a minute before."""
    with time_machine.travel(FROZEN_NOW + dt.timedelta(days=3, minutes=-1), tick=False):
        client.force_login(auditor)  # sessions end after 30 minutes idle
        before = client.get(reverse("dashboard"), {"agence": "AKP"}).context["board"]
    with time_machine.travel(FROZEN_NOW + dt.timedelta(days=3, minutes=1), tick=False):
        client.force_login(auditor)
        after = client.get(reverse("dashboard"), {"agence": "AKP"}).context["board"]
        listed = client.get(reverse("request_list"), {"retard": "oui", "agence": "AKP"})
    assert before.late_total == 0
    assert after.late_total == 1
    assert [r.contract.number for r in listed.context["page"]] == ["1010004503"]
    assert "en retard depuis le 03/12/2026" in listed.content.decode()


def test_a_chef_d_agence_reads_his_agency_only(client, scene, manager):
    client.force_login(manager)
    board = client.get(reverse("dashboard"), {"agence": "PKO", "dr": "DROP"}).context["board"]
    assert board.scope.agency.code == "AKP"
    assert board.open_total == 4
    listed = client.get(reverse("request_list"), {"agence": "PKO"})
    assert {r.agency.code for r in listed.context["page"]} == {"AKP"}
    assert client.get(reverse("exceptions")).status_code == 403


def test_the_search_criteria(client, scene, auditor, staff):
    client.force_login(auditor)
    received, _, issued, invoiced, parakou = scene
    cases = {
        f"numero={issued.pk}": {issued.pk},
        "contrat=1010004504": {invoiced.pk},
        "contrat=101000450": {r.pk for r in scene[:4]},
        "nom=hounkpatin": {r.pk for r in scene},
        f"piece={received.requester_id_document_number.lower()}": {received.pk},
        "dr=DRBA": {parakou.pk},
        "agence=AKP&etat=order_issued": {issued.pk},
        "etape=4": {issued.pk},
        "etape=7": {invoiced.pk},
        "solde=a_encaisser": {invoiced.pk},
        "montant_min=1&montant_max=1000000": {invoiced.pk},
        "montant_max=0": set(),
        "date_de=6&du=2026-11-30&au=2026-11-30": {invoiced.pk},
        "date_de=depot&du=2026-12-01": set(),
        "anciennete=0-2": {r.pk for r in scene},
        "retard=non&agence=PKO": {parakou.pk},
    }
    for query, expected in cases.items():
        response = client.get(reverse("request_list") + "?" + query)
        assert {r.pk for r in response.context["page"]} == expected, query
        if not expected:
            assert "Aucune demande ne correspond à cette recherche." in response.content.decode()
    # A bad filter says so, and keeps what was typed.
    response = client.get(reverse("request_list"), {"du": "2026-12-01", "au": "2026-11-01"})
    assert "La fin de la période précède son début." in response.content.decode()
    assert response.context["page"] is None
    response = client.get(reverse("request_list"), {"dr": "DROP", "agence": "AKP"})
    assert "n&#x27;est pas de la" in response.content.decode()


def test_sorting_and_pages_are_in_the_address(client, akpakpa, staff, auditor, frozen_today):
    contracts = [worked_example_contract(akpakpa, f"10100046{n:02d}") for n in range(55)]
    made = [create(c, staff) for c in contracts]
    client.force_login(auditor)
    first = client.get(reverse("request_list"), {"tri": "numero"})
    assert [r.pk for r in first.context["page"]] == [r.pk for r in made[:50]]
    assert "tri=numero&amp;page=2" in first.content.decode()
    second = client.get(reverse("request_list"), {"tri": "numero", "page": 2})
    assert [r.pk for r in second.context["page"]] == [r.pk for r in made[50:]]
    newest = client.get(reverse("request_list"))
    assert newest.context["page"][0].pk == made[-1].pk


def many_requests(agency, staff, n: int):
    for i in range(n):
        create(worked_example_contract(agency, f"1010005{i:03d}"), staff)


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200, url
    return len(captured)


@pytest.mark.parametrize(
    "url",
    [
        "/tableau-de-bord/",
        "/tableau-de-bord/?agence=AKP",
        "/demandes/",
        "/demandes/?etat=ouvertes&retard=non&tri=echeance",
        "/caisse/journal/",
        "/controle/",
        "/controle/separation-taches/",
        "/controle/connexions-hors-heures/",
    ],
)
def test_the_pages_cost_the_same_queries_with_1_and_20_rows(
    client, akpakpa, staff, auditor, frozen_today, url
):
    def add(n):
        for _i in range(n):
            contract = worked_example_contract(akpakpa, f"1010007{add.made:03d}")
            create(contract, staff)
            billing.account_advance_record(
                contract,
                actor=staff.cashier,
                amount=1000,
                mode=PaymentMode.CASH,
                reference="",
                idempotency_key=uuid.uuid4(),
            )
            security_event(
                SecurityEventKind.DUTIES_REFUSED, actor=staff.cashier, user=staff.cashier
            )
            with time_machine.travel(dt.datetime(2026, 11, 29, 2, add.made, tzinfo=dt.UTC)):
                security_event(SecurityEventKind.LOGIN, actor=staff.reader, user=staff.reader)
            add.made += 1

    add.made = 0
    client.force_login(auditor)
    add(1)
    queries(client, url)  # the session's expiry is moved on once a minute: not measured
    one = queries(client, url)
    add(19)
    twenty = queries(client, url)
    assert one == twenty, (one, twenty)


def test_an_export_read_back_equals_the_search(client, akpakpa, auditor, frozen_today):
    """1 000 requests, exported as CSV and as XLSX: the same rows, in the search's order."""
    contracts = ContractFactory.create_batch(1000, agency=akpakpa)
    creator = UserFactory(username="akp.accueil.export", agency=akpakpa, roles=[Role.RECEPTION])
    TerminationRequest.objects.bulk_create(
        TerminationRequest(
            contract=c,
            agency=akpakpa,
            kind="without_takeover",
            requester_name=c.customer.name,
            requester_id_document_type="cni",
            requester_id_document_number=f"ID{i:06d}",
            requester_phone="+2290197123456",
            requester_quality="holder",
            created_by=creator,
        )
        for i, c in enumerate(contracts)
    )
    client.force_login(auditor)
    query = {"agence": "AKP", "tri": "client"}
    listed = client.get(reverse("request_list"), query).context["page"].paginator
    expected = [r.pk for r in listed.object_list]
    assert len(expected) == 1000

    response = client.get(reverse("request_export", args=["demandes", "csv"]), query)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["N° de demande", "Agence", "N° de contrat"]
    assert [int(r[0]) for r in rows[1:]] == expected
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", rows[1][6])

    response = client.get(reverse("request_export", args=["demandes", "xlsx"]), query)
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    sheet = book["Demandes"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "N° de demande"
    assert [r[0] for r in values[1:]] == expected
    assert isinstance(values[1][6], dt.datetime)  # a date the spreadsheet sorts and filters
    events = SecurityEvent.objects.filter(kind=SecurityEventKind.EXPORT, actor=auditor)
    assert sorted(e.data["format"] for e in events) == ["csv", "xlsx"]
    assert all("agence=AKP" in e.data["filtres"] for e in events)


def test_exports_of_events_invoices_and_settlements(client, scene, auditor):
    client.force_login(auditor)
    for kind, first_header in [
        ("evenements", "N° de demande"),
        ("factures", "N° de facture"),
        ("avoirs", "N° d'avoir"),
        ("reglements", "N° de reçu"),
        ("avances", "N° de reçu"),
    ]:
        response = client.get(reverse("request_export", args=[kind, "csv"]), {"agence": "AKP"})
        rows = list(
            csv.reader(
                io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff")),
                delimiter=";",
            )
        )
        assert rows[0][0] == first_header, kind
    response = client.get(reverse("request_export", args=["factures", "csv"]), {"agence": "AKP"})
    body = b"".join(response.streaming_content).decode()
    assert "Facture de solde (résiliation)" in body


def test_the_cash_journal_totals_per_mode(
    client, akpakpa, parakou, staff, auditor, manager, frozen_today
):
    for n, (mode, amount) in enumerate(
        [(PaymentMode.CASH, 1000), (PaymentMode.CASH, 2500), (PaymentMode.MOBILE_MONEY, 700)]
    ):
        billing.account_advance_record(
            worked_example_contract(akpakpa, f"10100080{n}"),
            actor=staff.cashier,
            amount=amount,
            mode=mode,
            reference="MM-1" if mode == PaymentMode.MOBILE_MONEY else "",
            idempotency_key=uuid.uuid4(),
        )
    client.force_login(auditor)
    response = client.get(
        reverse("cash_journal"), {"agence": "AKP", "du": "2026-11-30", "au": "2026-11-30"}
    )
    lines = {line["label"]: line["advances"] for line in response.context["lines"]}
    assert lines == {"Espèces": 3500, "Mobile money": 700}
    assert response.context["total"]["advances"] == 4200
    assert client.get(reverse("cash_journal"), {"agence": "PKO"}).context["total"]["n"] == 0
    assert (
        client.get(reverse("cash_journal"), {"caissier": staff.cashier.username}).context["total"][
            "n"
        ]
        == 3
    )
    body = b"".join(
        client.get(
            reverse("cash_journal_export", args=["csv"]), {"agence": "AKP"}
        ).streaming_content
    ).decode()
    assert body.count("\n") == 4
    client.force_login(manager)
    assert client.get(reverse("cash_journal")).context["total"]["n"] == 3


PAGES = {
    "dashboard": ("/tableau-de-bord/", [Role.AUDITOR, Role.MANAGER]),
    "search": ("/demandes/", Role.values),
    "export": ("/demandes/export/demandes.csv", [Role.AUDITOR, Role.MANAGER]),
    "journal": ("/caisse/journal/", [Role.AUDITOR, Role.MANAGER]),
    "journal_export": ("/caisse/journal/export.xlsx", [Role.AUDITOR, Role.MANAGER]),
    "exceptions": ("/controle/", [Role.AUDITOR]),
    "exception": ("/controle/avoirs/", [Role.AUDITOR]),
}


@pytest.mark.parametrize("page", PAGES)
def test_who_reads_which_page(client, akpakpa, page):
    url, allowed = PAGES[page]
    for role in Role.values:
        client.force_login(UserFactory(username=f"m-{page}-{role}", agency=akpakpa, roles=[role]))
        status = client.get(url).status_code
        assert status == (200 if role in allowed else 403), (role, status)


def test_the_chef_d_agence_reassigns_an_order_but_never_acts_on_a_step(
    akpakpa, staff, manager, frozen_today
):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.ORDER_ISSUED
    )
    other = UserFactory(username="akp.releve.b", agency=akpakpa, roles=[Role.READER])
    order = services.termination_request_reassign_order(request, actor=manager, assignee=other)
    assert InterventionOrder.objects.get(pk=order.pk).assignee == other
    event = request.events.get(action="order_reassigned")
    assert event.actor == manager and event.actor_role == Role.MANAGER
    with pytest.raises(PermissionDenied):
        services.termination_request_cancel(request, actor=manager, reason="essai")


def test_a_refusal_for_separation_of_duties_is_on_the_controllers_page(
    client, akpakpa, staff, auditor, frozen_today
):
    """The cashier who validated... here: a supervisor who entered a report cannot sign it."""
    both = UserFactory(
        username="akp.releve.chef", agency=akpakpa, roles=[Role.READER, Role.SUPERVISOR]
    )
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.ORDER_ISSUED
    )
    services.termination_request_report_field(
        request,
        actor=both,
        index_read=12300,
        read_on=TODAY,
        cut_done=True,
        cut_index=12300,
        remarks=[],
    )
    client.force_login(both)
    response = client.post(
        reverse("request_approve_report", args=[request.pk]), {"action": "sign", "confirm": "on"}
    )
    assert "séparation des tâches" in response.content.decode()
    client.force_login(auditor)
    listed = client.get(reverse("exception_list", args=["separation-taches"]))
    assert listed.context["page"].paginator.count == 1
    assert "akp.releve.chef" in listed.content.decode()
    overview = client.get(reverse("exceptions"))
    counts = {i["item"].code: i["count"] for i in overview.context["items"]}
    assert counts["separation-taches"] == 1


def test_this_week_is_counted_live_and_the_past_weeks_kept(client, scene, auditor, akpakpa, staff):
    """Past weeks are kept once counted (what they count never changes); this week is read each
    time: a request deposited after a first look is on the next one."""
    client.force_login(auditor)
    weeks = client.get(reverse("dashboard")).context["weeks"]
    assert [w["opened"] for w in weeks] == [0] * 11 + [5]
    create(worked_example_contract(akpakpa, "1010004599"), staff)
    weeks = client.get(reverse("dashboard")).context["weeks"]
    assert [w["opened"] for w in weeks] == [0] * 11 + [6]
    assert weeks[-1]["monday"] == dt.date(2026, 11, 30)
    assert weeks[0]["monday"] == dt.date(2026, 9, 14)


def test_a_name_typed_as_a_formula_stays_text_in_the_csv(
    client, akpakpa, staff, auditor, frozen_today
):
    request = create(worked_example_contract(akpakpa, "1010004598"), staff)
    TerminationRequest.objects.filter(pk=request.pk).update(requester_name='=HYPERLINK("x")')
    client.force_login(auditor)
    response = client.get(reverse("request_export", args=["demandes", "csv"]))
    rows = list(
        csv.reader(
            io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff")),
            delimiter=";",
        )
    )
    assert rows[1][10] == '\'=HYPERLINK("x")'


def test_the_charts_draw_with_numbers_svg_reads(client, scene, auditor):
    """French formats write 12,5 where SVG needs 12.5: every drawn number must parse."""
    client.force_login(auditor)
    html = client.get(reverse("dashboard")).content.decode()
    drawn = re.findall(r'\s(?:x|y|x1|x2|y1|y2|width|height)="([^"]*)"', html)
    assert len(drawn) > 50
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", value) for value in drawn), drawn
    widths = [
        float(w) for w in re.findall(r'<rect class="bar-count" x="0" y="0" width="([^"]*)"', html)
    ]
    assert max(widths) == 100.0 and any(0 < w < 100 for w in widths)


@pytest.mark.parametrize("date", ["9999-12-31", "0001-01-01", "31/12/9999"])
@pytest.mark.parametrize("bound", ["du", "au"])
def test_a_date_out_of_range_is_a_french_form_error_on_every_list_and_export(
    client, scene, auditor, date, bound
):
    client.force_login(auditor)
    pages = [
        reverse("request_list"),
        reverse("request_export", args=["demandes", "csv"]),
        reverse("request_export", args=["demandes", "xlsx"]),
        reverse("cash_journal"),
        reverse("cash_journal_export", args=["csv"]),
        reverse("exceptions"),
        reverse("exception_list", args=["remboursements-tiers"]),
    ]
    for url in pages:
        response = client.get(url, {bound: date, "date_de": "depot"})
        assert response.status_code == 200, url
        assert DATE_OUT_OF_RANGE in response.content.decode(), url
    response = client.get(reverse("security_events"), {"start" if bound == "du" else "end": date})
    assert (response.status_code, DATE_OUT_OF_RANGE in response.content.decode()) == (200, True)


def test_the_events_export_names_each_action_in_french(client, scene, auditor):
    client.force_login(auditor)
    response = client.get(reverse("request_export", args=["evenements", "csv"]))
    body = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    column = rows[0].index("Action")
    actions = {row[column] for row in rows[1:]}
    assert actions and actions <= set(ACTION_LABELS.values()), actions - set(ACTION_LABELS.values())


def test_every_action_the_journal_describes_has_a_label():
    """The journal's sentences and the exports' labels cover the same actions."""
    import ast
    import inspect

    from procedure import selectors

    tree = ast.parse(inspect.getsource(selectors.describe))
    described = {
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.MatchValue) and isinstance(node.value, ast.Constant)
    }
    assert described == set(ACTION_LABELS)
