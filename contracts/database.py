"""The database's two roles (DESIGN §11): the owner, which runs the migrations and owns every
table, and the application's role, which owns nothing, may read and write rows, and may not
TRUNCATE. After every migration, the application's role gets its rights on whatever exists."""

import functools

from django.conf import settings
from django.db import connections, transaction
from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def grant_application_role(sender, using="default", **kwargs):
    """Once per migration run (post_migrate is sent once per app, after all migrations)."""
    if sender.label != "contracts":
        return
    role = settings.DATABASE_APP_ROLE
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT current_user, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)", [role]
        )
        current, exists = cursor.fetchone()
        if not exists or current == role:
            return
        quoted = connections[using].ops.quote_name(role)
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}"
        )
        cursor.execute(
            f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {quoted}"
        )
        # UPDATE too: loading fixtures sets a sequence past the rows it loaded (setval).
        cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {quoted}")


def in_step_transaction(func):
    """For a write that relies on its caller's transaction and locks (the step's, which the
    procedure's service opens after locking the request): called outside one, it fails loudly
    rather than write half a step. A test's own wrapping transaction does not count."""

    @functools.wraps(func)
    def within(*args, **kwargs):
        blocks = transaction.get_connection().atomic_blocks
        if not any(not block._from_testcase for block in blocks):
            raise RuntimeError(
                f"{func.__module__}.{func.__qualname__} runs inside the step's transaction: "
                "call it from the procedure's service, which holds the request's lock."
            )
        return func(*args, **kwargs)

    return within
