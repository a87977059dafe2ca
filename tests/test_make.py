"""The README's promises about the Makefile that a newcomer relies on."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def test_make_manage_runs_a_command_as_make_run_does_and_site_url_follows_the_port():
    """`make manage ARGS="…"` works as written (DEBUG on, no SECRET_KEY to give), and the QR
    codes' address follows PORT unless SITE_URL is set."""
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "SECRET_KEY", "DEBUG")}
    show = "shell -c 'from django.conf import settings; print(settings.SITE_URL, settings.DEBUG)'"
    result = subprocess.run(
        ["make", "-s", "manage", "PORT=8123", f"ARGS={show}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "http://127.0.0.1:8123 True" in result.stdout.splitlines()
    chosen = subprocess.run(
        ["make", "-s", "manage", "PORT=8123", f"ARGS={show}"],
        cwd=ROOT,
        env={**env, "SITE_URL": "https://resiliation.sbee.bj"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "https://resiliation.sbee.bj True" in chosen.stdout.splitlines()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, procs: list, logs: list[Path]) -> requests.Response:
    deadline = time.monotonic() + 600
    while True:
        try:
            answer = requests.get(url, timeout=60)
            if answer.status_code == 200:
                return answer
        except requests.RequestException:
            pass
        failed = [p for p in procs if p.poll() is not None]
        if failed or time.monotonic() > deadline:
            tails = "\n".join(f"--- {log}\n{log.read_text()[-3000:]}" for log in logs)
            raise AssertionError(f"{url} ne répond pas :\n{tails}")
        time.sleep(1)


def test_the_readme_commands_beyond_one_machine(tmp_path):
    """README, "Beyond one machine", as written: a stack with the replica and the pooler, a
    second stack, nginx in front of both; the health page through nginx tells the four task
    workers, the replica in use and the pool. Then every process stopped, the replica and the
    pooler as they were."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("le cluster du projet seulement (DATABASE_URL est donné)")
    from sbee_resiliation import localdb

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LOCAL_DB_USER", "DATABASE_MAINTENANCE", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG")
        and not k.startswith(("SECRET_KEY", "SECURE_", "STATIC_", "SITE_URL"))
    }
    replica_was, pooler_was = localdb.replica_is_running(), localdb._pooler_pid() is not None
    stacks = {f"essai-{os.getpid()}-{n}": _free_port() for n in ("a", "b")}
    front = _free_port()
    (name_a, port_a), (name_b, port_b) = stacks.items()
    commands = [
        ["make", "serve", "REPLICA=1", "POOLER=1", f"STACK={name_a}", f"PORT={port_a}"],
        ["make", "serve", "REPLICA=1", "POOLER=1", f"STACK={name_b}", f"PORT={port_b}"],
        ["make", "proxy", f"PORT={front}", f"UPSTREAMS=127.0.0.1:{port_a} 127.0.0.1:{port_b}"],
    ]
    procs, logs = [], []
    try:
        for n, command in enumerate(commands):
            logs.append(tmp_path / f"{n}.log")
            procs.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=logs[-1].open("w"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            if n < 2:  # each stack up before the next (they migrate the same database)
                _wait_for(f"http://127.0.0.1:{(port_a, port_b)[n]}/connexion/", procs, logs)
        _wait_for(f"http://127.0.0.1:{front}/connexion/", procs, logs)
        deadline = time.monotonic() + 120
        while True:
            health = requests.get(f"http://127.0.0.1:{front}/sante/", timeout=60).json()
            if health["workers"]["alive"] >= 4 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert health["workers"]["alive"] >= 4, health
        # Both stacks read on the replica and go through the one pooler.
        for port in (port_a, port_b):
            health = requests.get(f"http://127.0.0.1:{port}/sante/", timeout=60).json()
            assert health["replica"]["in_use"] is True, health
            assert health["pooler"]["clients_waiting"] == 0, health
    finally:
        for name in stacks:
            pidfile = ROOT / "var" / "run" / name / "supervisord.pid"
            if pidfile.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pidfile.read_text()), signal.SIGTERM)
        if len(procs) == 3:  # nginx, exec'ed by make proxy's shell
            with contextlib.suppress(ProcessLookupError):
                os.killpg(procs[2].pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        for name in stacks:
            shutil.rmtree(ROOT / "var" / "run" / name, ignore_errors=True)
        if not pooler_was:
            localdb.stop_pooler(quiet=True)
        if not replica_was:
            localdb.stop_replica()
