"""The rules the database keeps on the field's records (DESIGN §11), declared on the models
(contracts/triggers.py says how): what was reported or recorded never changes; a signature,
a supersession or a new date is added once."""

from contracts.triggers import REFUSED

REPORT_KEPT = f"""
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'report %: DELETE refused', OLD.id {REFUSED};
    END IF;
    IF (NEW.order_id, NEW.index_read, NEW.read_on, NEW.cut_done, NEW.cut_index,
        NEW.seal_number, NEW.rollover_confirmed, NEW.high_consumption_confirmed, NEW.remarks,
        NEW.remarks_other, NEW.safety_steps_confirmed, NEW.entered_by_id, NEW.entered_at,
        NEW.agent_id)
       IS DISTINCT FROM
       (OLD.order_id, OLD.index_read, OLD.read_on, OLD.cut_done, OLD.cut_index,
        OLD.seal_number, OLD.rollover_confirmed, OLD.high_consumption_confirmed, OLD.remarks,
        OLD.remarks_other, OLD.safety_steps_confirmed, OLD.entered_by_id, OLD.entered_at,
        OLD.agent_id)
       OR (OLD.agent_signed_at IS NOT NULL
           AND (NEW.agent_signed_at, NEW.agent_signed_via)
               IS DISTINCT FROM (OLD.agent_signed_at, OLD.agent_signed_via))
       OR (OLD.signed_at IS NOT NULL
           AND (NEW.signed_at, NEW.signed_by_id) IS DISTINCT FROM (OLD.signed_at, OLD.signed_by_id))
       OR (OLD.superseded_at IS NOT NULL
           AND (NEW.superseded_at, NEW.superseded_by_id, NEW.superseded_reason)
               IS DISTINCT FROM (OLD.superseded_at, OLD.superseded_by_id, OLD.superseded_reason))
    THEN
        RAISE EXCEPTION 'report %: what was reported cannot change', OLD.id {REFUSED};
    END IF;
    RETURN NEW;
"""

VISIT_KEPT = f"""
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'visit %: DELETE refused', OLD.id {REFUSED};
    END IF;
    IF (NEW.order_id, NEW.visited_on, NEW.reason, NEW.reason_detail, NEW.entered_by_id,
        NEW.entered_at)
       IS DISTINCT FROM
       (OLD.order_id, OLD.visited_on, OLD.reason, OLD.reason_detail, OLD.entered_by_id,
        OLD.entered_at)
       OR (OLD.rescheduled_to IS NOT NULL
           AND (NEW.rescheduled_to, NEW.rescheduled_by_id, NEW.rescheduled_at)
               IS DISTINCT FROM (OLD.rescheduled_to, OLD.rescheduled_by_id, OLD.rescheduled_at))
    THEN
        RAISE EXCEPTION 'visit %: what was recorded cannot change', OLD.id {REFUSED};
    END IF;
    RETURN NEW;
"""
