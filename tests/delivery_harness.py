"""Real parts for the delivery tests: an SMTP server on loopback (aiosmtpd), a Celery worker
process, and a private Redis server that a test can stop and start again."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email import message_from_bytes
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, *, timeout: float = 30, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.")


class Mailbox:
    """An aiosmtpd handler keeping every accepted message. With `stall_first` set it holds the
    first DATA until `release` is set and then refuses it (451), as a server that never
    accepted the message a dying worker was sending. With `stall_after_accepting` set it takes
    the first message and then holds the client's QUIT until `release` is set, as a server whose
    client died after the message was delivered and before it could say so. An address in
    `refuse` is answered 550 at RCPT, as a server with no such mailbox; one in `defer` 451."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse: set[str] = set()
        self.defer: set[str] = set()
        self.stall_first = False
        self.stall_after_accepting = False
        self.stalled = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        if address in self.defer:
            return "451 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.stall_first and not self.stalled.is_set():
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Try again later"
        message = message_from_bytes(envelope.content)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        if self.stall_after_accepting and not self.stalled.is_set():
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "221 Bye"

    def to(self, address: str) -> list:
        with self._lock:
            return [message for rcpt, message in self.messages if address in rcpt]


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self._controller = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class RedisServer:
    """A redis-server of the test's own, on a free port, that keeps nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process = None

    def start(self) -> None:
        options = [
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self._process = subprocess.Popen(
            [shutil.which("redis-server"), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10, what="redis-server to start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


def worker_environment(*, database_name: str, broker_url: str, smtp_port: int) -> dict:
    # Celery reads CELERY_BROKER_URL from the environment before any setting: a value left in
    # the shell would send the child's tasks to another broker than the one under test.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DJANGO_") and k != "CELERY_BROKER_URL"
    }
    database_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{database_name}"
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=database_url,
        REDIS_URL=broker_url,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        NOTIFICATION_RETRY_BASE_SECONDS="1",
        NOTIFICATION_RETRY_MAX_SECONDS="2",
        NOTIFICATION_MAX_ATTEMPTS="4",
        NOTIFICATION_CLAIM_LEASE_SECONDS="3",
    )
    return env


class WorkerProcess:
    """`celery -A config worker` in its own process group, logging to a file."""

    def __init__(self, env: dict, *, concurrency: int = 1) -> None:
        self.env = env
        self.concurrency = concurrency
        self.log = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
        self._process = None

    def start(self) -> None:
        self.log.write_text("")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={self.concurrency}",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: "ready." in self.log.read_text(), timeout=60, what="the worker")

    def kill(self) -> None:
        """SIGKILL to the whole process group: no warm shutdown, no acknowledgement."""
        os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=10)
        self._process = None

    def stop(self) -> None:
        if self._process is not None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
            self._process = None

    def output(self) -> str:
        return self.log.read_text()


def manage(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
