"""Settings shared by every environment.

Everything a deployment may change is read from the environment (django-environ). With nothing
set, the app runs on embedded defaults: SQLite in the project folder and a file-system Celery
broker, so a newcomer needs no server at all.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

# Working files of a machine without servers: the file-system Celery broker, beat's schedule and
# (in development) e-mails. VAR_DIR moves them, e.g. for a test's own server process.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles, so runserver serves static files the same way gunicorn does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "auditlog",
    "accounts",
    "patients",
    "monitoring",
    "audit",
    "portal",
    "submissions",
    "labfeeds",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ from the app itself in every setting, so one gunicorn needs no web server
    # in front of it for stylesheets and scripts.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The user's permissions, clinics and clinic clock from the session, not three queries.
    "patients.access_snapshot.AccessSnapshotMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Staff who have not passed their second factor this session reach only the sign-in steps.
    "accounts.middleware.SecondFactorRequiredMiddleware",
    "accounts.middleware.NoStoreForSignedInMiddleware",
    "accounts.middleware.ClinicTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A NUL or other control character in a parameter is a clear 400, before any view reads it
    # (after sign-in and messages, so the 400 page is drawn like every other page).
    "accounts.request_guard.ControlCharacterGuardMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records which user made each change in the history tables, and who and from where in the
    # audit trail.
    "simple_history.middleware.HistoryRequestMiddleware",
    "accounts.client_address.AuditlogClientAddressMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username and address are refused before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.signed_in_as",
            ],
            "builtins": ["django.templatetags.static"],
        },
    },
    # The worklist's rows only, drawn for many patients on every request
    # (config.template_env says why).
    {
        "NAME": "jinja2",
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "config.template_env.environment"},
    },
]

# SQLite in the project folder unless DATABASE_URL names another database (PostgreSQL in
# production, through psycopg 3).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker write to one file: take the write lock when a
    # transaction starts and wait for it, rather than fail with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# The date formats a clinic can choose (patients.Clinic.date_locale). Each language is activated
# for that clinic's users and messages; only its formats differ, the words are English in all.
# The labels show what each prints.
LANGUAGES = [
    ("en-gb", "English (UK): 21 Nov 2026, 14:30"),
    ("en-us", "English (US): Nov. 21, 2026, 2:30 p.m."),
    ("en-iso", "English, ISO 8601 dates: 2026-11-21 14:30"),
]
# Our own format modules, read before Django's: en_GB with the 24-hour clock, and en_Iso, which
# Django has none of (it falls back to "en" for everything the module does not set).
FORMAT_MODULE_PATH = ["config.formats"]
# Events are stored in UTC; each clinic's own time zone decides what "today" means there.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Bootstrap is vendored under static/vendor so the app works with no internet at all.
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sign-in hardening. Django gives a signed-in user a new session id; the session ends after
# SESSION_IDLE_MINUTES without a request (each request saves it, pushing the expiry on) and when
# the browser closes.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
# Pushing the expiry on must not write back a session another request changed meanwhile.
SESSION_ENGINE = "accounts.sessions"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
# django-axes: five failed passwords for one username from one address lock that pair out for
# 15 minutes; a success clears the count. Keyed on the pair so that one person guessing cannot
# lock a whole ward out of a shared address, nor lock a nurse out from everywhere.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# How many proxies of ours stand in front of the app (accounts/client_address.py).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "accounts.client_address.client_address"
# Second factor (django-otp, TOTP): the issuer name shown in the authenticator app.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Lemtrada monitor")

# Security headers. Every script and stylesheet is served from /static/, so the policy allows
# nothing inline and nothing from elsewhere; the charts are inline SVG, which needs no exception.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
PERMISSIONS_POLICY = {
    feature: []
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "interest-cohort")
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# The audit trail (django-auditlog): who changed what, from which address, with old and new
# values. Reads of a patient's record are logged by the views (audit/access.py).
AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_DISABLE_REMOTE_ADDR = False

# Lab result CSV uploads larger than this are refused before they are read.
# 16 MiB holds a 100,000-row export (about 4 MiB) with room for long lab names.
RESULT_IMPORT_MAX_BYTES = env.int("RESULT_IMPORT_MAX_BYTES", default=16 * 1024 * 1024)
# An import is recorded this many reports per transaction, each batch holding the clinic's lock
# and its patients' rows only for its own length (50 reports took 2-3 s on the 2-core machine,
# until issue 18 makes recording set-based), so a crash loses one batch at most.
RESULT_IMPORT_BATCH_REPORTS = env.int("RESULT_IMPORT_BATCH_REPORTS", default=50)
# The upload page records a file of up to this many results while the user waits; a larger
# one goes to a Celery task and the page shows its progress.
RESULT_IMPORT_INLINE_RESULTS = env.int("RESULT_IMPORT_INLINE_RESULTS", default=300)
# One import task works this long, then queues its continuation and ends, so a worker restart
# or deploy waits for one short run at most. Each run reads the file again (about 10 s for
# 100,000 rows), hence not much shorter. The task has its own time limits, above this.
RESULT_IMPORT_TASK_SECONDS = env.int("RESULT_IMPORT_TASK_SECONDS", default=120)
# An import with no batch stored for this long lost its run (a worker killed, its message gone):
# the import sweep (beat, every five minutes) queues it again. Three budgets: never a live run.
RESULT_IMPORT_STALLED_SECONDS = env.int("RESULT_IMPORT_STALLED_SECONDS", default=3 * 120)
# The onboarding screen records a file of up to this many patients while the user waits (one
# transaction; about 60 patients a second with their schedules on the 2-core machine, so a
# thousand fits in the web server's 30 s). A larger file is split, or goes through the command.
ONBOARDING_SCREEN_MAX_PATIENTS = env.int("ONBOARDING_SCREEN_MAX_PATIENTS", default=1000)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
# A FHIR post (a lab's Bundle of results) larger than this is refused (413) before it is read.
# A Bundle of a report and its results is a few kilobytes; 5 MB holds a day's batch.
FHIR_MAX_BODY_BYTES = env.int("FHIR_MAX_BODY_BYTES", default=5 * 1024 * 1024)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Celery: Redis when REDIS_URL is set; otherwise a file-system broker under var/, which needs
# no server and still lets a separate worker and beat process share the queue.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
else:
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
# The cache holds the generation tokens that tell every web process when a user's access or
# a flag rule changed (patients.access_snapshot, monitoring.results.rule_cache): it must be
# shared by the processes, so Redis when there is one; a single process (runserver, the
# tests on SQLite) keeps it in memory. Nothing in it is a record: losing it costs re-reads.
# The patient page's body is kept drawn this long at most (patients.page_parts), though any
# change to the record draws it again at once; 0 draws it on every request.
PAGE_PARTS_SECONDS = env.int("PAGE_PARTS_SECONDS", default=10 * 60)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "lemtrada",
            # A cache that does not answer within this is treated as missing, not waited on.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    # Shared by the processes of one host (the web workers, the Celery worker, beat).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
# Redis hands an unacknowledged task to another worker after this long; every countdown and
# time limit below stays well under it, so a retry is never delivered twice.
CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = 60 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web request saving a result must not hang when the broker is down: try briefly, then leave
# the outbox row for the sweep.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_TASK_TIME_LIMIT = 120
# Stated in UTC: a local-time schedule runs twice or not at all on the night clocks change.
# The clinic's own clock (quiet hours, digest time) is applied when each message is sent.
CELERY_BEAT_SCHEDULE = {
    "monitoring-scan": {"task": "monitoring.tasks.run_scans", "schedule": crontab(minute="*/15")},
    "notification-sweep": {"task": "monitoring.tasks.deliver_due", "schedule": 60.0},
    "import-sweep": {"task": "monitoring.tasks.import_sweep", "schedule": 5 * 60.0},
    # Lab messages past their clinic's retention period, emptied at night (labfeeds.retention).
    # The overview's figures (reports.figures.refresh), recomputed every hour.
    "figures-refresh": {"task": "reports.refresh_figures", "schedule": crontab(minute=7)},
    "lab-message-purge": {
        "task": "labfeeds.purge_messages",
        "schedule": crontab(minute=30, hour=2),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# The worklist keeps the members of its "due this week" and "amber" sections this long
# between requests (monitoring/worklist/sections.py).
WORKLIST_MEMBERS_SECONDS = env.int("WORKLIST_MEMBERS_SECONDS", default=60)
# Each worklist row keeps what it read of the patient's record (reports, results, visits, the
# latest note) this long at most (monitoring/worklist/rows.py): any change to the record reads
# it again at once; 0 reads every row on every request.
WORKLIST_ROWS_SECONDS = env.int("WORKLIST_ROWS_SECONDS", default=10 * 60)
# The patient list keeps its count of the patients found this long (patients/selectors.py):
# counting every patient of a large programme is most of the list's SQL. The rows are always
# read fresh.
LIST_COUNT_SECONDS = env.int("LIST_COUNT_SECONDS", default=60)

# The notification outbox (monitoring/delivery.py).
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=6)
NOTIFICATION_RETRY_BASE_SECONDS = env.int("NOTIFICATION_RETRY_BASE_SECONDS", default=60)
NOTIFICATION_RETRY_MAX_SECONDS = env.int("NOTIFICATION_RETRY_MAX_SECONDS", default=30 * 60)
# A claimed batch not marked sent within this time is claimed again (its worker died). Longer
# than the task time limit, so a live worker's claim never lapses.
NOTIFICATION_CLAIM_LEASE_SECONDS = env.int("NOTIFICATION_CLAIM_LEASE_SECONDS", default=5 * 60)
NOTIFICATION_CHANNELS = {"email": "monitoring.outbox.channels.EmailChannel"}
# Links in e-mails point here.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="monitoring@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Reasons for a change are free text (a correction's reason may be a few sentences); the
# library's default is a 100-character column.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
