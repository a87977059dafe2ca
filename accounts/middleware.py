"""The session's idle end and the second factor for the roles that need it (DESIGN §11)."""

import time

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

# Pages reachable before the second factor: logging in and out, the factor itself, the public
# verification of an attestation, static files.
SECOND_FACTOR_FREE = (
    "/connexion/",
    "/deconnexion/",
    "/verification/",
    "/static/",
    "/favicon",
    "/sante/",
    "/api/",
    "/sms/rapports/",
    "/suivi/",
)


class SessionIdleMiddleware:
    """The session ends after SESSION_COOKIE_AGE seconds without activity. Its expiry moves on
    with activity, but the session row is rewritten at most once every SESSION_REFRESH_SECONDS,
    not on every page: a page that changes nothing in the session writes nothing."""

    KEY = "_refreshed"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        now = int(time.time())
        if (
            session.session_key
            and now - session.get(self.KEY, 0) >= settings.SESSION_REFRESH_SECONDS
        ):
            session[self.KEY] = now  # marks it modified: saved with a new expiry
        response = self.get_response(request)
        if session.modified and not session.is_empty():
            session[self.KEY] = now
        return response


def needs_second_factor(user) -> bool:
    """Cashiers, supervisors, managers, auditors and admins log in with a second factor. Demo
    users are spared it only while DEBUG is on (their password works only then too)."""
    if settings.DEBUG and getattr(user, "is_demo", False):
        return False
    # A superuser (manage.py createsuperuser) enters the admin as an admin does.
    return user.is_superuser or bool(user.roles & set(settings.SECOND_FACTOR_ROLES))


class SecondFactorMiddleware:
    """A user who needs the second factor reaches nothing else before it is verified: first
    the enrolment (a QR code, then recovery codes), then the code at every login."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(SECOND_FACTOR_FREE)
            and needs_second_factor(user)
            and not user.is_verified()
        ):
            query = urlencode({"next": request.get_full_path()})
            return redirect(reverse("second_factor") + "?" + query)
        return self.get_response(request)
