"""A procrastinate worker that never stays wedged: `manage.py run_worker`.

procrastinate's worker stops when its database goes away (a restart, a cut link) and, in some
failures, stays alive without working. This command runs the same worker with a watchdog: once
the worker has registered, its heartbeat row is read every 15 s on a separate connection; if the
row is gone or silent for 60 s, or the database has been unreachable for 60 s, or the worker
has stopped, the process exits. The supervisor (`make serve`, or systemd with the units under
deploy/) starts a new one, which reconnects; the jobs left "doing" are picked up again by the
stalled-jobs task (procedure/tasks.py)."""

import asyncio
import logging
import os
import sys
import time

import psycopg
from django.core.management.base import BaseCommand
from django.db import connection
from procrastinate.contrib.django import app, django_connector

logger = logging.getLogger("sbee.worker")

CHECK_EVERY = 15
SILENCE = 60
RESTART_DELAY = 5


def _connect_kwargs() -> dict:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params["connect_timeout"] = 5
    return params


def _heartbeat_age(worker_id: int) -> float | None:
    """Seconds since the worker's last heartbeat; None when its row is gone."""
    with psycopg.connect(**_connect_kwargs()) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM now() - last_heartbeat) FROM procrastinate_workers"
            " WHERE id = %s",
            [worker_id],
        ).fetchone()
    return None if row is None else float(row[0])


class Command(BaseCommand):
    help = "Worker de tâches surveillé : arrêté s'il ne travaille plus, puis relancé."

    def add_arguments(self, parser):
        parser.add_argument("--queues", default="", help="files séparées par des virgules (toutes)")
        parser.add_argument("--name", default=None)
        parser.add_argument("--concurrency", type=int, default=1)

    def handle(self, *args, queues: str, name: str | None, concurrency: int, **options):
        app.perform_import_paths()
        options = {
            "queues": [q for q in queues.split(",") if q] or None,
            "name": name,
            "concurrency": concurrency,
            "wait": True,
        }
        started = time.monotonic()
        try:
            # As procrastinate's own command does: the worker needs its own connections
            # (LISTEN/NOTIFY, a pool), not Django's.
            if isinstance(app.connector, django_connector.DjangoConnector):
                with app.replace_connector(app.connector.get_worker_connector()):
                    code = asyncio.run(self._run(options))
            else:
                code = asyncio.run(self._run(options))
        except Exception:
            logger.exception("worker arrêté")
            code = 1
        if code and time.monotonic() - started < RESTART_DELAY * 2:
            time.sleep(RESTART_DELAY)  # a database still down: the supervisor retries calmly
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        # Straight out: a thread left blocked on a dead connection must not keep us alive.
        os._exit(code)

    async def _run(self, options: dict) -> int:
        async with app.open_async():
            worker = app._worker(**options)
            return await self._supervise(worker)

    async def _supervise(self, worker) -> int:
        run = asyncio.create_task(worker.run())
        watchdog = asyncio.create_task(self._watch(worker))
        done, _ = await asyncio.wait({run, watchdog}, return_when=asyncio.FIRST_COMPLETED)
        if run in done:
            watchdog.cancel()
            error = run.exception()
            if error is not None:
                logger.error("worker arrêté sur une erreur : %r", error)
                return 1
            logger.warning("worker arrêté")
            return 0
        logger.error("worker bloqué : %s ; arrêt pour relance", watchdog.result())
        return 1

    async def _watch(self, worker) -> str:
        unreachable_since = None
        while True:
            await asyncio.sleep(CHECK_EVERY)
            worker_id = worker.worker_id
            if worker_id is None:
                continue  # not registered yet, or stopping
            try:
                age = await asyncio.to_thread(_heartbeat_age, worker_id)
            except psycopg.Error as error:
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since >= SILENCE:
                    return f"base injoignable depuis {SILENCE} s ({error})"
                continue
            unreachable_since = None
            if age is None:
                return f"le worker {worker_id} n'est plus inscrit"
            if age >= SILENCE:
                return f"le worker {worker_id} ne bat plus depuis {age:.0f} s"
