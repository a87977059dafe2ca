"""The health page, for the reverse proxy and the monitoring: the database answers, a task
worker has beaten recently, and no document has waited too long to be rendered; beside it, what
to watch as the load grows (docs/scale.md): the task queue's depth, the replica's lag, the
pooler's saturation.

GET /sante/ answers 200 when all is well and 503 otherwise, in JSON, without logging in; it
shows counts only, nothing about a customer. A replica lagging or down, or a pooler with clients
waiting, do not make it 503: the pages still answer (from the primary, or a little later)."""

import psycopg
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from billing.models import Document
from sbee_resiliation import replica

# A worker beats every 10 s; a document waits a few seconds when the workers are idle, and is
# stalled past Document.STALLED_AFTER (its issuers may then regenerate it).
WORKER_SILENCE_SECONDS = 60


def _status() -> tuple[bool, dict]:
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE last_heartbeat > now() - make_interval(secs => %s)),"
                " max(last_heartbeat) FROM procrastinate_workers",
                [WORKER_SILENCE_SECONDS],
            )
            workers, last_beat = cursor.fetchone()
            cursor.execute(
                "SELECT count(*) FILTER (WHERE status = 'pending'),"
                " min(created_at) FILTER (WHERE status = 'pending'),"
                " count(*) FILTER (WHERE status = 'to_regenerate')"
                " FROM billing_document WHERE status <> 'ready'"
            )
            pending, oldest, failed = cursor.fetchone()
            cursor.execute(
                "SELECT count(*) FILTER (WHERE status = 'todo'),"
                " count(*) FILTER (WHERE status = 'doing'),"
                " extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE status = 'todo'"
                " AND coalesce(scheduled_at, now()) <= now()))"
                " FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
            )
            todo, doing, queued_for = cursor.fetchone()
    except Exception as error:  # the database is what is being checked
        return False, {"database": f"injoignable : {type(error).__name__}"}
    now = timezone.now()
    waited = int((now - oldest).total_seconds()) if oldest else 0
    checks["database"] = "ok"
    checks["workers"] = {"alive": workers, "last_heartbeat": last_beat and last_beat.isoformat()}
    checks["documents"] = {
        "pending": pending,
        "oldest_pending_seconds": waited,
        "to_regenerate": failed,
    }
    checks["queue"] = {"todo": todo, "doing": doing, "oldest_todo_seconds": int(queued_for or 0)}
    checks["replica"] = replica.status()
    if settings.DATABASE_POOLING:
        checks["pooler"] = _pooler()
    healthy = workers > 0 and waited < Document.STALLED_AFTER.total_seconds()
    return healthy, checks


def _pooler() -> dict:
    """PgBouncer's own view of the application's pool (SHOW POOLS on its admin database):
    clients served and waiting, the longest wait, server connections busy and idle."""
    params = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold", "options"):
        params.pop(name, None)
    params.update(dbname="pgbouncer", connect_timeout=2, autocommit=True)
    try:
        with psycopg.connect(**params) as conn, conn.cursor() as cursor:
            cursor.execute("SHOW POOLS")
            names = [c.name for c in cursor.description]
            pools = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except psycopg.Error as error:
        return {"error": f"injoignable : {type(error).__name__}"}
    database = connection.settings_dict["NAME"]
    mine = [p for p in pools if p["database"] == database]
    waits = (p["maxwait"] * 1000 + p["maxwait_us"] // 1000 for p in mine)
    return {
        "clients_active": sum(p["cl_active"] for p in mine),
        "clients_waiting": sum(p["cl_waiting"] for p in mine),
        "max_wait_ms": max(waits, default=0),
        "servers_active": sum(p["sv_active"] for p in mine),
        "servers_idle": sum(p["sv_idle"] for p in mine),
    }


@login_not_required
@never_cache
def health(request):
    healthy, checks = _status()
    body = {"status": "ok" if healthy else "degraded", **checks}
    return JsonResponse(body, status=200 if healthy else 503, json_dumps_params={"indent": 1})
