"""Test runs: SQLite unless DATABASE_URL points at PostgreSQL (as CI does)."""

import os
import tempfile
from pathlib import Path

import jinja2

from .base import *  # noqa: F403
from .base import DATABASES, REDIS_URL, TEMPLATES, VAR_DIR, env

# The demo clinic and the benchmarks have tests of their own; production leaves them out.
INSTALLED_APPS = [*INSTALLED_APPS, "demo", "benchmarks"]  # noqa: F405

SECRET_KEY = "test-key-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

# A Jinja2 template's misspelt name fails the test instead of leaving part of a row blank, as
# production's templates would.
TEMPLATES[1]["OPTIONS"]["undefined"] = jinja2.StrictUndefined

# Hashing passwords properly is slow on purpose; tests do not need that.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# In-memory by default; the Celery worker started by the delivery tests is pointed at an SMTP
# server on loopback through these variables.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_TIMEOUT = 5
# The test client's requests run in the test's own process: its memory is the shared cache, and
# nothing one run keeps (under ids the next run reuses) outlives it.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if env.bool("TEST_SERVER_SHARED_CACHE", default=False):
    # The browser tests' gunicorn (tests/app_server.py) runs several workers: like the web
    # workers of a host without Redis, they share a cache in files, or a change made through one
    # worker (a result saved) would not reach what another keeps (the patient page's parts, a
    # user's access snapshot).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
# Every request computes the worklist's due section afresh; one test keeps it, to show how.
WORKLIST_MEMBERS_SECONDS = 0
LIST_COUNT_SECONDS = 0
# The browser tests' server runs with DEBUG off: WhiteNoise serves static/ from the finders, so
# no collectstatic is needed before a test run.
WHITENOISE_USE_FINDERS = True
# Nothing is collected for tests; without this WhiteNoise warns that the folder is missing.
STATIC_ROOT = None

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The browser tests' server is another process, so the test database must be a file it can
    # open; one per test run, so runs side by side do not share one.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"lemtrada-test-{os.getpid()}.sqlite3")
    }

if not REDIS_URL:
    # Tasks queued by a test stay in this process; the file-system broker would leave them in
    # var/ for the next `scripts/run` worker to find.
    CELERY_BROKER_URL = "memory://"
