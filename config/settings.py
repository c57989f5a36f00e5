"""Switchboard settings.

Everything comes from the environment through django-environ; `.env.example`
names every variable. The defaults are the embedded set-up (SQLite, a
filesystem Celery broker under ./var, the sandbox provider) so that a fresh
clone runs with no services. Production imports this module from
`config/settings_production.py`, which removes the unsafe defaults.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Local state of the embedded set-up: SQLite file, filesystem broker, uploads.
VAR_DIR = Path(env("SWITCHBOARD_VAR_DIR", default=str(BASE_DIR / "var")))

# Development default only; config.settings_production refuses to start without a real one.
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production-5b1d9c")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.UnfoldConfig",  # django-unfold with our admin site (config/admin_site.py)
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "phonenumber_field",
    "django_celery_beat",
    "axes",
    "contacts",
    "messaging",
    "campaigns",
    "automations",
    "localization",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.hardening.BadTextMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "localization.middleware.UserLanguageMiddleware",
    "localization.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # login throttling; last, as django-axes asks
]

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one user name, or
# from one address, logins are refused for LOGIN_COOLOFF_MINUTES with a page that says so.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("LOGIN_THROTTLING", default=True)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # per account and, separately, per address
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_VERBOSE = False

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'switchboard.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web process and the Celery worker share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

TIME_ZONE = env("TIME_ZONE", default="Europe/Rome")
USE_TZ = True

# --- Languages (issue 14) ---------------------------------------------------------------------
# Staff see Italian or English: their remembered choice (user menu), else the language cookie, else
# the browser's Accept-Language, else LANGUAGE_CODE. Catalogues live in locale/ (compiled .mo files
# are committed, so a fresh clone shows Italian with no gettext installed); see README "Languages".
LANGUAGES = [("it", "Italiano"), ("en", "English")]
LANGUAGE_CODE = env("LANGUAGE_CODE", default="it")
USE_I18N = True
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale" / "vendor"]
# Our date and number formats on top of Django's (25/12/2026 in both languages, 1.234,56 in Italian).
FORMAT_MODULE_PATH = ["config.formats"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 20000  # admin bulk actions on big pages

LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "/admin/"

# --- Switchboard -------------------------------------------------------------
SWITCHBOARD_DEFAULT_COUNTRY = env("SWITCHBOARD_DEFAULT_COUNTRY", default="IT").upper()
PHONENUMBER_DEFAULT_REGION = SWITCHBOARD_DEFAULT_COUNTRY
PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_FORMAT = "E164"

# Fernet keys, comma separated, newest first: MultiFernet encrypts with the
# first and decrypts with any, so rotation is "prepend a key, re-save".
# The development default is derived from SECRET_KEY; production requires one.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])

# Provider classes by dotted path; the registry rejects duplicate slugs.
SWITCHBOARD_PROVIDERS = env.list(
    "SWITCHBOARD_PROVIDERS",
    default=[
        "messaging.providers.sandbox.SandboxProvider",
        "messaging.providers.qlara.QlaraProvider",
        "messaging.providers.spoki.SpokiProvider",
        "messaging.providers.myoperator.MyOperatorProvider",
        "messaging.providers.spryng.SpryngProvider",
    ],
)
HTTP_LOG_RETENTION_DAYS = env.int("HTTP_LOG_RETENTION_DAYS", default=14)
PROVIDER_HTTP_TIMEOUT = env.float("PROVIDER_HTTP_TIMEOUT", default=10.0)
IMPORT_MAX_UPLOAD_MB = env.int("IMPORT_MAX_UPLOAD_MB", default=200)
# --- Contact imports: what an uploaded file may expand to (issue 8/13), checked while streaming
IMPORT_MAX_COLUMNS = env.int("IMPORT_MAX_COLUMNS", default=1000)
IMPORT_MAX_CELL_CHARS = env.int("IMPORT_MAX_CELL_CHARS", default=32767)  # Excel's own limit per cell
IMPORT_MAX_CELLS = env.int("IMPORT_MAX_CELLS", default=100_000_000)
IMPORT_MAX_UNCOMPRESSED_MB = env.int("IMPORT_MAX_UNCOMPRESSED_MB", default=1024)  # an .xlsx, unzipped
IMPORT_MAX_COMPRESSION_RATIO = env.int("IMPORT_MAX_COMPRESSION_RATIO", default=100)  # per part of an .xlsx
# A running import whose heartbeat is older than this has lost its worker: Resume is allowed.
IMPORT_STALE_SECONDS = env.int("IMPORT_STALE_SECONDS", default=60)

# --- Celery -----------------------------------------------------------------
# Embedded default: a filesystem broker under ./var that `bin/up` serves with a
# real worker process. Production sets CELERY_BROKER_URL=redis://...
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery-broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)  # kombu expects the folder to exist
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),  # kombu's default is ./control
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=6 * 60 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=6 * 60 * 60 - 60)
CELERY_TASK_ACKS_LATE = True  # a killed worker's task is redelivered; tasks resume from their cursor
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# One queue per kind of work so a big import never delays delivery receipts.
CELERY_TASK_ROUTES = {
    "contacts.tasks.*": {"queue": "imports"},
    "messaging.tasks.sync_*": {"queue": "sync"},
    "messaging.tasks.send_*": {"queue": "sending"},
    "messaging.tasks.process_webhook*": {"queue": "webhooks"},
    "campaigns.tasks.*": {"queue": "sending"},
}
CELERY_QUEUES_ALL = "default,imports,sync,sending,webhooks"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Webhooks in (issue 11) ------------------------------------------------
# The address providers reach us at; webhook URLs shown to staff are built from it.
SWITCHBOARD_PUBLIC_URL = env("SWITCHBOARD_PUBLIC_URL", default="http://127.0.0.1:8000")
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=256 * 1024)
WEBHOOK_DRAIN_BATCH = env.int("WEBHOOK_DRAIN_BATCH", default=200)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=5)
# Each web process nudges the drainer at most this often (seconds; 0 = never, beat drains anyway).
WEBHOOK_KICK_SECONDS = env.float("WEBHOOK_KICK_SECONDS", default=1.0)
# PostgreSQL: each web process's request threads share their durable commits through one writer
# thread (messaging/webhooks/group_commit.py); a request still waits for the commit holding its
# row, and gets 503 + Retry-After if that commit fails or takes longer than the timeout (seconds).
WEBHOOK_GROUP_COMMIT = env.bool("WEBHOOK_GROUP_COMMIT", default=True)
WEBHOOK_COMMIT_TIMEOUT = env.float("WEBHOOK_COMMIT_TIMEOUT", default=10.0)
# A reply this long after one of our campaign messages counts as "replied" for that campaign.
INBOUND_REPLY_WINDOW_HOURS = env.int("INBOUND_REPLY_WINDOW_HOURS", default=72)
INBOUND_OPT_OUT_KEYWORDS = env.list(
    "INBOUND_OPT_OUT_KEYWORDS", default=["STOP", "ARRESTA", "STOP ALL", "UNSUBSCRIBE", "CANCELLAMI"]
)
# Empty turns opting back in by message off (where the law asks for a written opt-in).
INBOUND_OPT_IN_KEYWORDS = env.list("INBOUND_OPT_IN_KEYWORDS", default=["START", "ISCRIVIMI"])
CELERY_TASK_ROUTES["messaging.webhooks.*"] = {"queue": "webhooks"}

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["contacts.permissions.RolePermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "contacts.pagination.FastPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Only our own JSON parser: it refuses NUL characters and lone surrogates anywhere in a body.
    "DEFAULT_PARSER_CLASSES": [
        "config.hardening.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# --- Hardening (issue 8) ------------------------------------------------------------------------
# The API schema, its docs and the API root list every path: logged-in users only unless public.
SWITCHBOARD_API_SCHEMA_PUBLIC = env.bool("SWITCHBOARD_API_SCHEMA_PUBLIC", default=False)
# Largest page a client may ask for with ?page_size=.
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=500)
# Numbers typed into filters and custom fields: at most this many digits and this exponent,
# checked on the text before any conversion (1e4000000 must not become a huge integer).
NUMBER_MAX_DIGITS = env.int("NUMBER_MAX_DIGITS", default=30)
NUMBER_MAX_EXPONENT = env.int("NUMBER_MAX_EXPONENT", default=30)
# gunicorn's --timeout (bin/up and production): a request running longer is killed.
REQUEST_TIME_LIMIT_SECONDS = env.int("REQUEST_TIME_LIMIT_SECONDS", default=30)
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": "Contacts, lists, templates, campaigns and provider accounts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.AllowAny"
        if SWITCHBOARD_API_SCHEMA_PUBLIC
        else "rest_framework.permissions.IsAuthenticated"
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status"; name each enum after its model so clients get stable names.
    "ENUM_NAME_OVERRIDES": {
        "ImportStatusEnum": "contacts.imports.models.ContactImport.Status",
        "ExportStatusEnum": "contacts.imports.models.ContactExport.Status",
        "SyncRunStatusEnum": "messaging.sync.models.SyncRun.Status",
        "SyncConflictStatusEnum": "messaging.sync.models.SyncConflict.Status",
        "MessageStatusEnum": "messaging.message_models.Message.Status",
        "MessageDirectionEnum": "messaging.message_models.Message.Direction",
        "SyncDirectionEnum": "messaging.sync.models.SyncRun.Direction",
        "CampaignStatusEnum": "campaigns.models.Campaign.Status",
        "CampaignChannelEnum": "campaigns.models.Campaign.Channel",
        # automations/api.py trigger/action "channel": the same values as campaigns' but plain labels,
        # so a separate set; without a name drf-spectacular invents "ChannelD4cEnum" (W001).
        "AutomationChannelEnum": ["sms", "whatsapp", "rcs", "voice"],
    },
}

# --- Automations (issue 12) ---------------------------------------------------
# Automated messages go out only inside this daily window of the company's time zone
# ("" sends at any hour); date triggers use the contact's zone, else this one.
AUTOMATIONS_SENDING_WINDOW = env("AUTOMATIONS_SENDING_WINDOW", default="08:00-21:00")
AUTOMATIONS_TIME_ZONE = env("AUTOMATIONS_TIME_ZONE", default=TIME_ZONE)
# Staff notifications: console on the embedded default, SMTP from EMAIL_URL in production.
if env("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- Logging ----------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

from .unfold import UNFOLD  # noqa: E402, F401  (kept apart: it is long and only about the admin's look)

# --- Campaigns (issue 10) ------------------------------------------------------
# The frequency cap shared by every campaign: at most N marketing messages per contact
# per day / per week (0: no cap). Held-back recipients are counted as "skipped".
SWITCHBOARD_FREQUENCY_CAP_PER_DAY = env.int("SWITCHBOARD_FREQUENCY_CAP_PER_DAY", default=0)
SWITCHBOARD_FREQUENCY_CAP_PER_WEEK = env.int("SWITCHBOARD_FREQUENCY_CAP_PER_WEEK", default=0)
