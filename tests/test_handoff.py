"""The hand-off to the billing system: each closure, transfer to recovery and complementary
invoice is an outbox record written with its event, once; the export reads them from a cursor,
the same each time."""

import csv
import json

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from contracts.enums import RequestState, Role
from contracts.procedure import services
from contracts.rules import StepRefused
from handoff.enums import RecordKind
from handoff.models import OutboxRecord
from tests.factories import UserFactory
from tests.test_concurrency import race
from tests.workflow import TODAY, advance, create, reload, worked_example_contract


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
