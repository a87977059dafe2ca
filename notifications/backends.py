"""Where the messages go: a backend chosen by SMS_BACKEND. The console (development), files
(tests and demo: one JSON file per message, which the tests and the admin read), and Infobip's
SMS API through its maintained SDK (infobip-api-python-client), an SMS gateway that delivers to
Benin's operators (MTN, Moov) and reports each delivery to a callback."""

import functools
import json
import logging
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("sbee.sms")


class GatewayError(Exception):
    """The gateway did not take the message (down, refused, timed out): try again later."""


class ConsoleBackend:
    def send(self, notification) -> str:
        logger.info("SMS to %s: %s", notification.phone, notification.text)
        return f"console-{notification.pk}"


class FileBackend:
    """One file per message under SMS_FILE_DIR, named by its number: what the customer would
    have received."""

    @staticmethod
    def path(notification) -> Path:
        return Path(settings.SMS_FILE_DIR) / f"{notification.pk:09d}-{notification.kind}.json"

    @classmethod
    def received(cls, notification) -> dict | None:
        """The message as the phone received it, or None when it was not sent here."""
        try:
            return json.loads(cls.path(notification).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def send(self, notification) -> str:
        folder = Path(settings.SMS_FILE_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        content = {
            "to": notification.phone,
            "kind": notification.kind,
            "request": notification.request_id,
            "text": notification.text,
            "key": notification.key,
        }
        path = self.path(notification)
        path.write_text(json.dumps(content, ensure_ascii=False, indent=1), encoding="utf-8")
        return f"file-{notification.pk}"


class InfobipBackend:
    """POST /sms/3/messages on INFOBIP_BASE_URL with the API key; the message's own key as
    Infobip's messageId (a resend after a crash is the same message to the gateway); delivery
    reports to our authenticated callback."""

    def __init__(self):
        from infobip_api_client.api.sms_api import SmsApi
        from infobip_api_client.api_client import ApiClient, Configuration

        configuration = Configuration(
            host=settings.INFOBIP_BASE_URL, api_key=settings.INFOBIP_API_KEY
        )
        self.api = SmsApi(ApiClient(configuration))

    def send(self, notification) -> str:
        from infobip_api_client.exceptions import ApiException
        from infobip_api_client.models import (
            SmsDestination,
            SmsMessage,
            SmsMessageContent,
            SmsMessageDeliveryReporting,
            SmsRequest,
            SmsTextContent,
            SmsWebhooks,
        )

        message = SmsMessage(
            sender=settings.SMS_SENDER,
            destinations=[
                SmsDestination(to=notification.phone.lstrip("+"), message_id=notification.key)
            ],
            content=SmsMessageContent(SmsTextContent(text=notification.text)),
            webhooks=SmsWebhooks(
                delivery=SmsMessageDeliveryReporting(url=settings.SMS_CALLBACK_URL),
                callback_data=str(notification.pk),
            ),
        )
        try:
            response = self.api.send_sms_messages(
                SmsRequest(messages=[message]), _request_timeout=(5, 15)
            )
        except ApiException as error:
            raise GatewayError(f"HTTP {error.status}: {error.reason}") from error
        except Exception as error:  # connection refused, timeout, unreadable answer
            raise GatewayError(f"{type(error).__name__}: {error}") from error
        sent = response.messages[0]
        group = str(getattr(sent.status, "group_name", "") or "")
        if group.upper().endswith("REJECTED"):
            raise GatewayError(f"refusé : {sent.status.description or group}")
        return sent.message_id or notification.key


def backend():
    """The backend in use, made once per process for its settings (the SDK's client keeps its
    connections to the gateway open between messages)."""
    return _backend(settings.SMS_BACKEND, settings.INFOBIP_BASE_URL, settings.INFOBIP_API_KEY)


@functools.cache
def _backend(path: str, *settings_it_reads):
    return import_string(path)()
