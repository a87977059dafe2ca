"""Sending the customers' messages: one job per message, tried again with a growing wait for
about a day (SMS_MAX_ATTEMPTS: 3, 9, 27... seconds), never twice once the gateway took it. Any
error is tried again: a failed send (recorded, then SendFailed), the database gone meanwhile."""

from django.conf import settings
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from notifications.services import SendFailed, deliver


@app.task(
    name="notifications.send",
    queue="notifications",
    pass_context=True,
    retry=RetryStrategy(
        max_attempts=settings.SMS_MAX_ATTEMPTS,
        exponential_wait=settings.SMS_RETRY_BASE,
    ),
)
def send_notifications(context, notification_ids: list[int]) -> None:
    """The messages one step wrote, each handed over once; when any failed (and may be tried
    again), the job fails after the others went, and its next run sends only what is left."""
    last_attempt = context.job.attempts + 1 >= settings.SMS_MAX_ATTEMPTS
    failed = []
    for notification_id in notification_ids:
        try:
            deliver(notification_id, last_attempt=last_attempt)
        except SendFailed as error:
            failed.append(str(error))
    if failed:
        raise SendFailed(f"{len(failed)} SMS non remis : {failed[0]}")
