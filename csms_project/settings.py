"""Settings, read from the environment (and a `.env` file when present).

Every variable is documented in docs/CONFIGURATION.md (linked from the README).
Unset everything and the project runs on a laptop with no servers at all.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from .schedule import celery_beat_schedule

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime files: the filesystem Celery broker, the beat schedule, bin/run's lock.
VAR_DIR = Path(os.environ.get("CSMS_VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=True)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    # django.contrib.admin with the console's site (product name, pages by task).
    "csms_project.admin_site.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "csp",
    "drivers",
    "stations",
    "billing",
    "ocpp_consumer",
    "monitoring",
    "api_support",
    "simulator",
    "events",
    "devicemodel",
    "firmware",
    "roaming",
    "loadmanagement",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: locks out repeated failed logins (admin and API token login).
    "axes.middleware.AxesMiddleware",
    # Innermost: the chain runs in one thread per request (csms_project/one_thread.py).
    "csms_project.one_thread.OneThreadMiddleware",
]

ROOT_URLCONF = "csms_project.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "csms_project.asgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the ASGI server, the Celery worker and readers share the file;
    # IMMEDIATE transactions take the write lock up front instead of failing
    # with "database is locked" on upgrade.
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file (not :memory:) so that server processes started by the tests
    # share it; one per test run, so that runs side by side do not collide.
    _db["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
if _db["ENGINE"] == "django.db.backends.postgresql":
    # A database that cannot be reached fails a request or an OCPP message in
    # seconds (503, CALLERROR) instead of holding it: libpq gives up a
    # connection attempt after this many seconds (2 at least), and Django's
    # backend with a circuit breaker (csms_project/postgresql) fails the
    # attempts that follow a failed one at once, until a probe succeeds.
    _db["ENGINE"] = "csms_project.postgresql"
    _db.setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3)
    )
if _db["ENGINE"] == "csms_project.postgresql" and env.bool("DATABASE_POOL", default=True):
    # A pool, not a connection per thread: every API request runs in a thread
    # of its own, and persistent per-thread connections exhausted PostgreSQL's
    # max_connections under load. A full pool makes callers wait, not fail:
    # up to DATABASE_POOL_TIMEOUT, which is also how long each caller waits
    # while the database is unreachable. A pool that cannot reconnect gives up
    # after `reconnect_timeout` and tries afresh on the next request, so that
    # it is back within seconds of the database (not after a long back-off).
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=5.0),
        "reconnect_timeout": 10.0,
    }
    _db["CONN_MAX_AGE"] = 0  # the pool keeps the connections
else:
    # Reuse connections: with 0, every ORM call of the consumer would
    # reconnect (and rerun the SQLite PRAGMAs), which cut the rate by five.
    _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# Off by default: Django would run a `SELECT 1` before the first query of
# every consumer ORM call (one more round trip per OCPP message). A broken
# connection still fails one call and is then replaced.
_db["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "drivers.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Brute-force protection: this many failures per username and address lock
# that pair out for AXES_COOLOFF_MINUTES.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Sign-in ignores the username's case: so does the count of failures.
AXES_USERNAME_CALLABLE = "drivers.signin.axes_username"
AXES_RESET_ON_SUCCESS = True
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # Charge point keys only: see stations.hashers for why it is cheaper.
    "stations.hashers.ChargePointKeyHasher",
]

# --- E-mail (password reset) ------------------------------------------------
# EMAIL_URL as django-environ reads it: smtp+tls://user:password@host:587,
# smtp+ssl://...:465, consolemail:// (printed to the log: a laptop's default).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update({name: value for name, value in EMAIL_CONFIG.items() if value is not None})
# A backend class of its own (e.g. a mail provider's package) wins over EMAIL_URL's.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=EMAIL_CONFIG["EMAIL_BACKEND"])
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CSMS <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The link a password reset e-mail carries: the app's deep link (or a web
# page) with {uid} and {token}, which the app posts to
# /api/v1/auth/password-reset/confirm/.
PASSWORD_RESET_URL = env.str(
    "PASSWORD_RESET_URL", default="csms://password-reset?uid={uid}&token={token}"
)
if "{uid}" not in PASSWORD_RESET_URL or "{token}" not in PASSWORD_RESET_URL:
    raise ImproperlyConfigured("PASSWORD_RESET_URL must contain {uid} and {token}")
# Seconds a reset link works (Django's default_token_generator); a used link,
# or one issued before a password change or sign-in, never works again.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)

# --- Internationalisation -------------------------------------------------
LANGUAGE_CODE = env.str("DJANGO_LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("th", "Thai")]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]
# One calendar for every date the console shows, server- and browser-side
# (monitoring/calendars.py): "gregorian" or "buddhist" (years + 543).
CONSOLE_CALENDAR = env.str("CONSOLE_CALENDAR", default="gregorian")
if CONSOLE_CALENDAR not in ("gregorian", "buddhist"):
    raise ImproperlyConfigured("CONSOLE_CALENDAR must be gregorian or buddhist")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names need collectstatic first: production only.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Serve from the app folders when collectstatic has not run (development, tests).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Content Security Policy for the console: scripts and connections from this
# origin only (the dashboard's WebSocket included). The API and its Swagger UI
# are left out: they render no charger-supplied HTML.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

# --- Channels -------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis on the wire; a lighter wait per socket (issue 22).
            "BACKEND": "csms_project.channel_layers.LeanRedisChannelLayer",
            "CONFIG": {
                # max_connections: redis-py's pool raises instead of waiting
                # when exhausted; a reconnect storm needs headroom.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=4000),
                        # redis-py 8 reads with a 5 s timeout by default, the
                        # same 5 s channels-redis blocks in BZPOPMIN: receives
                        # then fail at random with "Timeout reading".
                        "socket_timeout": 30,
                    }
                ],
                # The default capacity (100) silently drops bursts.
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=5000),
                "expiry": 60,
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="csms"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 5000},
        }
    }

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _celery_queue_dir = VAR_DIR / "celery" / "queue"
    _celery_queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_queue_dir),
        "data_folder_out": str(_celery_queue_dir),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="csms")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # `Authorization: Token <key>`: per-device tokens, and the DRF tokens
        # issued before them (drivers/api/authentication.py).
        "drivers.api.authentication.DeviceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    # Strict: a filter or ordering value that cannot be applied is a 400 naming it.
    "DEFAULT_FILTER_BACKENDS": [
        "api_support.filters.StrictFilterBackend",
        "api_support.search.IndexedSearchFilter",
        "api_support.filters.StrictOrderingFilter",
    ],
    # Descriptions only from the view itself or extend_schema (no mixin docstrings).
    "DEFAULT_SCHEMA_CLASS": "api_support.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "api_support.exceptions.api_exception_handler",
    # Rates per scope; counters live in the cache (per process unless the
    # cache is shared).
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "driver": env.str("API_THROTTLE_DRIVER", default="300/minute"),
        "operator": env.str("API_THROTTLE_OPERATOR", default="1200/minute"),
        # On top of the above: password reset e-mails asked for, per address.
        "password_reset": env.str("API_THROTTLE_PASSWORD_RESET", default="5/hour"),
    },
}
# API tokens are per device (drivers.DeviceToken): one expires this many days
# after its last use (sliding); 0: never.
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=90)
# Lists count exactly up to this many rows, PostgreSQL's estimate above (api_support/pagination.py).
API_EXACT_COUNT_LIMIT = env.int("API_EXACT_COUNT_LIMIT", default=10_000)
# Sync cursors hold back rows written in the last this many seconds: longer than any write
# transaction takes to commit, so that none lands behind a position a client has saved.
API_SYNC_SAFETY_LAG_SECONDS = env.int("API_SYNC_SAFETY_LAG_SECONDS", default=30)
if API_TOKEN_TTL_DAYS < 0:
    raise ImproperlyConfigured("API_TOKEN_TTL_DAYS must be 0 (never) or more")
# Stations (the map) readable without a token: apps show chargers before
# sign-in. Off: only signed-in users read them (api_support.permissions).
API_ANONYMOUS_MAP = env.bool("API_ANONYMOUS_MAP", default=True)
SPECTACULAR_SETTINGS = {
    # One name per OCPP enumeration shared by several fields.
    "ENUM_NAME_OVERRIDES": {
        "ConnectorStatusEnum": "stations.choices.ConnectorStatus",
        "SessionStatusEnum": "stations.choices.SessionStatus",
        "DisputeResolutionEnum": "stations.choices.DisputeResolution",
        "VariableAttributeTypeEnum": "devicemodel.choices.AttributeType",
        # OCPI 2.2.1 Locations (stations/models/location_data.py).
        "ConnectorStandardEnum": "stations.models.location_data.ConnectorStandard",
        "ConnectorFormatEnum": "stations.models.location_data.ConnectorFormat",
        "CommandStatusEnum": "ocpp_consumer.models.CommandStatus",
    },
    # Shared error answers, examples and rate-limit headers as components.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api_support.schema_errors.error_components_hook",
    ],
    "TITLE": "CSMS API",
    "DESCRIPTION": (
        "OCPP 1.6J Central System: stations, charge points, charging sessions and billing."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed sidecar package: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- OCPP -----------------------------------------------------------------
OCPP_AUTO_REGISTER = env.bool("OCPP_AUTO_REGISTER", default=True)
OCPP_HEARTBEAT_INTERVAL = env.int("OCPP_HEARTBEAT_INTERVAL", default=300)
# How an auto-registered (unknown) charge point is answered: Pending waits for
# an operator; Accepted is for labs only (a stranger's socket could then use
# any driver's id tag).
OCPP_DEFAULT_REGISTRATION_STATUS = env.str("OCPP_DEFAULT_REGISTRATION_STATUS", default="Pending")
if OCPP_DEFAULT_REGISTRATION_STATUS not in ("Accepted", "Pending", "Rejected"):
    raise ImproperlyConfigured(
        "OCPP_DEFAULT_REGISTRATION_STATUS must be Accepted, Pending or Rejected"
    )
OCPP_CALL_TIMEOUT = env.float("OCPP_CALL_TIMEOUT", default=30.0)
# How long after a 1.6 remote start was answered Accepted the session it led
# to may begin (the charger's ConnectionTimeOut: the driver plugs in meanwhile);
# ocpp_consumer/commands/handles.py links the two within it.
REMOTE_START_LINK_SECONDS = env.int("REMOTE_START_LINK_SECONDS", default=600)
if REMOTE_START_LINK_SECONDS < 1:
    raise ImproperlyConfigured("REMOTE_START_LINK_SECONDS must be at least 1")
# What `manage.py simulate` calls to register its fleet here (simulator/prepare.py).
SIMULATOR_PREPARE = "ocpp_consumer.simulation.simulation_prepare"
# Threads that write batches of durable messages at once (ocpp_consumer/group_commit.py);
# each holds a database connection while it writes. 1: Channels' ORM thread.
OCPP_WRITER_THREADS = env.int("OCPP_WRITER_THREADS", default=2)
# A charge point's heartbeats are written to the database at most this often
# (and at least twice per heartbeat interval); they are always answered.
OCPP_HEARTBEAT_WRITE_INTERVAL = env.float("OCPP_HEARTBEAT_WRITE_INTERVAL", default=60.0)
OCPP_MAX_FRAME_BYTES = env.int("OCPP_MAX_FRAME_BYTES", default=262144)
# Connectors (connector 0 included) a charge point may make us create by naming them.
OCPP_MAX_CONNECTORS_PER_CHARGE_POINT = env.int("OCPP_MAX_CONNECTORS_PER_CHARGE_POINT", default=64)
OCPP_VALIDATE_RESPONSES = env.bool("OCPP_VALIDATE_RESPONSES", default=DEBUG)
# Security (OCPP 1.6 security whitepaper).
# Reverse proxies whose X-Forwarded-Proto and client-certificate headers are trusted.
OCPP_TRUSTED_PROXIES = env.list("OCPP_TRUSTED_PROXIES", default=[])
OCPP_CLIENT_CERT_HEADER = env.str("OCPP_CLIENT_CERT_HEADER", default="X-SSL-Client-S-DN")
OCPP_CLIENT_CERT_VERIFY_HEADER = env.str(
    "OCPP_CLIENT_CERT_VERIFY_HEADER", default="X-SSL-Client-Verify"
)
# Failed handshakes per source address within the window before that address
# is refused (429). Per charge point id, from all addresses: past the _ID_
# limit, addresses that failed at all are refused for that id; a clean address
# (the real charger's) always gets its password checked.
OCPP_AUTH_FAILURE_LIMIT = env.int("OCPP_AUTH_FAILURE_LIMIT", default=10)
OCPP_AUTH_FAILURE_WINDOW = env.int("OCPP_AUTH_FAILURE_WINDOW", default=300)
OCPP_AUTH_FAILURE_ID_LIMIT = env.int("OCPP_AUTH_FAILURE_ID_LIMIT", default=20)
# The CA that signs charge point certificates (SignCertificate), or a signer callable.
OCPP_CA_CERT_FILE = env.str("OCPP_CA_CERT_FILE", default="")
OCPP_CA_KEY_FILE = env.str("OCPP_CA_KEY_FILE", default="")
OCPP_CERTIFICATE_SIGNER = env.str("OCPP_CERTIFICATE_SIGNER", default="")
OCPP_CERTIFICATE_VALIDITY_DAYS = env.int("OCPP_CERTIFICATE_VALIDITY_DAYS", default=365)
# ISO 15118 (Plug & Charge) relay: callable for Get15118EVCertificate/GetCertificateStatus.
OCPP_ISO15118_PROVIDER = env.str("OCPP_ISO15118_PROVIDER", default="")
# Critical security events reported within this many hours raise a dashboard alarm.
MONITORING_SECURITY_ALARM_HOURS = env.int("MONITORING_SECURITY_ALARM_HOURS", default=24)
OCPP_JOURNAL_ENABLED = env.bool("OCPP_JOURNAL_ENABLED", default=True)
OCPP_JOURNAL_FLUSH_INTERVAL = env.float("OCPP_JOURNAL_FLUSH_INTERVAL", default=0.5)
OCPP_JOURNAL_RETENTION_DAYS = env.int("OCPP_JOURNAL_RETENTION_DAYS", default=30)
# What a charge point can make us store (README, Security: quotas). Frames nest
# at most this deep (OCPP 1.6 payloads need 6 levels with the frame's array).
OCPP_MAX_FRAME_DEPTH = env.int("OCPP_MAX_FRAME_DEPTH", default=32)
# A journal row keeps at most this much of a frame (its head, size and SHA-256
# beyond), and each charge point this much per hour (then size and hash only).
OCPP_JOURNAL_MAX_PAYLOAD_BYTES = env.int("OCPP_JOURNAL_MAX_PAYLOAD_BYTES", default=16384)
OCPP_JOURNAL_BYTES_PER_HOUR = env.int("OCPP_JOURNAL_BYTES_PER_HOUR", default=4194304)
# DataTransfer from charge points: data above the size is refused (Rejected, only
# its size and hash kept); past the rate per hour, messages are refused unstored.
OCPP_DATA_TRANSFER_MAX_BYTES = env.int("OCPP_DATA_TRANSFER_MAX_BYTES", default=16384)
OCPP_DATA_TRANSFER_RATE_LIMIT = env.int("OCPP_DATA_TRANSFER_RATE_LIMIT", default=120)
OCPP_DATA_TRANSFER_RETENTION_DAYS = env.int("OCPP_DATA_TRANSFER_RETENTION_DAYS", default=90)
# Files for charge points (firmware app): stored in MEDIA_ROOT, never served
# from it directly; charge points fetch and upload through signed, expiring URLs
# built on CSMS_PUBLIC_URL (blank: the console request's own address).
MEDIA_ROOT = env.path("CSMS_MEDIA_DIR", default=BASE_DIR / "var" / "media")
MEDIA_URL = "media/"
CSMS_PUBLIC_URL = env.str("CSMS_PUBLIC_URL", default="")
FIRMWARE_LINK_TTL_SECONDS = env.int("FIRMWARE_LINK_TTL_SECONDS", default=172800)
FILES_UPLOAD_TTL_SECONDS = env.int("FILES_UPLOAD_TTL_SECONDS", default=86400)
FILES_UPLOAD_MAX_BYTES = env.int("FILES_UPLOAD_MAX_BYTES", default=52428800)
FILES_UPLOAD_RETENTION_DAYS = env.int("FILES_UPLOAD_RETENTION_DAYS", default=30)
# With DJANGO_DEBUG=1, Django logs every query of a connection: keep this many
# entries (SQL cut at 4,000 characters) so long-lived processes stay small.
DEBUG_QUERY_LOG_LIMIT = env.int("DJANGO_DEBUG_QUERY_LOG_LIMIT", default=500)

# --- Billing --------------------------------------------------------------
BILLING_DEFAULT_CURRENCY = env.str("BILLING_DEFAULT_CURRENCY", default="EUR")
BILLING_INVOICE_ZERO_ENERGY = env.bool("BILLING_INVOICE_ZERO_ENERGY", default=False)
# Who issues the invoices (printed on the PDF).
BILLING_OPERATOR_NAME = env.str("BILLING_OPERATOR_NAME", default="CSMS Operator")
# The PDF prints one line per "\n".
BILLING_OPERATOR_ADDRESS = env.str("BILLING_OPERATOR_ADDRESS", default="", multiline=True)
# The hourly energy roll-up recomputes this many past hours (late data lands).
BILLING_ENERGY_ROLLUP_HOURS = env.int("BILLING_ENERGY_ROLLUP_HOURS", default=24)
# The invoice sweep (every 15 min) bills ended sessions without an invoice that
# ended more than GRACE seconds ago (the outbox had its chance) and less than
# LOOKBACK days ago (bounds the scan).
BILLING_INVOICE_SWEEP_GRACE_SECONDS = env.int("BILLING_INVOICE_SWEEP_GRACE_SECONDS", default=900)
BILLING_INVOICE_SWEEP_LOOKBACK_DAYS = env.int("BILLING_INVOICE_SWEEP_LOOKBACK_DAYS", default=30)
BILLING_OPERATOR_VAT_ID = env.str("BILLING_OPERATOR_VAT_ID", default="")

# --- Sweeps (Celery beat) ---------------------------------------------------
# A charge point silent for this many heartbeat intervals is marked offline.
OCPP_HEARTBEAT_TIMEOUT_FACTOR = env.float("OCPP_HEARTBEAT_TIMEOUT_FACTOR", default=3.0)
SWEEP_INTERVAL_SECONDS = env.int("SWEEP_INTERVAL_SECONDS", default=60)
# Open transactions without any message for this long are flagged as stale.
STALE_TRANSACTION_HOURS = env.int("STALE_TRANSACTION_HOURS", default=24)
# --- Meter values at scale (docs/METER_VALUES.md) ---------------------------------
# Sessions' samples are rolled up per interval of this many minutes (kept per session).
METER_VALUES_ROLLUP_MINUTES = env.int("METER_VALUES_ROLLUP_MINUTES", default=15)
# Raw samples of settled sessions that ended this many days ago are deleted after
# their roll-up; 0 keeps every raw sample for ever (the operator's choice).
METER_VALUES_RAW_RETENTION_DAYS = env.int("METER_VALUES_RAW_RETENTION_DAYS", default=400)
# Samples without a session (idle meters, unknown transaction ids), by receipt; 0: kept.
METER_VALUES_UNLINKED_RETENTION_DAYS = env.int("METER_VALUES_UNLINKED_RETENTION_DAYS", default=90)
# Sessions per database transaction of the retention sweep (its locks stay short).
METER_VALUES_PRUNE_BATCH_SESSIONS = env.int("METER_VALUES_PRUNE_BATCH_SESSIONS", default=100)
# --- Session plausibility ------------------------------------------------------
# A connector whose maximum power nobody set is taken to deliver at most this.
CONNECTOR_DEFAULT_MAX_POWER_W = env.int("CONNECTOR_DEFAULT_MAX_POWER_W", default=350_000)
# Energy may exceed maximum power x duration by this factor (meters, clocks).
PLAUSIBILITY_POWER_MARGIN = env.float("PLAUSIBILITY_POWER_MARGIN", default=1.1)
# A charger's timestamp this far ahead of our clock is not believed.
PLAUSIBILITY_CLOCK_SKEW_SECONDS = env.int("PLAUSIBILITY_CLOCK_SKEW_SECONDS", default=300)

# --- Domain events (transactional outbox) ---------------------------------------
# Who reacts to domain events, in one list (dotted paths of events.Subscriber).
EVENT_SUBSCRIBERS = [
    "billing.subscribers.invoicing",
    "monitoring.subscribers.dashboards",
    "monitoring.subscribers.metrics",
    "ocpp_consumer.commands.handles.remote_start_links",
    "monitoring.driver_live.push.driver_live",
    "roaming.subscribers.evse_status",
    "roaming.subscribers.sessions_and_cdrs",
    "loadmanagement.subscribers.load_management",
]
EVENTS_RELAY_INTERVAL = env.int("EVENTS_RELAY_INTERVAL", default=10)
EVENTS_RETRY_MAX_SECONDS = env.int("EVENTS_RETRY_MAX_SECONDS", default=600)
EVENTS_RETENTION_HOURS = env.int("EVENTS_RETENTION_HOURS", default=24)

# --- Load management (docs/LOAD_MANAGEMENT.md) ----------------------------------
# Every site with a limit is recomputed this often (measured draw, schedule
# changes) and unanswered profiles are sent again.
LOADMGMT_SWEEP_SECONDS = env.int("LOADMGMT_SWEEP_SECONDS", default=30)
# A meter reading older than this is not the session's draw any more.
LOADMGMT_MEASURE_MAX_AGE_SECONDS = env.int("LOADMGMT_MEASURE_MAX_AGE_SECONDS", default=300)
# A vehicle drawing under this share of its offer leaves the rest to others...
LOADMGMT_UNDERUSE_RATIO = env.float("LOADMGMT_UNDERUSE_RATIO", default=0.8)
# ...and keeps its draw times this (room to ramp up until the next round).
LOADMGMT_MEASURED_MARGIN = env.float("LOADMGMT_MEASURED_MARGIN", default=1.15)
# Our profiles' ids (TxDefaultProfile: the base; TxProfile: base + connector) and stack level.
LOADMGMT_PROFILE_ID_BASE = env.int("LOADMGMT_PROFILE_ID_BASE", default=70_000)
LOADMGMT_STACK_LEVEL = env.int("LOADMGMT_STACK_LEVEL", default=1)
# Starting sessions kept room for (each draws its fallback until its profile arrives).
LOADMGMT_START_RESERVE = env.int("LOADMGMT_START_RESERVE", default=1)
# A charger that rejected or did not answer is asked again after this long.
LOADMGMT_RETRY_SECONDS = env.int("LOADMGMT_RETRY_SECONDS", default=300)
# Increases smaller than this are not sent (decreases always are).
LOADMGMT_MIN_CHANGE_W = env.int("LOADMGMT_MIN_CHANGE_W", default=230)
# Allocation decisions are kept this long.
LOADMGMT_DECISION_RETENTION_DAYS = env.int("LOADMGMT_DECISION_RETENTION_DAYS", default=30)

# --- Roaming (OCPI 2.2.1, CPO role; docs/ROAMING.md) ---------------------------
# The public base of our OCPI URLs as partners reach them, e.g.
# https://csms.example.com/ocpi; empty: taken from each request's host.
OCPI_BASE_URL = env.str("OCPI_BASE_URL", default="").rstrip("/")
# Who we are in roaming: our OCPI country code and party id, and the business name.
OCPI_COUNTRY_CODE = env.str("OCPI_COUNTRY_CODE", default="").upper()
OCPI_PARTY_ID = env.str("OCPI_PARTY_ID", default="").upper()
OCPI_BUSINESS_NAME = env.str("OCPI_BUSINESS_NAME", default="CSMS Operator")
OCPI_BUSINESS_WEBSITE = env.str("OCPI_BUSINESS_WEBSITE", default="")
# Fernet keys encrypting the tokens we use to call partners; the first encrypts,
# all decrypt (rotation). Empty: a key derived from DJANGO_SECRET_KEY.
OCPI_TOKEN_KEYS = env.list("OCPI_TOKEN_KEYS", default=[])
# Seconds an outgoing OCPI request may take (connect and each read).
OCPI_REQUEST_TIMEOUT_SECONDS = env.float("OCPI_REQUEST_TIMEOUT_SECONDS", default=10.0)
# Seconds a real-time authorization request to a partner may take: a charger's
# Authorize waits for it, so well within the OCPP call timeout.
OCPI_REALTIME_AUTH_TIMEOUT_SECONDS = env.float("OCPI_REALTIME_AUTH_TIMEOUT_SECONDS", default=2.5)
# Allow partner URLs on loopback or private networks (a lab, a partner on a VPN);
# off: partners cannot make us call services inside our own network.
OCPI_ALLOW_PRIVATE_URLS = env.bool("OCPI_ALLOW_PRIVATE_URLS", default=False)
# Most objects one page of a paginated OCPI GET holds (X-Limit).
OCPI_PAGE_LIMIT = env.int("OCPI_PAGE_LIMIT", default=100)
# Characters of a request or response body kept in the OCPI journal.
OCPI_JOURNAL_BODY_CHARS = env.int("OCPI_JOURNAL_BODY_CHARS", default=2000)
# Days the OCPI journal keeps its rows (pruned hourly).
OCPI_JOURNAL_RETENTION_DAYS = env.int("OCPI_JOURNAL_RETENTION_DAYS", default=30)
# Seconds between progress updates (kWh, cost) of a running roaming session to its
# eMSP: the throttle, rather than one update per meter value.
OCPI_SESSION_UPDATE_SECONDS = env.int("OCPI_SESSION_UPDATE_SECONDS", default=300)
# Seconds between runs that send partners the changes of our locations and tariffs
# (station data, connectors, tariffs; EVSE status goes at once): edits in between
# reach a partner as one request per object.
OCPI_DATA_PUSH_SECONDS = env.int("OCPI_DATA_PUSH_SECONDS", default=60)

# The periodic tasks, in one place (csms_project/schedule.py).
CELERY_BEAT_SCHEDULE = celery_beat_schedule(
    sweep_interval=SWEEP_INTERVAL_SECONDS,
    relay_interval=EVENTS_RELAY_INTERVAL,
    load_management_interval=LOADMGMT_SWEEP_SECONDS,
    session_progress_interval=OCPI_SESSION_UPDATE_SECONDS,
    data_push_interval=OCPI_DATA_PUSH_SECONDS,
)

# --- Monitoring -------------------------------------------------------------
MONITORING_NODE_HEARTBEAT_SECONDS = env.float("MONITORING_NODE_HEARTBEAT_SECONDS", default=10.0)
# A node silent this long (at least two beats) is dead: the surviving nodes take
# its charge points offline and end its unfinished commands.
MONITORING_NODE_DEAD_AFTER_SECONDS = env.float("MONITORING_NODE_DEAD_AFTER_SECONDS", default=30.0)
# Invoicing events waiting longer than this raise the outbox_lag alarm (readyz: degraded).
MONITORING_OUTBOX_LAG_ALARM_SECONDS = env.float("MONITORING_OUTBOX_LAG_ALARM_SECONDS", default=300)

# --- Drivers' live channel (/ws/driver/, monitoring/driver_live) ---------------
# Sockets one user may hold per server process; a new one closes the oldest.
DRIVER_LIVE_MAX_CONNECTIONS_PER_USER = env.int("DRIVER_LIVE_MAX_CONNECTIONS_PER_USER", default=5)
# How often each process reads its connected drivers' running sessions (one
# query for all of them): the pace of session.updated, and how soon a lost
# push is made good.
DRIVER_LIVE_UPDATE_SECONDS = env.float("DRIVER_LIVE_UPDATE_SECONDS", default=5.0)
# A {"type": "keepalive"} after this many seconds without a message (0: none).
DRIVER_LIVE_KEEPALIVE_SECONDS = env.float("DRIVER_LIVE_KEEPALIVE_SECONDS", default=25.0)
if DRIVER_LIVE_MAX_CONNECTIONS_PER_USER < 1:
    raise ImproperlyConfigured("DRIVER_LIVE_MAX_CONNECTIONS_PER_USER must be at least 1")
if DRIVER_LIVE_UPDATE_SECONDS < 1:
    raise ImproperlyConfigured("DRIVER_LIVE_UPDATE_SECONDS must be at least 1")
if DRIVER_LIVE_KEEPALIVE_SECONDS < 0:
    raise ImproperlyConfigured("DRIVER_LIVE_KEEPALIVE_SECONDS must be 0 (off) or more")

# --- Logging ------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")  # "plain" or "json"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Charge point id and message id on every OCPP log line.
    "filters": {"ocpp_context": {"()": "monitoring.logging.OcppContextFilter"}},
    "formatters": {
        "plain": {
            "()": "monitoring.logging.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "monitoring.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["ocpp_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
