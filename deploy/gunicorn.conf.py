"""gunicorn's settings for the production stack (`make serve`, deploy/systemd/sbee-web.service).

Environment: HOST and PORT (default 127.0.0.1:8000), WEB_WORKERS (default 2 per CPU + 1),
WEB_THREADS (default 1: sync workers), LOG_FORMAT=json for JSON access lines. WEB_DATABASE_URL:
the web processes' own way to the database (a pooler in transaction mode), the task workers
keeping DATABASE_URL (they LISTEN and hold advisory locks across statements)."""

import gc
import multiprocessing
import os

if os.environ.get("WEB_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["WEB_DATABASE_URL"]
    os.environ["DATABASE_POOLING"] = os.environ.get("WEB_DATABASE_POOLING", "transaction")

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
threads = int(os.environ.get("WEB_THREADS") or 1)
wsgi_app = "sbee_resiliation.wsgi:application"
# Loaded once, then forked: the workers share the code's memory and start at once.
preload_app = True
# A worker is replaced after about a thousand requests (memory that only grows), and killed if a
# request takes more than a minute (a PDF of a cash closing takes well under a second).
max_requests = 1000
max_requests_jitter = 100
timeout = 60
graceful_timeout = 30
# Behind the reverse proxy, on the same machine or the private network.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket is not used (supervisord or systemd manage the process); its default
# path in the home folder would clash between two servers on one machine.
control_socket_disable = True
# One line per request on stdout; the application's own log on stderr.
accesslog = "-"
errorlog = "-"
if os.environ.get("LOG_FORMAT") == "json":
    access_log_format = (
        '{"time": "%(t)s", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", '
        '"query": "%(q)s", "status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s, '
        '"user_agent": "%(a)s"}'
    )
else:
    access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'


def post_fork(server, worker):
    # No connection crosses a fork: each worker opens its own.
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()
    # A page allocates tens of thousands of short-lived objects: the cyclic garbage collector
    # ran several times per request at its default threshold (700). The code loaded before the
    # fork is frozen out of its sight, and it runs every 50 000 allocations instead.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
