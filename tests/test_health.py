"""The health page, for the reverse proxy and the monitoring (no login, counts only)."""

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from billing.enums import DocumentKind
from billing.models import Document

pytestmark = pytest.mark.django_db


def beat(seconds_ago: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat)"
            " VALUES (now() - %s * interval '1 s')",
            [seconds_ago],
        )


def test_without_a_live_worker_the_page_says_degraded(client):
    beat(300)  # a worker that died five minutes ago
    response = client.get(reverse("health"))
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"], body["workers"]["alive"]) == ("degraded", "ok", 0)


def test_with_a_live_worker_and_nothing_waiting_all_is_well(client):
    beat(5)
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["documents"] == {
        "pending": 0,
        "oldest_pending_seconds": 0,
        "to_regenerate": 0,
    }
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_page_tells_the_task_queue_depth_and_that_no_replica_is_set(client):
    beat(5)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, scheduled_at)"
            " VALUES ('default', 'x', '{}', 'todo', now() - interval '90 s'),"
            " ('default', 'x', '{}', 'todo', now() + interval '1 h'),"
            " ('default', 'x', '{}', 'doing', now())"
        )
    body = client.get(reverse("health")).json()
    assert body["queue"]["todo"] == 2
    assert body["queue"]["doing"] == 1
    assert body["queue"]["oldest_todo_seconds"] >= 90
    assert body["replica"] == {"configured": False}
    assert "pooler" not in body


def test_a_document_waiting_too_long_makes_it_degraded(client):
    beat(5)
    Document.objects.create(
        kind=DocumentKind.CASH_CLOSING,
        number="AC-TEST-1",
        created_at=timezone.now() - dt.timedelta(minutes=20),
    )
    response = client.get(reverse("health"))
    assert response.status_code == 503
    assert response.json()["documents"]["pending"] == 1
    assert response.json()["documents"]["oldest_pending_seconds"] >= 20 * 60


def test_a_refused_page_is_logged_on_one_line_in_the_demo_too():
    """Under make run (DEBUG on) as under make serve, django.request's records reach only the
    handlers that drop a 4xx's traceback."""
    import logging

    from sbee_resiliation.middleware import ClientErrorsOneLine

    logger, handlers = logging.getLogger("django.request"), []
    while logger is not None:
        handlers += logger.handlers
        logger = logger.parent if logger.propagate else None
    ours = [h for h in handlers if not type(h).__module__.startswith("_pytest")]  # not pytest's
    assert ours
    for handler in ours:
        assert any(isinstance(f, ClientErrorsOneLine) for f in handler.filters), handler
