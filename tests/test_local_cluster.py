"""The project's own PostgreSQL cluster (sbee_resiliation/localdb.py) trusts nobody: only the
server's account (and root) reaches its socket, and every role, the superuser first, logs in with
its password. Without it, a local account could become superuser and bypass every trigger."""

import os
import pwd
import shutil
import subprocess

import psycopg
import pytest

from sbee_resiliation import localdb

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="DATABASE_URL : pas le cluster local du projet"
)


def connect_without_password(role: str):
    return psycopg.connect(
        host=localdb.location()["socket"],
        port=localdb.PORT,
        user=role,
        dbname="postgres",
        passfile=os.devnull,
        connect_timeout=30,
    )


@pytest.mark.parametrize("role", localdb.ROLES)
def test_every_role_needs_its_password(role):
    with pytest.raises(psycopg.OperationalError) as refused:
        connect_without_password(role)
    assert "password" in str(refused.value)
    with psycopg.connect(localdb.url(role, "postgres"), connect_timeout=30) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (role,)


def test_the_passwords_are_readable_by_their_owner_only():
    assert localdb.passfile().stat().st_mode & 0o777 == 0o600
    assert os.stat(localdb.location()["socket"]).st_mode & 0o777 == 0o700


def test_an_unrelated_account_of_the_machine_cannot_reach_the_socket():
    if os.geteuid() != 0:
        pytest.skip("il faut être root pour agir sous un autre compte")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("pas de compte nobody sur cette machine")
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql est absent")
    socket = localdb.location()["socket"]
    for role in localdb.ROLES:
        result = subprocess.run(
            [
                "runuser",
                "-u",
                "nobody",
                "--",
                psql,
                "-w",
                "-h",
                socket,
                "-U",
                role,
                "-d",
                "postgres",
                "-c",
                "SELECT 1",
            ],
            capture_output=True,
            text=True,
            env={"PATH": os.environ["PATH"], "LC_ALL": "C"},
            timeout=120,
        )
        assert result.returncode != 0, role
        assert "Permission denied" in result.stderr or "password" in result.stderr, result.stderr
