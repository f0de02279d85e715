# Sourced by scripts/run (and by tests/portal/test_links.py, which checks the links it makes):
# the environment the web server, the worker and beat share. PORT (default 8000) is where the
# app serves; SITE_URL, unless given, follows it, so links in e-mails, the calendar feed and
# invitations point where this copy serves.
port=${PORT:-8000}
export DJANGO_SETTINGS_MODULE=config.settings.local
export SITE_URL="${SITE_URL:-http://127.0.0.1:$port}"
