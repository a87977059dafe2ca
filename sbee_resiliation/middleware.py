"""Headers every response carries, the body size limit, and log lines for refused pages
(DESIGN §11). The session's idle end and the second factor are in accounts/middleware.py."""

import logging

from django.conf import settings
from django.http import Http404, JsonResponse
from django.middleware.gzip import GZipMiddleware
from django.shortcuts import render

from contracts.errors import NotFound


class SecurityHeadersMiddleware:
    """Permissions-Policy on every response; no caching of what a logged-in person sees (pages
    and PDFs stay out of shared and browser caches)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or response.get(
            "Content-Type", ""
        ).startswith("application/pdf"):
            response["Cache-Control"] = "no-store, private"
        return response


COMPRESSED_TYPES = (
    "text/",
    "application/json",
    "application/javascript",
    "application/manifest+json",
    "image/svg+xml",
)


class TextGZipMiddleware(GZipMiddleware):
    """Pages, JSON and CSV exports go out compressed (a queue of 16-19 KB becomes 2-3 KB); PDFs,
    images and spreadsheets are compressed already and go as they are. Against BREACH: Django
    masks the CSRF token afresh in every response and adds up to 100 random bytes to each
    compressed body; the session's cookie is never in a body (README, "Compression")."""

    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith(COMPRESSED_TYPES):
            return response
        return super().process_response(request, response)


class ClientErrorsOneLine(logging.Filter):
    """django.request logs a refused or missing page with its traceback: one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        request = getattr(record, "request", None)
        if status == 503 and request is not None and request.path == "/sante/":
            return False  # the monitoring reads the health page's answer; no log line each time
        if status is not None and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


# The largest body each part of the site takes, in bytes; the rest of the site takes small forms.
BODY_LIMITS = (
    ("/api/", 64 * 1024),  # JSON of a few fields
    ("/verification/", 10 * 1024 * 1024 + 64 * 1024),  # a PDF of 10 MB, with the form around it
)
BODY_LIMIT_DEFAULT = 5 * 1024 * 1024
TOO_LARGE = (
    "Envoi trop volumineux : {limit} au plus pour cette page. Rien n'a été lu ni enregistré."
)


def body_limit(path: str) -> int:
    if path.startswith("/admin/import/"):
        return settings.IMPORT_UPLOAD_MAX_MB * 1024 * 1024 + 64 * 1024
    for prefix, limit in BODY_LIMITS:
        if path.startswith(prefix):
            return limit
    return BODY_LIMIT_DEFAULT


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} Mo" if limit >= 1024 * 1024 else f"{limit // 1024} Ko"


class BodySizeMiddleware:
    """A body larger than its page takes is refused (413) from its announced length, before a
    byte of it is read: no worker parses it, no disk holds it. A body sent without a length
    (chunked) is read up to Django's own limits."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = body_limit(request.path)
        if length > limit:
            message = TOO_LARGE.format(limit=_size(limit))
            if request.path.startswith("/api/"):
                response = JsonResponse({"detail": message}, status=413)
            else:
                response = render(request, "413.html", {"message": message}, status=413)
            # The unread body is not to be taken for the next request on this connection.
            response["Connection"] = "close"
            return response
        return self.get_response(request)


class DomainErrorsMiddleware:
    """The domain's errors, as pages: a record out of the user's reach (contracts.errors.
    NotFound, raised by selectors and services) is a 404, as Django's own Http404 would be."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, NotFound):
            raise Http404(str(exception)) from exception
        return None
