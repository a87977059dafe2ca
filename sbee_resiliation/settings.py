"""Settings, read from the environment.

DATABASE_URL   PostgreSQL address (postgres://user:password@host:port/name). Unset: the project's
               own local cluster (see sbee_resiliation/localdb.py).
SECRET_KEY     required unless DEBUG is on.
AUDIT_KEY      the key sealing the audit chains (default: derived from SECRET_KEY).
DEBUG          true/false (default false). Also enables the documented demo password.
ALLOWED_HOSTS  comma-separated host names (default: localhost names when DEBUG is on).
SESSION_IDLE_MINUTES  minutes of inactivity before a session ends (default 30).
SITE_URL       the application's address, for the QR codes on documents.
CONN_MAX_AGE   seconds a database connection is kept for the next requests (default 0; `make serve`
               and the service units keep them 300 s, checked before reuse).
STATIC_MANIFEST  hashed, compressed static file names (default: on when DEBUG is off); needs
               `manage.py collectstatic` first.
LOG_FORMAT     "json" for one JSON object per log line (default: plain text).
REPLICA_DATABASE_URL  a hot standby of the primary: the read-only pages read there (see
               sbee_resiliation/replica.py). REPLICA_MAX_LAG_BYTES: beyond, it is skipped.
DATABASE_POOLING  "transaction" when DATABASE_URL goes through PgBouncer in transaction mode (no
               server-side cursor, no startup option; the planner settings are the roles').
"""

import hashlib
import hmac
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from sbee_resiliation import localdb

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}: expected true or false, got {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}: expected an integer, got {value!r}") from None


DEBUG = envbool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "development-only-key-never-used-in-production"
# The key that seals the audit chains (HMAC-SHA256), kept outside the database: whoever can
# write in the database without it cannot make an edit pass verify_audit. Unset, it is derived
# from SECRET_KEY (the demo, the tests); in production it has its own value, never changed
# without re-sealing (a changed key makes every chain read as broken).
AUDIT_KEY = (
    os.environ.get("AUDIT_KEY")
    or hmac.new(SECRET_KEY.encode(), b"sbee-audit-chain", hashlib.sha256).hexdigest()
)
# Where the daily anchors of the chains are appended (besides the log).
AUDIT_ANCHOR_FILE = Path(
    os.environ.get("AUDIT_ANCHOR_FILE") or BASE_DIR / "var" / "audit-anchors.txt"
)

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h]
if not ALLOWED_HOSTS and DEBUG:
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "sbee_resiliation.admin.SbeeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "procrastinate.contrib.django",
    "pgtrigger",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # One layer per app, from the bottom up (README, "The map"; import-linter checks it).
    "contracts",
    "accounts",
    "handoff",
    "notifications",
    "interventions",
    "billing",
    "procedure",
    "field",
    "imports",
    "supervision",
    "sbee_resiliation",
    "bench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from var/static (collectstatic), hashed, compressed, cached for a year.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages, JSON and CSV compressed (static files are, by whitenoise, ahead of time).
    "sbee_resiliation.middleware.TextGZipMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "sbee_resiliation.middleware.SecurityHeadersMiddleware",
    # A person's writes followed, for the replica (before the sessions: their writes count too).
    "sbee_resiliation.replica.FollowWritesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "accounts.middleware.SessionIdleMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every API call logged with its final status, the 413s of the next one included.
    "handoff.api.ApiCallLogMiddleware",
    # A body larger than its page takes: 413 before anything reads it (CSRF's check would).
    "sbee_resiliation.middleware.BodySizeMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    # A record out of the user's reach (contracts.errors.NotFound) answers 404.
    "sbee_resiliation.middleware.DomainErrorsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out login with its own page.
    "axes.middleware.AxesMiddleware",
    # The read-only pages' own reads on the replica, if any: last, once the person is known.
    "sbee_resiliation.replica.ReplicaMiddleware",
]

ROOT_URLCONF = "sbee_resiliation.urls"
WSGI_APPLICATION = "sbee_resiliation.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "procedure.context_processors.staff",
            ],
            "builtins": ["contracts.templatetags.sbee"],
        },
    }
]

# Two roles (DESIGN §11): the application connects as a role that owns no table and may not
# TRUNCATE (DATABASE_URL, or the local cluster's sbee_app); migrations run as the owner
# (DATABASE_URL of the owner role, or LOCAL_DB_USER=sbee_owner with the local cluster), and grant
# the DML the application needs to DATABASE_APP_ROLE.
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    DATABASES = {"default": localdb.database_settings(os.environ.get("LOCAL_DB_USER"))}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = envint("CONN_MAX_AGE", 0)
# A kept connection is checked before a request reuses it (a restarted database, a cut link).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The pages' queries join up to a dozen tables along foreign keys (select_related): PostgreSQL
# spent 5-8 ms planning such a query that runs in 0.1 ms. Below 4 tables per join list it keeps
# the written order, which for these joins is the right one (measured by `make bench`).
session_options = [f"-c join_collapse_limit={envint('DATABASE_JOIN_COLLAPSE_LIMIT', 4)}"]
# PostgreSQL compiles a query it estimates costly (JIT): the dashboards' aggregates over 50 000
# open requests spent 1.2 s of CPU compiling for 80 ms of execution (`make bench-dashboard`).
# Nothing here runs long enough to repay the compilation.
if not envbool("DATABASE_JIT"):
    session_options.append("-c jit=off")
# A maintenance session may TRUNCATE the protected tables (the test suite's flush); never the
# application's.
if envbool("DATABASE_MAINTENANCE"):
    session_options.append("-c sbee.maintenance=on")
# Through a pooler in transaction mode (PgBouncer), a session is only borrowed for a
# transaction: no cursor may outlive it (exports read in chunks then come whole from the
# server) and no startup option reaches the server (the planner's settings above are set on the
# application's role: ALTER ROLE … SET, as sbee_resiliation/localdb.py does).
DATABASE_POOLING = os.environ.get("DATABASE_POOLING", "")
if DATABASE_POOLING not in ("", "transaction"):
    raise ValueError(f"DATABASE_POOLING: expected transaction or nothing, got {DATABASE_POOLING!r}")
if DATABASE_POOLING == "transaction":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    session_options = []
if session_options:
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = " ".join(session_options)
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("application_name", "sbee")
# A hot standby for the read-only pages (sbee_resiliation/replica.py): connected directly (its
# exports' cursors are server-side), a short connection timeout (a replica down is skipped).
if os.environ.get("REPLICA_DATABASE_URL"):
    DATABASES["replica"] = dj_database_url.parse(os.environ["REPLICA_DATABASE_URL"])
    DATABASES["replica"].update(
        ATOMIC_REQUESTS=False,
        CONN_MAX_AGE=DATABASES["default"]["CONN_MAX_AGE"],
        CONN_HEALTH_CHECKS=True,
        TEST={"MIRROR": "default"},
    )
    DATABASES["replica"].setdefault("OPTIONS", {}).update(
        connect_timeout=envint("REPLICA_CONNECT_TIMEOUT", 2), application_name="sbee-replica"
    )
    if session_options:
        DATABASES["replica"]["OPTIONS"]["options"] = " ".join(session_options)
DATABASE_ROUTERS = ["sbee_resiliation.replica.ReplicaRouter"]
# The replica is skipped when it has not replayed this much of the primary's WAL (16 MB: a few
# seconds of a busy morning), and for REPLICA_RETRY_SECONDS after it failed to answer.
REPLICA_MAX_LAG_BYTES = envint("REPLICA_MAX_LAG_BYTES", 16 * 1024 * 1024)
REPLICA_RETRY_SECONDS = envint("REPLICA_RETRY_SECONDS", 10)
# Its position and lag are read at most this often per process (a position read earlier is never
# ahead of the true one: it can only keep someone on the primary a little longer).
REPLICA_CHECK_SECONDS = float(os.environ.get("REPLICA_CHECK_SECONDS") or 1)
DATABASE_APP_ROLE = os.environ.get("DATABASE_APP_ROLE", localdb.APP_USER)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "contracts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user name or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # Django's password check; the user and their roles read in one query on each page.
    "accounts.auth.RolesBackend",
    "accounts.auth.DemoPasswordBackend",
]
# Argon2 first (OWASP's first choice); older hashes are upgraded at the next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

# Logins throttled per user name and per address (django-axes): after 5 failures, 15 minutes.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "contracts.audit.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_VERBOSE = False
# The second factor (TOTP, django-otp) for these roles (DESIGN §11).
SECOND_FACTOR_ROLES = ["cashier", "supervisor", "manager", "auditor", "admin"]
OTP_TOTP_ISSUER = "SBEE Résiliation"
# The agencies' working hours (local time): a login outside them is one of the controller's
# exceptions. Days: Monday 0 ... Saturday 5.
WORKING_HOURS = (envint("WORKING_HOURS_START", 7), envint("WORKING_HOURS_END", 19))
WORKING_DAYS = [0, 1, 2, 3, 4, 5]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Agency computers are shared: a session ends after 30 minutes without activity.
SESSION_COOKIE_AGE = envint("SESSION_IDLE_MINUTES", 30) * 60
# The expiry moves on with activity, but the session row is written at most once a minute
# (accounts.middleware.SessionIdleMiddleware), not on every page.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_REFRESH_SECONDS = 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# HTTPS by default when DEBUG is off; a local plain-HTTP run opts out (SECURE_SSL_REDIRECT=false,
# SECURE_COOKIES=false, SECURE_HSTS_SECONDS=0). Behind a proxy that terminates TLS, set
# SECURE_PROXY_SSL_HEADER=true (the proxy sends X-Forwarded-Proto).
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
if envbool("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (Django's own): our pages have no inline script or style.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    # blob: the field app's photo, compressed on the phone from an object URL.
    "img-src": [CSP.SELF, "data:", "blob:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)

# The application's address, printed as a QR code on every document.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

# Demo password: accepted for the demo users only, and only when DEBUG is on.
DEMO_PASSWORD = "demo-sbee-2026"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Africa/Porto-Novo"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["sbee_resiliation.formats"]

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "var" / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if envbool("STATIC_MANIFEST", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Each app's tasks.py (procedure, billing, imports) is found by procrastinate itself.

# The customers' messages (notifications/). The backend: files under var/sms/ in development and
# in the demo (one JSON file per SMS, shown in the admin), the console otherwise unless set; in
# production "notifications.backends.InfobipBackend" with its base URL and API key.
SMS_BACKEND = os.environ.get(
    "SMS_BACKEND",
    "notifications.backends.FileBackend" if DEBUG else "notifications.backends.ConsoleBackend",
)
SMS_FILE_DIR = Path(os.environ.get("SMS_FILE_DIR") or BASE_DIR / "var" / "sms")
SMS_SENDER = os.environ.get("SMS_SENDER", "SBEE")
SMS_MAX_ATTEMPTS = int(os.environ.get("SMS_MAX_ATTEMPTS", "10"))  # about a day of retries
SMS_RETRY_BASE = int(os.environ.get("SMS_RETRY_BASE", "3"))  # waits 3, 9, 27... seconds
INFOBIP_BASE_URL = os.environ.get("INFOBIP_BASE_URL", "https://api.infobip.com")
INFOBIP_API_KEY = os.environ.get("INFOBIP_API_KEY", "")
# The gateway's delivery reports come to /sms/rapports/<SMS_CALLBACK_TOKEN>/.
SMS_CALLBACK_TOKEN = (
    os.environ.get("SMS_CALLBACK_TOKEN")
    or hmac.new(SECRET_KEY.encode(), b"sms-callback", hashlib.sha256).hexdigest()
)
SMS_CALLBACK_URL = f"{SITE_URL.rstrip('/')}/sms/rapports/{SMS_CALLBACK_TOKEN}/"
# The customer's tracking code is derived from the request's number with this key.
TRACKING_KEY = (
    os.environ.get("TRACKING_KEY")
    or hmac.new(SECRET_KEY.encode(), b"tracking-code", hashlib.sha256).hexdigest()
)
# When the crews call, as the customer reads it.
VISIT_WINDOW = os.environ.get("VISIT_WINDOW", "entre 8h et 17h")

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A refused (403) or missing (404) page is one line, without a traceback.
    "filters": {"client_errors": {"()": "sbee_resiliation.middleware.ClientErrorsOneLine"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "sbee_resiliation.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["client_errors"],
            "formatter": "json" if os.environ.get("LOG_FORMAT") == "json" else "plain",
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own handlers (DEFAULT_LOGGING) would print a refused page's traceback under
        # DEBUG (make run): its records go through ours, one line each, as under make serve.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        "procrastinate": {"level": os.environ.get("PROCRASTINATE_LOG_LEVEL", "WARNING")},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Extraction files uploaded on the admin's import page, kept (their hashes are in the security
# events) beside nothing else; above IMPORT_UPLOAD_MAX_MB, the command (docs/import.md).
IMPORT_DIR = Path(os.environ.get("IMPORT_DIR") or BASE_DIR / "var" / "imports")
# Files presented on the public verification page of an attestation, per address and 10 minutes.
VERIFY_UPLOADS_PER_10_MINUTES = envint("VERIFY_UPLOADS_PER_10_MINUTES", 20)
IMPORT_UPLOAD_MAX_MB = int(os.environ.get("IMPORT_UPLOAD_MAX_MB", "50"))
# What an XLSX may unpack to (its zip directory says, before it is read): no "zip bomb".
IMPORT_XLSX_MAX_UNPACKED_MB = envint("IMPORT_XLSX_MAX_UNPACKED_MB", 100)
