"""Import of the billing system's extraction: the sample files, again (no change), the next
extraction (only the changes, never a contract with a request in progress), and the checks that
keep everything out when one line is wrong."""

import datetime as dt
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from billing.enums import EntryKind, InvoiceState
from billing.models import AccountEntry, BilledReading, Invoice
from billing.selectors import contract_account, usual_consumption
from contracts.enums import SecurityEventKind
from contracts.models import Contract, Customer, DeliveryPoint, Deposit, Meter, SecurityEvent
from imports.importer import ContractImport, ImportRefused
from tests.workflow import create

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "import"
FILES = sorted(SAMPLES.glob("*.csv"))
NEXT = sorted((SAMPLES / "2026-11").glob("*.csv"))
TODAY = dt.date(2026, 11, 30)


def run(files, commit=True, **kwargs):
    return ContractImport(files, commit=commit, today=TODAY, **kwargs).run()


def snapshot():
    return {
        model.__name__: model.objects.count()
        for model in (
            Customer,
            DeliveryPoint,
            Meter,
            Contract,
            Deposit,
            Invoice,
            AccountEntry,
            BilledReading,
        )
    }


def copy_samples(tmp_path, files=FILES):
    for f in files:
        shutil.copy(f, tmp_path / f.name)
    return sorted(tmp_path.glob("*.csv"))


@pytest.mark.django_db
def test_the_samples_are_checked_then_written_then_imported_again_without_change(
    akpakpa, frozen_today
):
    before = snapshot()
    trial = run(FILES, commit=False)
    assert trial.ok and not trial.committed
    assert snapshot() == before  # a dry run writes nothing
    assert trial.counts["Contrats créés"] == 12
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.IMPORT).count() == 1

    report = run(FILES)
    assert report.ok and report.committed
    assert report.counts == trial.counts  # the dry run said what the commit did
    assert report.counts["Relevés facturés repris"] == 144
    contract = Contract.objects.select_related("customer", "delivery_point", "meter").get(
        number="1010900002"
    )
    assert contract.agency == akpakpa and contract.status == "active"
    assert contract.customer.id_document_type == "cip"
    assert contract.delivery_point.reference == "PL-AKP-900002"
    assert contract.meter.digits == 6
    assert contract.last_billed_date == dt.date(2026, 10, 31)
    assert Deposit.objects.get(contract__number="1010900003").payer_name == "HOUNSOU Marcelline"
    company = Customer.objects.get(id_document_type="rccm")
    assert company.kind == "company"
    account = contract_account(contract)
    assert [i.number for i in account.unpaid_invoices] == ["CONSO-2609-1010900002"]
    assert account.balance == account.unpaid_total == 20350
    advances = contract_account(Contract.objects.get(number="1010900001")).advances_total
    assert advances == 10000
    # The history feeds the 3x check: 12 billed periods, their daily average.
    readings = BilledReading.objects.filter(contract=contract)
    assert readings.count() == 12
    total = sum(r.consumption for r in readings)
    assert usual_consumption(contract, 30) == total * 30 // sum(r.days for r in readings)
    event = SecurityEvent.objects.filter(kind=SecurityEventKind.IMPORT).latest("id")
    assert event.data["écriture"] is True
    assert {f["nom"] for f in event.data["fichiers"]} == {f.name for f in FILES}
    assert all(len(f["sha256"]) == 64 for f in event.data["fichiers"])

    written = snapshot()
    again = run(FILES)
    assert again.ok and again.changes == 0
    assert snapshot() == written
    # The same extraction as workbooks: nothing either.
    assert run(sorted((SAMPLES / "xlsx").glob("*.xlsx"))).changes == 0
    assert snapshot() == written


@pytest.mark.django_db
def test_the_next_extraction_brings_only_the_changes_and_spares_a_contract_in_progress(
    akpakpa, staff, frozen_today
):
    run(FILES)
    busy = Contract.objects.get(number="1010900004")
    request = create(busy, staff)
    before_busy = (busy.last_billed_index, busy.last_billed_date)
    unpaid_busy = [i.number for i in contract_account(busy).unpaid_invoices]

    report = run(NEXT)
    assert report.ok
    assert report.counts["Contrats créés"] == 0
    assert report.counts["Contrats mis à jour (dernier index facturé)"] == 11
    assert report.counts["Relevés facturés repris"] == 11
    assert report.counts["Factures réglées au système de facturation"] == 1
    assert report.counts["Factures impayées reprises"] == 1  # 1010900005's; 1010900004 waits
    assert report.counts["Avances reprises"] == 1
    assert report.busy == [("1010900004", str(request.pk))]

    updated = Contract.objects.get(number="1010900001")
    assert updated.last_billed_date == dt.date(2026, 11, 28)
    busy.refresh_from_db()
    assert (busy.last_billed_index, busy.last_billed_date) == before_busy
    assert [i.number for i in contract_account(busy).unpaid_invoices] == unpaid_busy
    assert not BilledReading.objects.filter(contract=busy, period_end=dt.date(2026, 11, 28))
    # Paid at the billing system: settled, with the payment entered into the account.
    paid = Invoice.objects.get(number="CONSO-2609-1010900007")
    assert paid.state == InvoiceState.SETTLED
    payment = AccountEntry.objects.get(invoice=paid, kind=EntryKind.PAYMENT)
    assert payment.credit == paid.total
    assert "réglée au système de facturation" in payment.label
    assert contract_account(paid.contract).balance == 0

    # Again: nothing more; and the older extraction afterwards settles nothing.
    assert run(NEXT).changes == 0
    older = run(FILES)
    assert older.changes == 0


@pytest.mark.django_db
def test_one_bad_line_writes_nothing_and_is_reported(akpakpa, tmp_path, frozen_today):
    files = copy_samples(tmp_path)
    readings = tmp_path / "releves.csv"
    lines = readings.read_bytes().decode().split("\r\n")
    cells = lines[6].split(";")
    cells[3] = "trente"
    lines[6] = ";".join(cells)
    readings.write_bytes("\r\n".join(lines).encode())
    before = snapshot()
    report = run(files)
    assert not report.committed and report.error_count == 1
    (problem,) = report.errors
    assert (problem.file, problem.line, problem.column) == ("releves.csv", 7, "jours")
    assert problem.reason == "nombre entier attendu"
    assert snapshot() == before
    event = SecurityEvent.objects.filter(kind=SecurityEventKind.IMPORT).latest("id")
    assert event.data["erreurs"] == 1 and event.data["écriture"] is False


def edit_clients(tmp_path, **phones_by_line):
    clients = tmp_path / "clients.csv"
    lines = clients.read_bytes().decode().split("\r\n")
    header = lines[0].split(";")
    for line, phone in phones_by_line.items():
        n = int(line.removeprefix("line"))
        cells = lines[n - 1].split(";")
        cells[header.index("telephone")] = phone
        lines[n - 1] = ";".join(cells)
    clients.write_bytes("\r\n".join(lines).encode())
    return [line.split(";") for line in lines]


@pytest.mark.django_db
def test_numbers_are_stored_in_e164_and_former_eight_digit_ones_converted_and_reported(
    akpakpa, tmp_path, frozen_today
):
    files = copy_samples(tmp_path)
    rows = edit_clients(tmp_path, line2="97176329", line3="96000001")
    header = rows[0]
    report = run(files)
    assert report.ok and report.committed
    (notice,) = [n for n in report.notices if "8 chiffres" in n]
    assert notice.startswith("2 numéro(s) de téléphone à 8 chiffres converti(s)")
    assert "96000001 → 0196000001" in notice and "97176329 → 0197176329" in notice
    by_id = {
        r[header.index("numero_piece")]: r[header.index("telephone")] for r in rows[1:] if r[0]
    }
    stored = dict(Customer.objects.values_list("id_document_number", "phone"))
    for number, phone in by_id.items():
        expected = "+22901" + phone if len(phone) == 8 else "+229" + phone
        assert stored[number] == expected


@pytest.mark.django_db
def test_a_number_neither_ten_nor_eight_digits_is_refused(akpakpa, tmp_path, frozen_today):
    files = copy_samples(tmp_path)
    edit_clients(tmp_path, line2="971763290", line3="0297176329")
    report = run(files)
    assert not report.committed
    reason = "10 chiffres commençant par 01, ou un ancien numéro à 8 chiffres, sans espace"
    assert {(p.line, p.column, p.reason) for p in report.errors} == {
        (2, "telephone", reason),
        (3, "telephone", reason),
    }
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_every_kind_of_wrong_value_is_named(akpakpa, tmp_path, frozen_today):
    files = copy_samples(tmp_path)
    contracts = tmp_path / "contrats.csv"
    lines = contracts.read_bytes().decode().split("\r\n")

    def change(n, **values):
        header = lines[0].split(";")
        cells = lines[n - 1].split(";")
        for name, value in values.items():
            cells[header.index(name)] = value
        lines[n - 1] = ";".join(cells)

    change(2, date_effet="31/02/2020")
    change(3, agence="XYZ")
    change(4, puissance_kva="0")
    change(5, chiffres_compteur="6", dernier_index="1234567")
    change(6, numero_piece_client="inconnu")
    change(7, categorie="")
    change(8, date_dernier_index="01/01/2027")
    contracts.write_bytes("\r\n".join(lines).encode())
    report = run(files)
    got = {(p.line, p.column): p.reason for p in report.errors}
    assert got == {
        (2, "date_effet"): "date attendue au format JJ/MM/AAAA",
        (3, "agence"): "agence inconnue : XYZ",
        (4, "puissance_kva"): "doit être entre 1 et 32767",
        (5, "dernier_index"): "dépasse la capacité du compteur (6 chiffres)",
        (6, "numero_piece_client"): (
            "client inconnu : ni dans le fichier des clients, ni déjà enregistré"
        ),
        (7, "categorie"): "valeur obligatoire",
        (8, "date_dernier_index"): "date à venir",
    }
    assert not Contract.objects.exists()


@pytest.mark.django_db
def test_a_contract_number_twice_and_two_active_contracts_on_a_point_are_refused(
    akpakpa, tmp_path, frozen_today
):
    files = copy_samples(tmp_path)
    contracts = tmp_path / "contrats.csv"
    lines = contracts.read_bytes().decode().rstrip("\r\n").split("\r\n")
    twin = lines[1]
    lines.append(twin)  # the same contract again
    contracts.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    report = run(files)
    assert (14, "numero_contrat") in {(p.line, p.column) for p in report.errors}
    assert "contrat en double (voir contrats.csv, ligne 2)" in {p.reason for p in report.errors}

    run(FILES)  # the samples in place; then a new contract on an occupied delivery point
    other = tmp_path / "other"
    other.mkdir()
    cells = twin.split(";")
    cells[0], cells[9] = "1010900099", "CE26999999"
    (other / "contrats.csv").write_text(lines[0] + "\r\n" + ";".join(cells) + "\r\n", "utf-8")
    report = run([other / "contrats.csv"])
    assert [(p.line, p.column, p.reason) for p in report.errors] == [
        (2, "point_livraison", "ce point de livraison a déjà un contrat actif (n° 1010900001)")
    ]
    assert not Contract.objects.filter(number="1010900099").exists()
    # And the database refuses it too, whatever writes it.
    contract = Contract.objects.get(number="1010900001")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contract.objects.create(
            number="1010900098", agency=contract.agency, customer=contract.customer,
            delivery_point=contract.delivery_point, meter=Meter.objects.create(
                serial="CE26999998", digits=6), tariff_category=contract.tariff_category,
            subscribed_power_kva=3, start_date=TODAY, last_billed_index=0,
            last_billed_date=TODAY,
        )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        Contract.objects.create(
            number="1010900001", agency=contract.agency, customer=contract.customer,
            delivery_point=DeliveryPoint.objects.create(
                reference="PL-X", address="x", agency=contract.agency, voltage="bt"),
            meter=Meter.objects.create(serial="CE26999997", digits=6),
            tariff_category=contract.tariff_category, subscribed_power_kva=3, start_date=TODAY,
            last_billed_index=0, last_billed_date=TODAY,
        )  # fmt: skip


@pytest.mark.django_db
def test_unreadable_files_are_refused_in_french(akpakpa, tmp_path, frozen_today):
    latin = tmp_path / "clients.csv"
    latin.write_bytes((SAMPLES / "clients.csv").read_text("utf-8").encode("latin-1"))
    report = run([latin])
    assert report.errors[0].reason.startswith("caractères qui ne sont pas en UTF-8")
    commas = tmp_path / "virgules.csv"
    commas.write_text("numero_contrat,reference,date,montant\n1,2,3,4\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match="points-virgules"):
        run([commas])
    short = tmp_path / "avances.csv"
    short.write_text("numero_contrat;reference;date;montant\n1010900001;R1;01/11/2026\n", "utf-8")
    report = run([short])
    assert [(p.line, p.reason) for p in report.errors] == [
        (2, "colonnes manquantes sur cette ligne")
    ]
    # Headers as a spreadsheet writes them: accents, capitals, any order, a BOM.
    loose = tmp_path / "loose.csv"
    loose.write_text(
        "\ufeffMontant;Date;Référence;Numéro contrat\n5000;01/11/2026;R1;1010900001\n", "utf-8"
    )
    report = run([loose])
    assert [p.reason for p in report.errors] == [
        "contrat inconnu : ni dans le fichier des contrats, ni déjà enregistré"
    ]


@pytest.mark.django_db
def test_the_command_is_a_dry_run_unless_told(akpakpa, capsys, frozen_today):
    with pytest.raises(SystemExit):
        call_command("import_contracts", str(SAMPLES / "avances.csv"), "--no-progress")
    assert "contrat inconnu" in capsys.readouterr().out
    call_command("import_contracts", *map(str, FILES), "--no-progress")
    out = capsys.readouterr().out
    assert "Essai (rien n'est écrit ; --commit pour écrire)" in out and "Contrats créés : 12" in out
    assert not Contract.objects.exists()
    call_command("import_contracts", *map(str, FILES), "--commit", "--no-progress")
    assert Contract.objects.count() == 12
    call_command("import_contracts", *map(str, FILES), "--commit", "--no-progress")
    assert "Aucun changement" in capsys.readouterr().out


@pytest.fixture
def dcc_admin(akpakpa):
    from contracts.enums import Role
    from tests.factories import UserFactory

    return UserFactory(username="dcc.admin", agency=akpakpa, roles=[Role.ADMIN], is_staff=True)


def upload(client, paths):
    """The files sent from the page; the run the worker does; its page once done."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in paths]
    sent = client.post("/admin/import/", {"files": files})
    if sent.status_code != 302:
        return sent  # the form refused the files
    return finish(client, sent)


def finish(client, sent):
    """What the task worker does with the queued runs (the tests run inside a transaction its
    connection cannot see), then the run's page, as the admin's browser reloads it."""
    import html

    from handoff.models import ImportRun
    from imports.tasks import import_run

    waiting = html.unescape(client.get(sent.url).content.decode())
    assert "L'import attend un worker de tâches" in waiting
    assert "data-import-running" in waiting and "js/import_progress.js" in waiting
    for run in ImportRun.objects.filter(status=ImportRun.Status.QUEUED):
        import_run(run_id=run.pk)
    return client.get(sent.url)


@pytest.mark.django_db
def test_the_admin_uploads_reads_the_dry_run_then_writes(
    client, dcc_admin, settings, tmp_path, frozen_today
):
    settings.IMPORT_DIR = tmp_path
    client.force_login(dcc_admin)
    page = client.get("/admin/")
    assert "/admin/import/" in page.content.decode()
    page = client.get("/admin/import/")
    assert page.status_code == 200 and "numero_piece_client" in page.content.decode()
    assert client.get("/admin/import/exemples/contrats.csv").status_code == 200
    assert client.get("/admin/import/exemples/..%2Fdemo.json").status_code == 404

    page = upload(client, FILES)
    html = page.content.decode()
    assert "Essai réussi : rien n'est encore écrit" in html
    assert not Contract.objects.exists()
    token = page.context["token"]
    event = SecurityEvent.objects.filter(kind=SecurityEventKind.IMPORT).latest("id")
    assert event.actor == dcc_admin and event.data["écriture"] is False

    page = finish(client, client.post("/admin/import/", {"token": token}))
    assert "Import écrit" in page.content.decode()
    assert Contract.objects.count() == 12
    event = SecurityEvent.objects.filter(kind=SecurityEventKind.IMPORT).latest("id")
    assert event.actor == dcc_admin and event.data["écriture"] is True
    # A token this session was not given is refused; nothing else is written.
    page = client.post("/admin/import/", {"token": "0" * 32})
    assert "déposez-les à nouveau" in page.content.decode()


@pytest.mark.django_db
def test_the_admin_page_reports_errors_and_refuses_what_it_cannot_read(
    client, dcc_admin, settings, tmp_path, frozen_today
):
    settings.IMPORT_DIR = tmp_path / "uploads"
    client.force_login(dcc_admin)
    bad = tmp_path / "avances.csv"
    bad.write_text(
        "numero_contrat;reference;date;montant\n1010900001;R1;32/11/2026;5000\n", "utf-8"
    )
    html = upload(client, [bad]).content.decode()
    assert "1 erreur : rien n'a été écrit" in html
    assert "date attendue au format JJ/MM/AAAA" in html
    other = tmp_path / "notes.txt"
    other.write_text("x", "utf-8")
    html = upload(client, [other]).content.decode()
    assert "seuls les fichiers CSV ou XLSX sont lus" in html
    assert not Contract.objects.exists()


@pytest.mark.django_db
def test_only_the_admin_reaches_the_import_page(client, staff):
    client.force_login(staff.supervisor)
    assert client.get("/admin/import/").status_code == 302


def test_the_documentation_names_every_column():
    from imports.importer import FILE_KINDS

    text = (Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text("utf-8")
    for kind in FILE_KINDS:
        for column in kind.columns:
            assert f"| `{column.name}` | {column.help} |" in text


def rewrite_sheet(source: Path, target: Path, change) -> None:
    """A copy of an XLSX whose first sheet's XML is changed (as a broken export would be)."""
    import zipfile

    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = change(data.decode()).encode()
            copy.writestr(item, data)


@pytest.mark.django_db
def test_a_malformed_xlsx_cell_is_named_by_its_file_line_and_column(akpakpa, tmp_path):
    import re

    target = tmp_path / "avances.xlsx"
    rewrite_sheet(
        SAMPLES / "xlsx" / "avances.xlsx",
        target,
        # The amount of the first data line, typed as a number, holds a word.
        lambda xml: re.sub(r'(<c r="D2"[^>]*>)<v>[^<]*</v>', r"\1<v>cinq</v>", xml, count=1),
    )
    with pytest.raises(ImportRefused) as refused:
        run([target])
    assert str(refused.value).startswith("avances.xlsx, ligne 2, colonne montant : cellule")


@pytest.mark.django_db
def test_an_xlsx_that_would_unpack_too_big_is_refused_before_it_is_read(
    akpakpa, tmp_path, settings
):
    import zipfile

    settings.IMPORT_XLSX_MAX_UNPACKED_MB = 1
    bomb = tmp_path / "contrats.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", "<x/>" + " " * (3 * 1024 * 1024))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ImportRefused, match="se décompresse en 3 Mo \\(au plus 1 Mo\\)"):
        run([bomb])


@pytest.mark.django_db
def test_the_upload_queues_a_job_and_no_web_worker_waits_on_the_import(
    client, dcc_admin, settings, tmp_path, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from procrastinate.contrib.django.models import ProcrastinateJob

    from handoff.models import ImportRun

    settings.IMPORT_DIR = tmp_path
    client.force_login(dcc_admin)
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in FILES]
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post("/admin/import/", {"files": files})
    run = ImportRun.objects.get()
    assert sent.url == f"/admin/import/{run.pk}/"
    assert (run.status, run.commit, run.requested_by) == ("queued", False, dcc_admin)
    job = ProcrastinateJob.objects.get(task_name="handoff.import_run")
    assert (job.queue_name, job.args) == ("imports", {"run_id": run.pk})
    assert not Contract.objects.exists()  # nothing read nor written in the request
    import html

    page = html.unescape(client.get(sent.url).content.decode())
    assert "L'import attend un worker de tâches" in page


def test_a_broken_constraint_is_reported_in_the_models_own_words(akpakpa):
    """The import's reasons are the messages the models give their constraints."""
    from django.db import IntegrityError, connection, transaction

    from contracts.models import Contract, Meter
    from imports.importer import _reason
    from tests.factories import ContractFactory

    meter = ContractFactory(agency=akpakpa).meter
    insert = "INSERT INTO contracts_meter (serial, digits, status) VALUES (%s, 6, 'installed')"
    with (
        pytest.raises(IntegrityError) as broken,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(insert, [meter.serial])
    assert _reason(broken.value) == "Un compteur porte déjà ce numéro de série."
    assert Meter.objects.count() == Contract.objects.count() == 1
