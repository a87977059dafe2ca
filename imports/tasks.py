"""The import started from the admin's page, run by a task worker (registered through
PROCRASTINATE_IMPORT_PATHS): the page shows its progress, then its report."""

import time
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection
from django.utils import timezone
from procrastinate.contrib.django import app

from handoff.models import ImportRun
from imports.importer import ContractImport, ImportRefused, Progress, Source


def sources(token: str) -> list[Source]:
    folder = Path(settings.IMPORT_DIR) / token
    return [Source(p) for p in sorted(folder.iterdir()) if p.is_file()]


class RunProgress(Progress):
    """The progress written to the run's row on a connection of its own, committed at once:
    the import's transaction holds everything else until its end."""

    EVERY = 0.5  # seconds between two writes

    def __init__(self, run_id: int):
        super().__init__(False)
        self.run_id = run_id
        self.done = 0
        self.written = 0.0
        params = connection.get_connection_params()
        keep = ("host", "port", "user", "dbname", "password", "passfile", "sslmode")
        self.db = psycopg.connect(**{k: v for k, v in params.items() if k in keep}, autocommit=True)

    def _write(self, **fields):
        columns = ", ".join(f"{name} = %({name})s" for name in fields)
        self.db.execute(
            f"UPDATE handoff_importrun SET {columns} WHERE id = %(id)s",
            {**fields, "id": self.run_id},
        )

    def start(self, what: str, total: int):
        self.done = 0
        self._write(step=what, total=total, done=0)

    def advance(self, n: int):
        self.done += n
        if time.monotonic() - self.written >= self.EVERY:
            self.written = time.monotonic()
            self._write(done=self.done)

    def close(self):
        pass

    def finish(self):
        self.db.close()


@app.task(name="handoff.import_run", queue="imports")
def import_run(run_id: int) -> str:
    run = ImportRun.objects.select_related("requested_by").get(pk=run_id)
    ImportRun.objects.filter(pk=run_id).update(
        status=ImportRun.Status.RUNNING, started_at=timezone.now()
    )
    progress = RunProgress(run_id)
    try:
        report = ContractImport(
            sources(run.token), commit=run.commit, actor=run.requested_by, progress=progress
        ).run()
    except ImportRefused as refused:
        status, fields = ImportRun.Status.REFUSED, {"refused": str(refused)}
    except Exception as error:
        ImportRun.objects.filter(pk=run_id).update(
            status=ImportRun.Status.FAILED,
            refused=f"L'import a échoué ({type(error).__name__}) : rien n'a été écrit.",
            finished_at=timezone.now(),
        )
        raise
    else:
        status, fields = ImportRun.Status.DONE, {"report": report.as_json()}
    finally:
        progress.finish()
    ImportRun.objects.filter(pk=run_id).update(status=status, finished_at=timezone.now(), **fields)
    return status
