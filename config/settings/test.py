"""Test runs: SQLite unless DATABASE_URL points at PostgreSQL (as CI does)."""

from .base import *  # noqa: F403

SECRET_KEY = "test-key-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

# Hashing passwords properly is slow on purpose; tests do not need that.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
