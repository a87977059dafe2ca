"""The procedure's and the money's tests run again, in a process of their own, with every
connection through PgBouncer in transaction mode (`DATABASE_POOLING=transaction`): the
settings a pooler needs (no server-side cursor, no startup option, no prepared statement) keep
them all passing. tests/test_serve.py runs the production stack through it."""

import os
import subprocess
import sys

import pytest

from sbee_resiliation import localdb
from tests.stacks import ROOT

NESTED_DB = "sbee_pooled"


@pytest.fixture
def pooler():
    """PgBouncer with the nested run's test database as a maintenance session (its flush may
    TRUNCATE, as the suite's own does with DATABASE_MAINTENANCE); as it was, after."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("PgBouncer devant le cluster du projet seulement (DATABASE_URL est donné)")
    running = localdb._pooler_pid() is not None
    socket = localdb.location()["socket"]
    maintenance = (
        f"test_{NESTED_DB} = host={socket} port={localdb.PORT} "
        "connect_query='SET sbee.maintenance = on'"
    )
    localdb.start_pooler(databases=(maintenance,))
    try:
        yield
    finally:
        if running:
            localdb.start_pooler()
        else:
            localdb.stop_pooler(quiet=True)


def test_the_procedure_and_money_tests_pass_through_the_pooler(pooler):
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_DB_USER", "PYTEST_ADDOPTS")}
    env.update(
        DATABASE_URL=localdb.pooler_url(localdb.OWNER_USER, NESTED_DB),
        DATABASE_POOLING="transaction",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/procedure",
            "tests/billing",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
