"""The procedure's background work, run by the procrastinate worker
(`manage.py procrastinate worker`); registered through PROCRASTINATE_IMPORT_PATHS."""

from procrastinate.contrib.django import app

from contracts.procedure.services import issue_due_orders


# Step 8: "A la date fixée pour la résiliation, Gdo édite automatiquement l'ordre de dépose."
# Every morning at 06:00 UTC (07:00 in Benin), before the crews collect their orders.
@app.periodic(cron="0 6 * * *")
@app.task(name="interventions.issue_due_orders", queueing_lock="issue_due_orders")
def issue_due_orders_every_morning(timestamp: int) -> int:
    return issue_due_orders()
