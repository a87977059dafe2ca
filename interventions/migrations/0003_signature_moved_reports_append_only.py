from django.db import migrations


def move_signatures(apps, schema_editor):
    """The requester's signature was a box on the request; it is now recorded on the step-3
    order, at the time the order was issued, by the agent who issued it."""
    InterventionOrder = apps.get_model("interventions", "InterventionOrder")
    TerminationEvent = apps.get_model("contracts", "TerminationEvent")
    for order in InterventionOrder.objects.filter(
        kind__in=["interruption_reading", "reading"], request__requester_signed=True
    ):
        event = (
            TerminationEvent.objects.filter(request_id=order.request_id, action="issue_order")
            .order_by("at")
            .first()
        )
        if event is None or order.issued_by_id is None:
            continue
        order.requester_signed_at = event.at
        order.requester_signature_recorded_by_id = order.issued_by_id
        order.save(update_fields=["requester_signed_at", "requester_signature_recorded_by"])


APPEND_ONLY = """
-- What was reported is never changed: a correction is a new report. Only the signature and
-- the sending back for correction are recorded on a report, once each.
CREATE FUNCTION sbee_report_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'report %: DELETE refused', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.order_id, NEW.index_read, NEW.read_on, NEW.cut_done, NEW.cut_index,
        NEW.seal_number, NEW.rollover_confirmed, NEW.high_consumption_confirmed, NEW.remarks,
        NEW.remarks_other, NEW.safety_steps_confirmed, NEW.entered_by_id, NEW.entered_at)
       IS DISTINCT FROM
       (OLD.order_id, OLD.index_read, OLD.read_on, OLD.cut_done, OLD.cut_index,
        OLD.seal_number, OLD.rollover_confirmed, OLD.high_consumption_confirmed, OLD.remarks,
        OLD.remarks_other, OLD.safety_steps_confirmed, OLD.entered_by_id, OLD.entered_at)
       OR (OLD.signed_at IS NOT NULL
           AND (NEW.signed_at, NEW.signed_by_id) IS DISTINCT FROM (OLD.signed_at, OLD.signed_by_id))
       OR (OLD.superseded_at IS NOT NULL
           AND (NEW.superseded_at, NEW.superseded_by_id, NEW.superseded_reason)
               IS DISTINCT FROM (OLD.superseded_at, OLD.superseded_by_id, OLD.superseded_reason))
    THEN
        RAISE EXCEPTION 'report %: what was reported cannot change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER interventionreport_kept
    BEFORE UPDATE OR DELETE ON interventions_interventionreport
    FOR EACH ROW EXECUTE FUNCTION sbee_report_kept();

-- A failed visit is kept as recorded; only its new date is added, once.
CREATE FUNCTION sbee_visit_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'visit %: DELETE refused', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
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
        RAISE EXCEPTION 'visit %: what was recorded cannot change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER visitattempt_kept
    BEFORE UPDATE OR DELETE ON interventions_visitattempt
    FOR EACH ROW EXECUTE FUNCTION sbee_visit_kept();
"""

REVERSE = """
DROP TRIGGER visitattempt_kept ON interventions_visitattempt;
DROP FUNCTION sbee_visit_kept();
DROP TRIGGER interventionreport_kept ON interventions_interventionreport;
DROP FUNCTION sbee_report_kept();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0005_request_state_since"),
        ("interventions", "0002_visits_reports_kept_signature"),
    ]

    operations = [
        migrations.RunPython(move_signatures, migrations.RunPython.noop),
        migrations.RunSQL(APPEND_ONLY, REVERSE),
    ]
