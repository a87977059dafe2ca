"""The read-only pages read from a hot standby of the primary, when there is one
(REPLICA_DATABASE_URL; `make serve REPLICA=1` starts one beside the local cluster).

Which pages: READ_ONLY_PAGES below, answered to GET (and the customer's page to its form too).
Everything else, and on those pages every write and everything read inside a transaction,
stays on the primary ("default").

A person's own writes are never hidden from them. A response to a request that wrote carries the
primary's WAL position after that write (`pg_current_wal_insert_lsn()`, in a signed cookie); as
long as the replica has not replayed up to it (`pg_last_wal_replay_lsn()` of that very replica),
that person's pages read on the primary; once it has, the cookie is dropped. No fixed delay: a
replica that catches up in 5 ms releases them after 5 ms, one that lags a minute keeps them on
the primary a minute.

A replica is skipped, silently, when it lags more than REPLICA_MAX_LAG_BYTES behind the primary,
when it does not answer (for REPLICA_RETRY_SECONDS), or when it is no longer a standby. A page
that fails on the replica midway is answered again from the primary.
"""

import contextlib
import contextvars
import logging
import threading
import time

from django.conf import settings
from django.core import signals
from django.db import DatabaseError, connections

logger = logging.getLogger("sbee.replica")

ALIAS = "replica"
COOKIE = "sbee_ecrit"
COOKIE_SALT = "sbee.replica.lsn"
# A person's writes are followed for at most this long (a replica further behind is skipped
# for everyone anyway).
COOKIE_MAX_AGE = 600

READ_ONLY_PAGES = frozenset(
    {
        "dashboard",  # the dashboards
        "request_list",  # the search of requests
        "request_export",  # their exports (CSV, XLSX)
        "cash_journal",  # the cash journal and its exports
        "cash_journal_export",
        "exceptions",  # the controller's lists
        "exception_list",
        "tracking",  # the customer's page
    }
)
# Pages that post a form and still only read (the customer's page: its throttle counts its tries
# on the primary, notifications.services.tracking_lookups_recent).
READ_ONLY_FORMS = frozenset({"tracking"})

_on_replica = contextvars.ContextVar("sbee_on_replica", default=False)


class _Replica:
    """What this process knows of the replica: its replay position, its lag, its failures."""

    def __init__(self):
        self.lock = threading.Lock()
        self.checked = float("-inf")
        self.replayed: int | None = None
        self.lag: int | None = None
        self.down_until = float("-inf")
        self.error = ""

    def refresh(self) -> None:
        try:
            with connections[ALIAS].cursor() as cursor:
                cursor.execute(
                    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() - '0/0'::pg_lsn"
                )
                standby, replayed = cursor.fetchone()
            with connections["default"].cursor() as cursor:
                cursor.execute(
                    "SELECT CASE WHEN pg_is_in_recovery() THEN NULL"
                    " ELSE pg_current_wal_lsn() - '0/0'::pg_lsn END"
                )
                (current,) = cursor.fetchone()
        except DatabaseError as error:
            self.fail(error)
            return
        self.checked = time.monotonic()
        if not standby or replayed is None:
            self.fail("n'est pas un réplica en attente (promu ?)")
            return
        self.replayed = int(replayed)
        self.lag = max(0, int(current) - self.replayed) if current is not None else None
        self.error = ""

    def fail(self, error) -> None:
        if time.monotonic() >= self.down_until:
            logger.warning("réplica écarté %s s : %s", settings.REPLICA_RETRY_SECONDS, error)
        self.down_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
        self.replayed = self.lag = None
        self.error = str(error)
        with contextlib.suppress(DatabaseError):
            connections[ALIAS].close()

    def usable(self, written: int | None) -> bool:
        """Whether a page may read on the replica, for someone whose last write is at
        `written` (None: no write followed)."""
        now = time.monotonic()
        if now < self.down_until:
            return False
        with self.lock:
            if now - self.checked >= settings.REPLICA_CHECK_SECONDS:
                self.refresh()
            caught_up = written is None or (self.replayed or 0) >= written
            if not caught_up and self.replayed is not None and now - self.checked > 0.05:
                self.refresh()  # a position 50 ms old may be just behind that write
                caught_up = (self.replayed or 0) >= written
        if self.replayed is None:
            return False
        if self.lag is None or self.lag > settings.REPLICA_MAX_LAG_BYTES:
            return False
        return caught_up


state = _Replica()


def configured() -> bool:
    return ALIAS in settings.DATABASES


def reads_on_replica() -> bool:
    return _on_replica.get()


class ReplicaRouter:
    """Reads on the replica only while a read-only page is being answered, outside any
    transaction of the primary; writes, migrations and the rest on the primary."""

    def db_for_read(self, model, **hints):
        if _on_replica.get() and not connections["default"].in_atomic_block:
            return ALIAS
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same rows, wherever they were read

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"


def _written(request) -> int | None:
    try:
        value = request.get_signed_cookie(
            COOKIE, default=None, salt=COOKIE_SALT, max_age=COOKIE_MAX_AGE
        )
        return int(value) if value is not None else None
    except ValueError:
        return None


_WRITE_FREE = ("SELECT", "SHOW", "RELEASE", "ROLLBACK", "COMMIT", "BEGIN", "SAVEPOINT")


class _WriteWatch:
    """Notes whether a statement sent to the primary may have written."""

    def __init__(self):
        self.wrote = False

    def __call__(self, execute, sql, params, many, context):
        if not self.wrote:
            head = sql.lstrip()[:10].upper()
            if not head.startswith(_WRITE_FREE) or "FOR UPDATE" in sql or "procrastinate" in sql:
                self.wrote = True
        return execute(sql, params, many, context)


def _reset(**kwargs):
    _on_replica.set(False)


# A streamed export reads while its body is sent, after the middleware has returned: the page
# reads on the replica until its response is closed.
signals.request_finished.connect(_reset, dispatch_uid="sbee_replica_reset")


class FollowWritesMiddleware:
    """Follows each person's writes: a response to a request that wrote carries the primary's
    WAL position after it; a page read on a replica that had replayed it drops it. Placed
    before the sessions, so that their writes count too."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.enabled = configured()

    def __call__(self, request):
        if not self.enabled:
            return self.get_response(request)
        _on_replica.set(False)
        request.sbee_written = _written(request)
        watch = _WriteWatch()
        with connections["default"].execute_wrapper(watch):
            response = self.get_response(request)
        if watch.wrote or request.method not in ("GET", "HEAD", "OPTIONS"):
            self._follow(request, response)
        elif request.sbee_written is not None and getattr(request, "sbee_caught_up", False):
            response.delete_cookie(COOKIE, samesite="Lax")
        return response

    @staticmethod
    def _follow(request, response) -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
                (position,) = cursor.fetchone()
        except DatabaseError:
            return
        written = max(int(position), request.sbee_written or 0)
        response.set_signed_cookie(
            COOKIE,
            str(written),
            salt=COOKIE_SALT,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )


class ReplicaMiddleware:
    """Sends a read-only page's reads to the replica when it may. Placed last, so that the
    person and their session are read (on the primary) before: only the view reads there, and
    a view that failed on a replica gone midway is answered again from the primary."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.enabled = configured()

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not self.enabled:
            return None
        name = request.resolver_match.url_name if request.resolver_match else None
        if name not in READ_ONLY_PAGES:
            return None
        if request.method not in ("GET", "HEAD") and name not in READ_ONLY_FORMS:
            return None
        if state.usable(getattr(request, "sbee_written", None)):
            request.sbee_caught_up = True
            request.sbee_view = (view_func, view_args, view_kwargs)
            _on_replica.set(True)
        return None

    def process_exception(self, request, exception):
        if not (_on_replica.get() and isinstance(exception, DatabaseError)):
            return None
        state.refresh()
        if state.replayed is not None:
            return None  # the replica answers: the error is the page's own
        _on_replica.set(False)
        view_func, view_args, view_kwargs = request.sbee_view
        return view_func(request, *view_args, **view_kwargs)


def status() -> dict:
    """For the health page: where the replica stands, as seen by this process."""
    if not configured():
        return {"configured": False}
    state.refresh()
    return {
        "configured": True,
        "in_use": state.replayed is not None
        and state.lag is not None
        and state.lag <= settings.REPLICA_MAX_LAG_BYTES,
        "lag_bytes": state.lag,
        "max_lag_bytes": settings.REPLICA_MAX_LAG_BYTES,
        "error": state.error or None,
    }
