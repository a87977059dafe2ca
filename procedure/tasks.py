"""The procedure's background work, run by the task worker (`manage.py run_worker`)."""

from procrastinate.contrib.django import app

from contracts.audit import anchor_write
from procedure.deadlines import refresh_all_deadlines
from procedure.queues import refresh_all_queues
from procedure.services import issue_due_orders, send_reminders, transfer_overdue_balances


# Every morning at 06:00 UTC (07:00 in Benin), before the crews collect their orders: first
# the balances past their délai go to the apurement (their requests move on to step 8), then
# step 8: "A la date fixée pour la résiliation, Gdo édite automatiquement l'ordre de dépose."
@app.periodic(cron="0 6 * * *")
@app.task(name="interventions.issue_due_orders", queueing_lock="issue_due_orders")
def issue_due_orders_every_morning(timestamp: int) -> int:
    transfer_overdue_balances()
    return issue_due_orders()


# Every night at 23:05 UTC (00:05 in Benin): the stored deadlines from the délais in force on the
# new day (a new délai may take effect today); what moved otherwise would be a drift, logged, as
# would any request whose queue task had drifted from the rules.
@app.periodic(cron="5 23 * * *")
@app.task(name="procedure.refresh_deadlines", queueing_lock="refresh_deadlines")
def refresh_deadlines_every_night(timestamp: int) -> int:
    return refresh_all_deadlines() + refresh_all_queues()


# Every evening at 19:00 UTC, the audit chains' heads go out of the database: to the log and the
# anchors' file, where `manage.py verify_audit --ancres` finds them (a cut tail shows then).
@app.periodic(cron="0 19 * * *")
@app.task(name="contracts.anchor_audit", queueing_lock="anchor_audit")
def anchor_audit_every_evening(timestamp: int) -> str:
    return anchor_write().line()


# Every evening at 17:00 UTC (18:00 in Benin, before the quiet hours): the reminders to the
# customers (a visit tomorrow, a balance or a refund whose délai ends in a week).
@app.periodic(cron="0 17 * * *")
@app.task(name="notifications.send_reminders", queueing_lock="send_reminders")
def send_reminders_every_evening(timestamp: int) -> int:
    return send_reminders()


# A job left "doing" by a worker that died (killed, its machine restarted, its database gone) is
# run again: its worker has not beaten for 30 s. Rendering a document twice is harmless (the
# second run finds it stored); the morning job locks what it issues.
@app.periodic(cron="* * * * *")
@app.task(name="procrastinate.retry_stalled_jobs", queueing_lock="retry_stalled_jobs")
async def retry_stalled_jobs(timestamp: int) -> int:
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=30)
    for job in stalled:
        await app.job_manager.retry_job(job)
    return len(stalled)
