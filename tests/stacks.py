"""The production stack as tests run it: gunicorn (DEBUG off, static files hashed and
compressed) and task workers, as `make serve` starts them, on the test database; each process in
a group of its own, so that a stack can be stopped, or killed at once like a machine that dies.
Beside it, the people using it: a logged-in session, a browser tab, a form posted."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from sbee_resiliation import backup, localdb

ROOT = Path(settings.BASE_DIR)
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(kind: str = "primary") -> str:
    """The test database's address for the application's role: on the primary, through the
    local pooler ("pooler") or on the local replica ("replica")."""
    name = connection.settings_dict["NAME"]
    if os.environ.get("DATABASE_URL"):
        assert kind == "primary", "a replica and a pooler of the project's own cluster only"
        return backup.with_dbname(os.environ["DATABASE_URL"], name)
    return {"primary": localdb.url, "pooler": localdb.pooler_url, "replica": localdb.replica_url}[
        kind
    ](localdb.APP_USER, name)


def stack_env(static_root: Path) -> dict:
    """The environment `make serve` gives the stack, on the test database, as the application's
    role when the project's own cluster is used."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LOCAL_DB_USER", "DATABASE_MAINTENANCE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        DATABASE_URL=database_url(),
        DEBUG="false",
        SECRET_KEY="tests-only-not-secret",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="false",
        SECURE_HSTS_SECONDS="0",
        STATIC_MANIFEST="true",
        STATIC_ROOT=str(static_root),
        CONN_MAX_AGE="300",
        WEB_WORKERS="2",
        PYTHONUNBUFFERED="1",
    )
    return env


class Stack:
    """servers gunicorn and workers task workers; env: more settings for all of them (a
    replica...), web_env: for the web processes only (a pooler...)."""

    def __init__(
        self,
        tmp_path: Path,
        servers: int = 2,
        workers: int = 2,
        *,
        name: str = "stack",
        env: dict | None = None,
        web_env: dict | None = None,
    ):
        self.name = name
        self.env = {**stack_env(tmp_path / "static"), **(env or {})}
        self.web_env = web_env or {}
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
            cwd=ROOT,
            env=self.env,
            check=True,
        )
        self.ports = [free_port() for _ in range(servers)]
        self.logs = tmp_path / name
        self.logs.mkdir(exist_ok=True)
        self.procs = []
        try:
            self._start_all(workers)
        except BaseException:
            # A stack that failed to start stops what it started before the error is told.
            self.stop()
            raise

    def _start_all(self, workers: int):
        for n, port in enumerate(self.ports):
            self.procs.append(
                self._start(
                    [str(BIN / "gunicorn"), "--config", str(ROOT / "deploy/gunicorn.conf.py")],
                    f"web-{n}",
                    HOST="127.0.0.1",
                    PORT=str(port),
                    **self.web_env,
                )
            )
        name = self.name
        for n in range(workers):
            self.procs.append(
                self._start(
                    [sys.executable, "manage.py", "run_worker", "--name", f"{name}-worker-{n}"],
                    f"worker-{n}",
                )
            )
        for port in self.ports:
            self._wait(port)

    def _start(self, command, name, **extra):
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env={**self.env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own: stopped or killed whole
        )

    def run(self, *args: str, **extra) -> subprocess.Popen:
        """A manage.py command on this stack's machine (killed with it)."""
        proc = self._start([sys.executable, "manage.py", *args], "-".join(args)[:40], **extra)
        self.procs.append(proc)
        return proc

    def _wait(self, port):
        # A busy machine may take long to start gunicorn and to answer its first page: a
        # generous deadline, and a slow answer is waited for, not taken for a failure.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/connexion/", timeout=60)
                return
            except requests.RequestException:
                time.sleep(0.5)
        raise AssertionError(f"gunicorn ne répond pas sur {port} : {self.log_tail()}")

    def base(self, n: int) -> str:
        return f"http://127.0.0.1:{self.ports[n % len(self.ports)]}"

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-1500:]}" for path in self.logs.glob("*.log")
        )

    def stop(self):
        for proc in self.procs:
            _signal_group(proc, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=40)
        for proc in self.procs:
            _signal_group(proc, signal.SIGKILL)  # a gunicorn worker left behind its master

    def kill(self):
        """The machine dies: every process of the stack killed at once, nothing cleaned up."""
        for proc in self.procs:
            _signal_group(proc, signal.SIGKILL)
        for proc in self.procs:
            proc.wait(timeout=40)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def session_of(user, *, second_factor: bool = False) -> str:
    """The session of a person already logged in (and past the second factor when needed)."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "accounts.auth.RolesBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if second_factor:
        device = TOTPDevice.objects.create(user=user, name="tests", confirmed=True)
        store[DEVICE_ID_SESSION_KEY] = device.persistent_id
    store.create()
    return store.session_key


def browser(session_key: str) -> requests.Session:
    """One browser tab of that person: its own cookies (the CSRF cookie set by its first page)."""
    tab = requests.Session()
    tab.cookies.set("sessionid", session_key)
    return tab


def post_form(browser, base: str, path: str, data: dict) -> requests.Response:
    page = browser.get(base + path)
    assert page.status_code == 200, page.status_code
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return browser.post(
        base + path,
        data={**data, "csrfmiddlewaretoken": token},
        headers={"Referer": base + path},
        allow_redirects=False,
    )


def hidden_fields(html: str) -> dict:
    """The hidden inputs of a page's forms (the CSRF token, an idempotency key...)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]+)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = value.group(1) if value else ""
    return fields


def replica_admin():
    """The local replica, as its superuser (to pause its replay, to read its activity)."""
    import psycopg

    return psycopg.connect(
        localdb.replica_url(localdb.DB_USER, "postgres"), autocommit=True, connect_timeout=30
    )


def wait_replayed(deadline_seconds: float = 120) -> int:
    """Waits until the replica has replayed everything the primary has written so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
        (target,) = cursor.fetchone()
    deadline = time.monotonic() + deadline_seconds
    with replica_admin() as conn:
        while True:
            (replayed,) = conn.execute("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn").fetchone()
            if replayed >= target:
                return int(target)
            assert time.monotonic() < deadline, "le réplica ne rattrape pas le primaire"
            time.sleep(0.1)


def a_morning(agency, staff, *, due: int, unsettled: int, prefix: str):
    """The requests of a morning on 30/11/2026: `due` anticipated ones, settled, whose removal
    order step 8 issues on their cut date; `unsettled` ones whose balance invoice waits at the
    cash desk. Returns the due requests' ids and the invoices to settle."""
    import datetime as dt

    import time_machine

    from billing.enums import InvoiceKind, PaymentMode
    from contracts.enums import RequestState, Timing
    from procedure import services
    from tests.workflow import advance, create, worked_example_contract

    due_ids, to_settle = [], []
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC), tick=False):
        for n in range(due + unsettled):
            contract = worked_example_contract(agency, number=f"{prefix}{n:05d}")
            if n < due:
                request = advance(
                    create(contract, staff), staff, RequestState.INVOICED, timing=Timing.ANTICIPATED
                )
                services.termination_request_settle(
                    request.invoices.get(kind=InvoiceKind.BALANCE),
                    actor=staff.cashier,
                    amount=26417,
                    mode=PaymentMode.CASH,
                )
                due_ids.append(request.pk)
            else:
                request = advance(create(contract, staff), staff, RequestState.INVOICED)
                to_settle.append(request.invoices.get(kind=InvoiceKind.BALANCE))
    return due_ids, to_settle
