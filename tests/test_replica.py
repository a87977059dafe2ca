"""The read-only pages read from a real hot standby of the project's cluster (`make serve
REPLICA=1`): a person's own writes are never hidden from them (their reads stay on the primary
until the replica has replayed their last write, judged by WAL position), an export runs on the
replica, and with the replica stopped every page still answers."""

import os
import re

import pytest
import requests
from django.db import connection

from contracts.enums import Role
from sbee_resiliation import localdb
from tests.factories import UserFactory
from tests.stacks import (
    Stack,
    browser,
    database_url,
    hidden_fields,
    replica_admin,
    session_of,
    wait_replayed,
)
from tests.workflow import worked_example_contract

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def replica():
    """The project's replica (started, and stopped after, unless it ran already)."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("un réplica du cluster du projet seulement (DATABASE_URL est donné)")
    running = localdb.replica_is_running()
    localdb.start_replica()
    yield
    if running:
        localdb.start_replica()  # a test stopped it: as it was
    else:
        localdb.stop_replica()


def replica_stack(tmp_path, **settings) -> Stack:
    env = {"REPLICA_DATABASE_URL": database_url("replica"), **settings}
    return Stack(tmp_path, servers=1, workers=0, env=env)


@pytest.fixture
def stack(replica, tmp_path):
    running = replica_stack(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def strict_stack(replica, tmp_path):
    """A replica skipped as soon as it is 1 000 bytes of WAL behind, its lag read each time."""
    running = replica_stack(tmp_path, REPLICA_MAX_LAG_BYTES="1000", REPLICA_CHECK_SECONDS="0")
    yield running
    running.stop()


@pytest.fixture
def replay_paused(replica):
    """The replica's replay paused (resumed after, whatever happens)."""
    with replica_admin() as conn:
        yield conn
        conn.execute("SELECT pg_wal_replay_resume()")


@pytest.fixture
def agents(staff, akpakpa):
    """A contract without a request, its agency's reception agent (who will file one) and a
    colleague (who writes nothing), each in a browser."""
    contract = worked_example_contract(akpakpa, number="1010000777")
    colleague = UserFactory(username="akp.accueil2", agency=akpakpa, roles=[Role.RECEPTION])
    return contract, browser(session_of(staff.reception)), browser(session_of(colleague))


def listed(tab: requests.Session, base: str, number: str) -> bool:
    page = tab.get(base + "/demandes/")
    assert page.status_code == 200
    return number in page.text


def file_request(tab: requests.Session, base: str, contract) -> requests.Response:
    """Step 1 through its form: the holder asks for the termination of their contract."""
    path = f"/contrats/{contract.number}/resiliation/"
    form = tab.get(base + path)
    return tab.post(
        base + path,
        data={
            **hidden_fields(form.text),
            "kind": "without_takeover",
            "requester_quality": "holder",
            "requester_name": contract.customer.name,
            "requester_id_document_type": "cni",
            "requester_id_document_number": contract.customer.id_document_number,
            "requester_phone": "01 97 12 34 56",
        },
        headers={"Referer": base + path},
        allow_redirects=False,
    )


def test_a_write_is_read_back_by_its_author_while_the_replica_has_not_replayed_it(
    stack, replay_paused, agents
):
    contract, author, other = agents
    base = stack.base(0)
    assert not listed(author, base, contract.number)
    assert not listed(other, base, contract.number)
    wait_replayed()
    replay_paused.execute("SELECT pg_wal_replay_pause()")

    answer = file_request(author, base, contract)
    assert answer.status_code == 302, answer.text[:2000]
    assert "sbee_ecrit" in author.cookies  # the primary's WAL position after the write

    # Its author sees it at once (the primary); a colleague who wrote nothing reads the
    # replica, which has not replayed it: the page really is read there.
    assert listed(author, base, contract.number)
    assert not listed(other, base, contract.number)

    replay_paused.execute("SELECT pg_wal_replay_resume()")
    wait_replayed()
    assert listed(other, base, contract.number)
    # Caught up: the author reads the replica again, and the position is forgotten.
    assert listed(author, base, contract.number)
    assert "sbee_ecrit" not in author.cookies


def test_a_replica_lagging_beyond_the_limit_is_skipped_for_everyone(
    strict_stack, replay_paused, agents
):
    contract, author, other = agents
    base = strict_stack.base(0)
    assert not listed(other, base, contract.number)
    wait_replayed()
    replay_paused.execute("SELECT pg_wal_replay_pause()")
    assert file_request(author, base, contract).status_code == 302
    # The replica is now kilobytes behind: even the colleague, who wrote nothing, reads the
    # primary, and sees the new request.
    assert listed(other, base, contract.number)
    health = requests.get(base + "/sante/").json()
    assert health["replica"]["lag_bytes"] > 1000
    assert health["replica"]["in_use"] is False


def test_an_export_runs_on_the_replica(stack, staff):
    auditor = browser(session_of(staff.auditor, second_factor=True))
    wait_replayed()
    export = auditor.get(stack.base(0) + "/demandes/export/demandes.csv?agence=AKP")
    assert export.status_code == 200, stack.log_tail()
    assert export.content.decode("utf-8-sig").startswith("N° de demande")
    with replica_admin() as conn:
        rows = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            [connection.settings_dict["NAME"], "sbee-replica"],
        ).fetchall()
    # The export's rows were read through a server-side cursor, there.
    assert any("_django_curs_" in query for (query,) in rows), rows


def test_with_the_replica_stopped_every_page_still_answers(stack, staff):
    auditor = browser(session_of(staff.auditor, second_factor=True))
    base = stack.base(0)
    wait_replayed()
    assert auditor.get(base + "/tableau-de-bord/").status_code == 200
    localdb.stop_replica()
    pages = [
        "/tableau-de-bord/",
        "/demandes/",
        "/demandes/export/demandes.csv?agence=AKP",
        "/demandes/export/factures.xlsx?agence=AKP",
        "/caisse/journal/?agence=AKP",
        "/caisse/journal/export.csv?agence=AKP",
        "/controle/",
        "/suivi/",
    ]
    for page in pages:
        answer = auditor.get(base + page)
        assert answer.status_code == 200, (page, answer.status_code, stack.log_tail())
    form = requests.get(base + "/suivi/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    tracked = requests.post(
        base + "/suivi/",
        data={"csrfmiddlewaretoken": token, "demande": "1", "code": "ABCDEF"},
        cookies=form.cookies,
        headers={"Referer": base + "/suivi/"},
    )
    assert tracked.status_code == 200, stack.log_tail()
    health = requests.get(base + "/sante/").json()
    assert health["replica"]["in_use"] is False
    assert health["replica"]["error"]
