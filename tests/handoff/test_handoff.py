"""The hand-off to the billing system: each closure, transfer to recovery and complementary
invoice is an outbox record written with its event, once; the export reads them from a cursor,
the same each time."""

import csv
import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from accounts.rules import StepRefused
from contracts.enums import RequestState, Role, Timing
from handoff.enums import RecordKind
from handoff.models import OutboxRecord
from procedure import services
from tests.factories import UserFactory
from tests.test_concurrency import race
from tests.workflow import (
    TODAY,
    advance,
    create,
    mt_example_contract,
    mt_until_settled,
    reload,
    worked_example_contract,
)


def removed(akpakpa, staff, number="1010004512"):
    request = advance(
        create(worked_example_contract(akpakpa, number), staff), staff, RequestState.METER_REMOVED
    )
    services.termination_request_sign_removal(request, actor=staff.supervisor)
    return reload(request)


@pytest.mark.django_db
def test_a_closure_is_one_record_written_with_its_event(akpakpa, staff, frozen_today):
    request = removed(akpakpa, staff)
    assert not OutboxRecord.objects.exists()
    services.termination_request_confirm_codification(request, actor=staff.acff)
    record = OutboxRecord.objects.get()
    contract = request.contract
    assert (record.kind, record.key, record.agency, record.contract_number) == (
        RecordKind.CLOSURE,
        f"closure:{request.pk}",
        akpakpa,
        "1010004512",
    )
    assert record.payload["date_de_fin"] == TODAY.isoformat()
    assert record.payload["index_final"] == 12300
    assert record.payload["compteur"] == contract.meter.serial
    assert record.payload["compteur_etat"] == "removed"
    assert record.payload["attestation"].startswith("ATT-")


@pytest.mark.django_db
def test_a_refused_closure_writes_nothing(akpakpa, staff, frozen_today):
    request = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.METER_REMOVED
    )
    with pytest.raises(StepRefused):  # the removal report is not signed yet
        services.termination_request_confirm_codification(request, actor=staff.acff)
    assert not OutboxRecord.objects.exists()


@pytest.mark.django_db
def test_the_outbox_is_append_only_and_one_record_per_fact(akpakpa, staff, frozen_today):
    request = removed(akpakpa, staff)
    services.termination_request_confirm_codification(request, actor=staff.acff)
    record = OutboxRecord.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboxRecord.objects.filter(pk=record.pk).update(payload={})
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboxRecord.objects.create(
            kind=record.kind, key=record.key, agency=akpakpa, contract_number="x", payload={}
        )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL sbee.maintenance = off")
        cursor.execute("TRUNCATE handoff_outboxrecord")


@pytest.mark.django_db(transaction=True)
def test_two_acff_closing_at_once_make_one_record(akpakpa, staff, frozen_today):
    request = removed(akpakpa, staff)
    other = UserFactory(username="akp.acff2", agency=akpakpa, roles=[Role.ACFF])
    results = race(
        lambda: services.termination_request_confirm_codification(request, actor=staff.acff),
        lambda: services.termination_request_confirm_codification(request, actor=other),
    )
    assert sorted(kind for kind, _ in results) == ["ok", "refused"]
    assert OutboxRecord.objects.filter(key=f"closure:{request.pk}").count() == 1


@pytest.mark.django_db(transaction=True)
def test_closures_of_several_requests_at_once_are_numbered_in_commit_order(
    akpakpa, staff, frozen_today
):
    requests = [removed(akpakpa, staff, f"10100045{n:02d}") for n in range(4)]
    results = race(
        *[
            (lambda r=r: services.termination_request_confirm_codification(r, actor=staff.acff))
            for r in requests
        ]
    )
    assert [kind for kind, _ in results] == ["ok"] * 4
    records = list(OutboxRecord.objects.order_by("pk"))
    assert sorted(r.payload["demande"] for r in records) == sorted(r.pk for r in requests)
    # Committed in id order: each record's transaction ended before the next one's began.
    assert [r.created_at for r in records] == sorted(r.created_at for r in records)


@pytest.mark.django_db
def test_the_export_from_a_cursor_gives_the_same_files_each_time(
    akpakpa, staff, frozen_today, tmp_path
):
    for n in range(3):
        services.termination_request_confirm_codification(
            removed(akpakpa, staff, f"10100046{n:02d}"), actor=staff.acff
        )
    first, second, third = OutboxRecord.objects.order_by("pk").values_list("pk", flat=True)
    call_command("export_codifications", since=first, dir=str(tmp_path), verbosity=0)
    stem = tmp_path / f"codifications-{second}-{third}"
    exported = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
    assert exported["depuis"] == first and exported["jusqu_a"] == third
    assert [r["id"] for r in exported["enregistrements"]] == [second, third]
    assert exported["enregistrements"][0]["contrat"] == "1010004601"
    rows = list(csv.reader(stem.with_suffix(".csv").open(encoding="utf-8"), delimiter=";"))
    assert [row[0] for row in rows] == ["id", str(second), str(third)]
    assert json.loads(rows[1][5])["contrat"] == "1010004601"
    before = stem.with_suffix(".json").read_bytes(), stem.with_suffix(".csv").read_bytes()
    call_command("export_codifications", since=first, dir=str(tmp_path), verbosity=0)
    assert (stem.with_suffix(".json").read_bytes(), stem.with_suffix(".csv").read_bytes()) == before
    call_command("export_codifications", since=third, dir=str(tmp_path), verbosity=0)
    assert len(list(tmp_path.iterdir())) == 2  # nothing new after the last one


# --- The API --------------------------------------------------------------------------------


@pytest.fixture
def system_token(db):
    from handoff.services import receiving_system_create

    return receiving_system_create("facturation")


def many_records(akpakpa, n: int):
    OutboxRecord.objects.bulk_create(
        OutboxRecord(
            kind=RecordKind.CLOSURE,
            key=f"closure:test-{i}",
            agency=akpakpa,
            contract_number=f"10100{i:05d}",
            payload={"contrat": f"10100{i:05d}"},
        )
        for i in range(n)
    )


@pytest.mark.django_db
def test_the_api_refuses_a_call_without_the_right_token_and_logs_it(client, system_token):
    from handoff.models import ApiCall, ReceivingSystem

    system, token = system_token
    assert ReceivingSystem.objects.get().token_hash != token  # kept hashed only
    assert token not in str(list(ReceivingSystem.objects.values()))
    assert client.get("/api/v1/codifications").status_code == 401
    wrong = client.get("/api/v1/codifications", HTTP_AUTHORIZATION="Bearer nimporte-quoi")
    assert wrong.status_code == 401
    right = client.get("/api/v1/codifications", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert right.status_code == 200
    calls = list(ApiCall.objects.order_by("pk").values_list("system", "status"))
    assert calls == [(None, 401), (None, 401), (system.pk, 200)]
    ReceivingSystem.objects.filter(pk=system.pk).update(active=False)
    assert (
        client.get("/api/v1/codifications", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    )


@pytest.mark.django_db
def test_the_api_pages_1000_records_by_cursor_the_same_each_time(client, akpakpa, system_token):
    _, token = system_token
    many_records(akpakpa, 1000)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    seen, cursor, pages = [], 0, 0
    while cursor is not None:
        page = client.get("/api/v1/codifications", {"apres": cursor, "limite": 300}, **auth).json()
        again = client.get("/api/v1/codifications", {"apres": cursor, "limite": 300}, **auth).json()
        assert page == again  # idempotent
        seen += [r["id"] for r in page["enregistrements"]]
        cursor, pages = page["suivant"], pages + 1
    assert seen == list(OutboxRecord.objects.order_by("pk").values_list("pk", flat=True))
    assert len(seen) == 1000 and pages == 4
    first = client.get("/api/v1/codifications", {"limite": 1}, **auth).json()["enregistrements"][0]
    assert set(first) == {"id", "nature", "agence", "contrat", "ecrit_le", "contenu"}
    assert first["agence"] == "AKP" and first["nature"] == "closure"


@pytest.mark.django_db
def test_the_billing_system_acknowledges_a_batch(client, akpakpa, system_token):
    from handoff.models import Acknowledgement

    system, token = system_token
    many_records(akpakpa, 10)
    ids = list(OutboxRecord.objects.order_by("pk").values_list("pk", flat=True))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}", "content_type": "application/json"}
    done = client.post("/api/v1/acquittements", {"jusqu_a": ids[4]}, **auth)
    assert done.status_code == 200 and done.json()["jusqu_a"] == ids[4]
    again = client.post("/api/v1/acquittements", {"jusqu_a": ids[2]}, **auth)  # older: nothing new
    assert again.json()["jusqu_a"] == ids[4]
    beyond = client.post("/api/v1/acquittements", {"jusqu_a": ids[-1] + 1}, **auth)
    assert beyond.status_code == 409 and "le dernier est le n°" in beyond.json()["detail"]
    for bad in (0, -5, "un", None):
        refused = client.post("/api/v1/acquittements", {"jusqu_a": bad}, **auth)
        assert refused.status_code == 422, bad
    assert list(Acknowledgement.objects.values_list("system", "up_to")) == [(system.pk, ids[4])]
    assert (
        client.post(
            "/api/v1/acquittements", {"jusqu_a": 1}, content_type="application/json"
        ).status_code
        == 401
    )


@pytest.mark.django_db
def test_the_api_schema_is_published(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {"/api/v1/codifications", "/api/v1/acquittements"}
    listing = schema["paths"]["/api/v1/codifications"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"apres", "limite"}
    assert listing["security"] == [{"SystemToken": []}]
    assert "Page" in schema["components"]["schemas"]


@pytest.mark.django_db
def test_records_not_acknowledged_after_a_day_are_on_the_admins_dashboard(
    client, akpakpa, system_token
):
    import time_machine

    from handoff.services import acknowledge

    system, _ = system_token
    many_records(akpakpa, 5)
    ids = list(OutboxRecord.objects.order_by("pk").values_list("pk", flat=True))
    acknowledge(system, ids[1])
    admin_user = UserFactory(
        username="dcc.admin", agency=akpakpa, roles=[Role.ADMIN], is_staff=True
    )
    client.force_login(admin_user)
    assert "non acquitté" not in client.get("/admin/").content.decode()  # not a day yet
    with time_machine.travel(dt.timedelta(days=1, minutes=1)):
        client.force_login(admin_user)
        page = client.get("/admin/").content.decode()
        assert "<strong>3</strong> enregistrements non acquittés depuis plus d'un jour" in page
        listed = client.get("/admin/handoff/outboxrecord/", {"non_acquitte": "1"})
        assert sorted(r.pk for r in listed.context["cl"].result_list) == ids[2:]


@pytest.mark.django_db
def test_an_mt_closure_says_the_meter_is_left_in_place(akpakpa, staff, frozen_today):
    request = mt_until_settled(mt_example_contract(akpakpa), staff, Timing.CLASSIC)
    services.termination_request_confirm_codification(request, actor=staff.acff)
    record = OutboxRecord.objects.get()
    assert record.payload["compteur_etat"] == "left_in_place"


@pytest.mark.django_db
def test_the_api_refuses_what_its_schema_does_not_take_and_logs_every_call(
    client, akpakpa, system_token
):
    from handoff.models import ApiCall

    system, token = system_token
    many_records(akpakpa, 3)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/v1/codifications", {"limite": 500}, **auth).status_code == 200
    for limit in (501, 0, -1, "cent"):
        answer = client.get("/api/v1/codifications", {"limite": limit}, **auth)
        assert answer.status_code == 422, limit
    assert client.get("/api/v1/codifications", {"apres": -1}, **auth).status_code == 422
    huge = client.post(
        "/api/v1/acquittements",
        b'{"jusqu_a": 1, "x": "' + b"a" * (12 * 1024 * 1024) + b'"}',
        content_type="application/json",
        **auth,
    )
    assert huge.status_code == 413
    assert huge.json()["detail"].startswith("Envoi trop volumineux")
    broken = client.post(
        "/api/v1/acquittements", b"{jusqu_a", content_type="application/json", **auth
    )
    assert broken.status_code in (400, 422)
    assert client.delete("/api/v1/codifications", **auth).status_code == 405
    statuses = list(ApiCall.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == [200, 422, 422, 422, 422, 422, 413, broken.status_code, 405]
    # The 413 is refused before the token is read: the log does not name the system.
    assert list(ApiCall.objects.filter(status=200).values_list("system", flat=True)) == [system.pk]


@pytest.mark.django_db
def test_the_published_schema_states_every_status_and_bound(client):
    schema = client.get("/api/v1/openapi.json").json()
    listing = schema["paths"]["/api/v1/codifications"]["get"]
    assert set(listing["responses"]) == {"200", "401", "413", "422"}
    bounds = {p["name"]: p["schema"] for p in listing["parameters"]}
    assert (bounds["limite"]["minimum"], bounds["limite"]["maximum"]) == (1, 500)
    assert bounds["apres"]["minimum"] == 0
    ack = schema["paths"]["/api/v1/acquittements"]["post"]
    assert set(ack["responses"]) == {"200", "400", "401", "409", "413", "422"}
    assert schema["components"]["schemas"]["AckIn"]["properties"]["jusqu_a"]["minimum"] == 1


@pytest.mark.django_db(transaction=True)
def test_an_independent_tester_finds_nothing_against_the_published_schema(
    live_server, akpakpa, system_token, tmp_path
):
    """schemathesis, run as a separate program against a live server, with every check it has:
    no server error, every status and body as the schema states, what the schema refuses
    refused and what it accepts accepted, the token required."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    _, token = system_token
    many_records(akpakpa, 5)
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis (st) est absent de l'environnement"
    result = subprocess.run(
        [
            st,
            "run",
            f"{live_server.url}/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--max-examples",
            "40",
            "--seed",
            "20261130",
            "--workers",
            "1",
            "--request-timeout",
            "120",
            "--generation-database",
            "none",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
