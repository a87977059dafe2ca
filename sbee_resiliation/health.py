"""The health page, for the reverse proxy and the monitoring: the database answers, a task
worker has beaten recently, and no document has waited too long to be rendered.

GET /sante/ answers 200 when all is well and 503 otherwise, in JSON, without logging in; it
shows counts only, nothing about a customer."""

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from billing.models import Document

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
    healthy = workers > 0 and waited < Document.STALLED_AFTER.total_seconds()
    return healthy, checks


@login_not_required
@never_cache
def health(request):
    healthy, checks = _status()
    body = {"status": "ok" if healthy else "degraded", **checks}
    return JsonResponse(body, status=200 if healthy else 503, json_dumps_params={"indent": 1})
