"""The procedure's background work, run by the procrastinate worker
(`manage.py procrastinate worker`); registered through PROCRASTINATE_IMPORT_PATHS."""

from procrastinate.contrib.django import app

from contracts.procedure.services import issue_due_orders, transfer_overdue_balances


# Every morning at 06:00 UTC (07:00 in Benin), before the crews collect their orders: first
# the balances past their délai go to the apurement (their requests move on to step 8), then
# step 8: "A la date fixée pour la résiliation, Gdo édite automatiquement l'ordre de dépose."
@app.periodic(cron="0 6 * * *")
@app.task(name="interventions.issue_due_orders", queueing_lock="issue_due_orders")
def issue_due_orders_every_morning(timestamp: int) -> int:
    transfer_overdue_balances()
    return issue_due_orders()
