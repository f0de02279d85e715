"""The production way to serve the app: collectstatic, then gunicorn with its config file and the
production settings. WhiteNoise serves the hashed, compressed static files with long cache
headers, and plain HTTP is sent to HTTPS."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
import tempfile
import urllib.request

import pytest
from django.db import connection

from tests.app_server import ROOT, AppServer, database_url


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, **headers):
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    try:
        return opener.open(request, timeout=10)
    except urllib.error.HTTPError as error:
        return error


@pytest.fixture(scope="module")
def production_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        database = database_url(connection.settings_dict)
    static_root = tempfile.mkdtemp(prefix="lemtrada-static-")
    env = {
        "DJANGO_SECRET_KEY": "a-production-like-key-for-this-test-only-0123456789abcdef",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": static_root,
    }
    server = AppServer(
        database=database,
        settings="config.settings.production",
        extra_env=env,
        gunicorn_args=("-c", "config/gunicorn.py", "--workers", "1"),
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=server.environment,
        check=True,
    )
    server.start()
    yield server
    server.stop()


def test_plain_http_is_sent_to_https(production_server):
    response = fetch(f"{production_server.url}/sign-in/")
    assert response.status == 301
    assert response.headers["Location"].startswith("https://")


def test_pages_and_hashed_static_files_are_served_behind_the_https_proxy(production_server):
    page = fetch(f"{production_server.url}/sign-in/", **{"X-Forwarded-Proto": "https"})
    assert page.status == 200
    assert "max-age=" in page.headers["Strict-Transport-Security"]
    stylesheet = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page.read().decode())
    assert stylesheet, "the stylesheet's name carries its content hash"

    css = fetch(
        production_server.url + stylesheet.group(1),
        **{"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"},
    )
    assert css.status == 200
    assert css.headers["Content-Encoding"] == "gzip"
    assert "immutable" in css.headers["Cache-Control"]
    assert b".table-responsive" in gzip.decompress(css.read())
