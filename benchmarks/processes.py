"""Child processes of the benchmark (gunicorn, Celery workers) and their peak memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_env(*, redis_url: str, smtp_port: int | None = None) -> dict:
    """config.settings.production as a deployment runs it, on this benchmark's database, with
    plain HTTP on loopback (no TLS redirect) and the benchmark's SECRET_KEY so that the
    sessions it created are valid."""
    db = settings.DATABASES["default"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DATABASE_URL=(
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        SITE_URL="http://127.0.0.1",
        REDIS_URL=redis_url,
    )
    if smtp_port is not None:
        env.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port))
    return env


class Child:
    """A process in its own group, logging to a file, stopped by its group id."""

    def __init__(self, args: list[str], env: dict, *, ready: str) -> None:
        self.log = Path(tempfile.mkstemp(prefix="bench-", suffix=".log")[1])
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while ready not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[2:5]} did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def peak_rss_mb(self) -> dict[int, float]:
        """VmHWM (the resident set's high-water mark) of the process and its children."""
        pids = [self.process.pid, *_children(self.process.pid)]
        return {pid: mb for pid in pids if (mb := _vm_hwm_mb(pid)) is not None}

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def python_module(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found += [int(child), *_children(int(child))]
    return found


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
