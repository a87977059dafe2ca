"""The database's own guard on what is never changed in place (DESIGN §11), declared on the
models with django-pgtrigger: a table gets its protection in one line beside its fields
(`triggers = append_only()` in its Meta) and `makemigrations` writes the migration.

Two differences with pgtrigger's own triggers, both on purpose:
- Its installation SQL lets any session switch a trigger off (`SET pgtrigger.ignore = ...`):
  the application's role could then rewrite a settlement. Ours is installed without that
  escape hatch (`GuardSql`); only the owner of the tables can disable a trigger.
- The refusals keep the wording the logs and the tests know ("… refused", "… cannot change")
  and the SQLSTATE of a broken rule (integrity_constraint_violation).

A maintenance session (`SET sbee.maintenance = on`: the test suite's flush, a restore) may
TRUNCATE; nothing may UPDATE or DELETE a kept row.
"""

import pgtrigger
from pgtrigger import compiler

REFUSED = "USING ERRCODE = 'integrity_constraint_violation'"


class GuardSql(compiler.UpsertTriggerSql):
    """pgtrigger's installation template (v1) without its per-session `pgtrigger.ignore` check."""

    def get_template(self) -> str:
        return """
            CREATE OR REPLACE FUNCTION {pgid}()
            RETURNS TRIGGER AS $$
                {declare}
                BEGIN
                    {func}
                END;
            $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS {pgid} ON {table};
            CREATE {constraint} TRIGGER {pgid}
                {when} {operation} ON {table}
                {timing}
                {referencing}
                FOR EACH {level} {condition}
                EXECUTE PROCEDURE {execute};
            COMMENT ON TRIGGER {pgid} ON {table} IS '{hash}';
        """


class Guard(pgtrigger.Trigger):
    """A trigger of ours: before the change, row by row, unless told otherwise."""

    when = pgtrigger.Before

    def compile(self, model) -> compiler.Trigger:
        compiled = super().compile(model)
        return compiler.Trigger(name=compiled.name, sql=GuardSql(**compiled.sql.kwargs))


class AppendOnly(Guard):
    """Rows are added, never changed nor deleted."""

    operation = pgtrigger.Update | pgtrigger.Delete
    func = f"RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP {REFUSED};"


class NoTruncate(Guard):
    """Nobody empties the table, the owner included, outside a maintenance session."""

    level = pgtrigger.Statement
    operation = pgtrigger.Truncate
    func = f"""
        IF current_setting('sbee.maintenance', true) IS DISTINCT FROM 'on' THEN
            RAISE EXCEPTION 'table % is append-only: TRUNCATE refused', TG_TABLE_NAME {REFUSED};
        END IF;
        RETURN NULL;
    """


def append_only() -> list[pgtrigger.Trigger]:
    """A record kept as written: no UPDATE, no DELETE, no TRUNCATE."""
    return [AppendOnly(name="append_only"), NoTruncate(name="no_truncate")]


def kept(func: str, *, operation=None, declare=None) -> list[pgtrigger.Trigger]:
    """A record whose rule is more than append-only (what may still change, and when): `func`
    decides, row by row; TRUNCATE is refused as for an append-only table."""
    return [
        Guard(
            name="kept",
            operation=operation or (pgtrigger.Update | pgtrigger.Delete),
            func=func,
            declare=declare,
        ),
        NoTruncate(name="no_truncate"),
    ]


# --- The rules of this app's own tables ----------------------------------------------------

# A request's state moves only with the event that explains it, written in the same
# transaction (checked at commit: the event is written after the transition).
STATE_HAS_EVENT = f"""
    SELECT state INTO current_state FROM contracts_terminationrequest WHERE id = NEW.id;
    IF NOT EXISTS (
        SELECT 1 FROM contracts_terminationevent e
         WHERE e.request_id = NEW.id AND e.to_state = current_state
           AND e.id = (SELECT max(id) FROM contracts_terminationevent WHERE request_id = NEW.id)
    ) THEN
        RAISE EXCEPTION 'request %: state % without the event that explains it', NEW.id,
            current_state {REFUSED};
    END IF;
    RETURN NULL;
"""


def state_has_event() -> Guard:
    return Guard(
        name="state_has_event",
        when=pgtrigger.After,
        operation=pgtrigger.UpdateOf("state"),
        timing=pgtrigger.Deferred,
        condition=pgtrigger.Condition("OLD.state IS DISTINCT FROM NEW.state"),
        func=STATE_HAS_EVENT,
        declare=[("current_state", "text")],
    )


# A number once given is never given again: a counter only grows.
COUNTER_ONLY_GROWS = f"""
    IF TG_OP = 'DELETE' OR NEW.last < OLD.last OR NEW.prefix <> OLD.prefix
       OR NEW.agency_id <> OLD.agency_id OR NEW.year <> OLD.year THEN
        RAISE EXCEPTION 'numbering %-%-%: a counter only grows (% refused)',
            OLD.prefix, OLD.agency_id, OLD.year, TG_OP {REFUSED};
    END IF;
    RETURN NEW;
"""


def counter_only_grows() -> Guard:
    return Guard(
        name="only_grows", operation=pgtrigger.Update | pgtrigger.Delete, func=COUNTER_ONLY_GROWS
    )
