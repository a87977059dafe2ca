"""make backup / make restore: a dump of the whole database restored into a new one holds the
same rows, the same documents (their bytes match their hashes) and intact audit chains."""

import os
import subprocess
import sys

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from billing.enums import DocumentStatus
from contracts.audit import verify_chains
from contracts.enums import RequestState
from procedure import services
from sbee_resiliation import backup, localdb
from tests.workflow import advance, create, documents_rendered, reload, worked_example_contract

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("frozen_today")]

TABLES = [
    "contracts_terminationrequest",
    "contracts_terminationevent",
    "contracts_securityevent",
    "billing_invoice",
    "billing_invoiceline",
    "billing_accountentry",
    "billing_settlement",
    "billing_document",
    "interventions_interventionorder",
    "interventions_interventionreport",
]


def counts_and_hashes(conn) -> tuple[dict, list]:
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    documents = conn.execute(
        "SELECT number, sha256, encode(sha256(content), 'hex') FROM billing_document"
        " WHERE status = %s ORDER BY number",
        [DocumentStatus.READY],
    ).fetchall()
    return counts, documents


@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")) and not os.environ.get("DATABASE_ADMIN_URL"),
    reason="restaurer demande DATABASE_ADMIN_URL hors du PostgreSQL local du projet",
)
def test_a_dump_restored_into_a_new_database_holds_the_same_rows_and_documents(
    akpakpa, staff, tmp_path
):
    with documents_rendered():
        request = advance(
            create(worked_example_contract(akpakpa), staff), staff, RequestState.METER_REMOVED
        )
        services.termination_request_sign_removal(request, actor=staff.supervisor)
        services.termination_request_confirm_codification(reload(request), actor=staff.acff)
    db = connection.settings_dict
    if os.environ.get("DATABASE_ADMIN_URL"):
        admin = os.environ["DATABASE_ADMIN_URL"]
    else:
        admin = localdb.url(localdb.DB_USER, "postgres")
    source = backup.with_dbname(admin, db["NAME"])

    dump = backup.dump(tmp_path / "sbee-20261130-090000.dump", url=source)
    assert dump.stat().st_mode & 0o777 == 0o600  # the owner's only
    restored = backup.restore(dump, "sbee_restore_test", url=admin)
    try:
        with (
            psycopg.connect(source) as original,
            psycopg.connect(backup.with_dbname(admin, restored)) as copy,
        ):
            before = counts_and_hashes(original)
            after = counts_and_hashes(copy)
            assert after == before
            assert before[0]["billing_document"] >= 5
            for _, stored, computed in after[1]:
                assert stored == computed
            # A second restore under the same name is refused; the copy is untouched.
            with pytest.raises(backup.BackupError, match="existe déjà"):
                backup.restore(dump, "sbee_restore_test", url=admin)
        # The event chains of the copy, checked by the command an operator runs.
        env = {**os.environ, "DATABASE_URL": backup.with_dbname(admin, restored)}
        result = subprocess.run(
            [sys.executable, "manage.py", "verify_audit"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        assert (result.returncode, result.stdout.strip()) == (0, "Chaînes d'audit intactes.")
        assert verify_chains() == []
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
