"""The task workers' upkeep: a job left "doing" by a worker that died is run again, and a worker
whose connections are cut never stays alive without working (it beats again, or exits for its
supervisor to start a new one)."""

import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection

from tests.stacks import stack_env

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_a_job_left_doing_by_a_dead_worker_is_run_again(tmp_path):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat)"
            " VALUES (now() - interval '5 minutes') RETURNING id"
        )
        dead = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, worker_id)"
            " VALUES ('documents', 'billing.render_document', '{}', 'doing', %s) RETURNING id",
            [dead],
        )
        job = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()) RETURNING id"
        )
        alive = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, worker_id)"
            " VALUES ('documents', 'billing.render_document', '{}', 'doing', %s) RETURNING id",
            [alive],
        )
        busy = cursor.fetchone()[0]
    # The task as a worker process runs it (its connections end with the process).
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "import asyncio; from procedure.tasks import retry_stalled_jobs;"
            " print(asyncio.run(retry_stalled_jobs.func(timestamp=0)))",
        ],
        cwd=settings.BASE_DIR,
        env=stack_env(tmp_path / "static"),
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stdout.strip().splitlines()[-1]) == (0, "1"), result.stderr
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, status FROM procrastinate_jobs WHERE id IN (%s, %s) ORDER BY id",
            [job, busy],
        )
        assert cursor.fetchall() == [(job, "todo"), (busy, "doing")]


def beats(worker_id: int) -> float | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT extract(epoch FROM now() - last_heartbeat) FROM procrastinate_workers"
            " WHERE id = %s",
            [worker_id],
        )
        row = cursor.fetchone()
    return None if row is None else float(row[0])


def test_a_worker_whose_connections_are_cut_beats_again_or_exits(tmp_path):
    env = stack_env(tmp_path / "static")
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM procrastinate_workers")
        before = cursor.fetchone()[0]
    with open(tmp_path / "worker.log", "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--name", "coupé"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        worker_id = None
        while worker_id is None:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            with connection.cursor() as cursor:
                cursor.execute("SELECT max(id) FROM procrastinate_workers WHERE id > %s", [before])
                worker_id = cursor.fetchone()[0]
            time.sleep(0.5)
        # What a database restart does to the worker: every connection it holds is cut.
        cut_at = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND usename = %s",
                [env["DATABASE_URL"].split("://")[1].split("@")[0]],
            )
            assert cursor.fetchone()[0] >= 1
        outcome = None
        while outcome is None:
            assert time.monotonic() - cut_at < 120, (
                "ni battement ni arrêt : " + (tmp_path / "worker.log").read_text()
            )
            if worker.poll() is not None:
                outcome = "exited"
            else:
                age = beats(worker_id)
                if age is not None and age < time.monotonic() - cut_at - 1:
                    outcome = "beats"  # a heartbeat written after the cut
            time.sleep(1)
    finally:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=40)
