"""The app as a newcomer or a clinic runs it: gunicorn in its own process, on loopback, using the
test run's database, so the browser tests exercise the real server and not the test client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.delivery_harness import ROOT, free_port, wait_for


def database_url(settings_dict: dict) -> str:
    """The test database as a DATABASE_URL for the server process."""
    name = settings_dict["NAME"]
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{name}"
    user = settings_dict.get("USER") or "postgres"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    password = settings_dict.get("PASSWORD")
    credentials = f"{user}:{password}" if password else user
    return f"postgres://{credentials}@{host}:{port}/{name}"


class AppServer:
    """gunicorn serving config.wsgi with the test settings, its log in a file."""

    def __init__(
        self,
        *,
        database: str,
        settings: str = "config.settings.test",
        extra_env: dict | None = None,
        gunicorn_args: tuple[str, ...] = ("--workers", "2"),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.var_dir = Path(tempfile.mkdtemp(prefix="lemtrada-browser-"))
        self.log = self.var_dir / "gunicorn.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        env.pop("REDIS_URL", None)
        env.update(
            DJANGO_SETTINGS_MODULE=settings,
            DATABASE_URL=database,
            # Its own file-system broker: alerts it queues stay out of any shared queue.
            VAR_DIR=str(self.var_dir),
            # Its workers share one cache, in that folder (config/settings/test.py).
            TEST_SERVER_SHARED_CACHE="1",
            SITE_URL=self.url,
        )
        env.update(extra_env or {})
        self.gunicorn_args = gunicorn_args
        self.environment = env
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                *self.gunicorn_args,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--access-logfile",
                "-",
                "config.wsgi",
            ],
            cwd=ROOT,
            env=self.environment,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._answers, timeout=60, what=f"gunicorn on {self.url} (log: {self.log})")

    def _answers(self) -> bool:
        if self._process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{self.log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=30)
            self._process = None
