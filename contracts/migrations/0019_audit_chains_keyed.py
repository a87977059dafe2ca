"""The audit chains sealed with a key kept outside the database (HMAC-SHA256 under AUDIT_KEY)
instead of a plain SHA-256 that anyone able to write in the database could recompute. Each chain
is first checked as it was sealed; a chain already broken stops the migration (re-sealing it
would hide the break). Then every event is sealed again, in its chain's order."""

import hashlib
import json

from django.db import migrations

CHAINS = {
    "contracts_terminationevent": (
        "terminationevent_append_only",
        "request_id, id",
        "SELECT id, request_id, actor_id, actor_role, step, action, from_state, to_state, at, "
        "data, prev_hash, hash FROM contracts_terminationevent ORDER BY request_id, id",
    ),
    "contracts_securityevent": (
        "securityevent_append_only",
        "id",
        "SELECT id, at, kind, actor_id, user_id, username, ip_address, data, prev_hash, hash "
        "FROM contracts_securityevent ORDER BY id",
    ),
}


# The position of `data` (jsonb) in each SELECT.
DATA = {"contracts_terminationevent": 9, "contracts_securityevent": 7}


def _canonical(previous: str, payload: list) -> str:
    return json.dumps([previous, *payload], ensure_ascii=False, sort_keys=True, default=str)


def _payload(table: str, row: tuple) -> tuple[object, list]:
    """(the chain the row belongs to, what its seal covers), as contracts.audit builds them
    from the models (Django's connection reads jsonb as text: decoded here as the model does)."""
    row = tuple(
        json.loads(v) if isinstance(v, str) and i == DATA[table] else v for i, v in enumerate(row)
    )
    if table == "contracts_terminationevent":
        _, request_id, actor_id, role, step, action, from_state, to_state, at, data = row[:10]
        payload = [request_id, actor_id, role, step, action, from_state, to_state]
        return request_id, [*payload, at.isoformat(), data]
    _, at, kind, actor_id, user_id, username, ip_address, data = row[:8]
    return None, [at.isoformat(), kind, actor_id, user_id, username, ip_address, data]


def reseal(apps, schema_editor):
    from contracts.audit import _digest  # the keyed seal, under settings.AUDIT_KEY

    connection = schema_editor.connection
    for table, (trigger, _order, select) in CHAINS.items():
        with connection.cursor() as cursor:
            cursor.execute(select)
            rows = cursor.fetchall()
        updates, chain, old_previous, new_previous = [], object(), "", ""
        for row in rows:
            key, payload = _payload(table, row)
            if key != chain:
                chain, old_previous, new_previous = key, "", ""
            prev_hash, seal = row[-2], row[-1]
            expected = hashlib.sha256(_canonical(old_previous, payload).encode()).hexdigest()
            if prev_hash != old_previous or seal != expected:
                raise RuntimeError(
                    f"{table} : chaîne déjà rompue à l'événement {row[0]} ; vérifiez-la "
                    "(manage.py verify_audit) avant de la sceller avec la clé."
                )
            new_seal = _digest(new_previous, payload)
            updates.append((new_previous, new_seal, row[0]))
            old_previous, new_previous = seal, new_seal
        if not updates:
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            cursor.executemany(
                f"UPDATE {table} SET prev_hash = %s, hash = %s WHERE id = %s", updates
            )
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


class Migration(migrations.Migration):
    dependencies = [("contracts", "0018_import_from_billing_system")]

    operations = [migrations.RunPython(reseal, migrations.RunPython.noop)]
