"""Logins, failed logins, lockouts and logouts become security events."""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from contracts.audit import security_event
from contracts.enums import SecurityEventKind


@receiver(user_logged_in)
def logged_in(sender, request, user, **kwargs):
    security_event(SecurityEventKind.LOGIN, actor=user, user=user, request=request)


@receiver(user_logged_out)
def logged_out(sender, request, user, **kwargs):
    if user is not None:
        security_event(SecurityEventKind.LOGOUT, actor=user, user=user, request=request)


@receiver(user_login_failed)
def login_failed(sender, credentials, request=None, **kwargs):
    username = (credentials or {}).get("username") or ""
    user = get_user_model().objects.filter(username=username).first()
    security_event(SecurityEventKind.LOGIN_FAILED, user=user, username=username, request=request)


@receiver(user_locked_out)
def locked_out(sender, request, username, ip_address, **kwargs):
    user = get_user_model().objects.filter(username=username or "").first()
    security_event(
        SecurityEventKind.LOCKED_OUT,
        user=user,
        username=username or "",
        request=request,
        data={"ip": ip_address},
    )
