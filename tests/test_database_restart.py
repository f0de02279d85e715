"""gunicorn with the production settings keeps database connections open (CONN_MAX_AGE). When
PostgreSQL restarts, the first request on each worker must reconnect, not fail with a 500 on
the dead connection (CONN_HEALTH_CHECKS). The database is a private cluster, so restarting it
disturbs no other test."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import pytest

from tests import postgres_server
from tests.app_server import ROOT, AppServer

pytestmark = pytest.mark.skipif(
    not postgres_server.available(), reason="needs PostgreSQL's initdb and pg_ctl"
)


def fetch_with_session(url: str) -> int:
    # A session cookie makes the request read the session table: the database is used even
    # though nobody is signed in (the answer is the redirect to the sign-in page).
    request = urllib.request.Request(  # noqa: S310
        url, headers={"X-Forwarded-Proto": "https", "Cookie": "sessionid=not-a-session"}
    )
    opener = urllib.request.build_opener(NoRedirect)
    try:
        return opener.open(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def database():
    server = postgres_server.PostgresServer()
    server.start()
    yield server
    server.stop()


def test_a_database_restart_costs_no_failed_request(database):
    env = {
        "DJANGO_SECRET_KEY": "a-production-like-key-for-this-test-only-0123456789abcdef",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    app = AppServer(
        database=database.url,
        settings="config.settings.production",
        extra_env=env,
        gunicorn_args=("-c", "config/gunicorn.py", "--workers", "1"),
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=app.environment,
        check=True,
        timeout=300,
    )
    app.start()
    try:
        # Several requests, so the one worker holds its kept connection.
        assert [fetch_with_session(f"{app.url}/patients/") for _ in range(3)] == [302] * 3
        database.restart()
        assert [fetch_with_session(f"{app.url}/patients/") for _ in range(3)] == [302] * 3
    finally:
        app.stop()
