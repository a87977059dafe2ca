"""Sending the customers' messages: one job per message, tried again with a growing wait for
about a day (SMS_MAX_ATTEMPTS: 3, 9, 27... seconds), never twice once the gateway took it. Any
error is tried again: a failed send (recorded, then SendFailed), the database gone meanwhile."""

from django.conf import settings
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from notifications.services import deliver


@app.task(
    name="notifications.send",
    queue="notifications",
    pass_context=True,
    retry=RetryStrategy(
        max_attempts=settings.SMS_MAX_ATTEMPTS,
        exponential_wait=settings.SMS_RETRY_BASE,
    ),
)
def send_notification(context, notification_id: int) -> None:
    attempts = context.job.attempts  # the attempts made before this one
    deliver(notification_id, last_attempt=attempts + 1 >= settings.SMS_MAX_ATTEMPTS)
