"""Notification delivery end to end: outbox rows -> the sweep (a Celery task) -> one
deliver_batch task per recipient -> two Celery worker processes (production settings, Redis
broker) -> e-mail to an SMTP server on loopback (aiosmtpd, in this process). Timed from
queueing the sweep to the last message accepted by the SMTP server."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.utils import timezone

from benchmarks.processes import Child, free_port, production_env, python_module
from benchmarks.timing import median
from monitoring.models import Notification, ScheduledCheck
from patients.models import Patient

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per connection


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.count += 1
        return "250 OK"


@dataclass(frozen=True)
class DeliveryFigures:
    messages: int  # per run
    per_second: float
    runs: int
    workers: int


def delivery_measure(
    *, patient_ids: list[int], messages: int, runs: int, redis_url: str, workers: int = 2
) -> tuple[DeliveryFigures, dict[int, float]]:
    counter = Counter()
    smtp = Controller(counter, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = production_env(redis_url=redis_url, smtp_port=smtp.port)
    _purge(redis_url)
    children = [
        Child(
            python_module(
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"bench-{n}-{time.time_ns()}@%h",
            ),
            env,
            ready="ready.",
        )
        for n in range(workers)
    ]
    rates = []
    try:
        for run in range(runs):
            _queue(patient_ids, messages, run)
            before = counter.count
            started = time.perf_counter()
            _send_sweep(redis_url)
            deadline = time.monotonic() + 600
            while counter.count - before < messages:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Only {counter.count - before} of {messages} arrived.")
                time.sleep(0.02)
            rates.append(messages / (time.perf_counter() - started))
        memory = {}
        for child in children:
            memory.update(child.peak_rss_mb())
    finally:
        for child in children:
            child.stop()
        smtp.stop()
    return DeliveryFigures(messages, median(rates), runs, workers), memory


def _queue(patient_ids: list[int], messages: int, run: int) -> None:
    """One at-once escalation each to `messages` recipients, about an open overdue check (still
    worth sending when the worker looks again)."""
    stamp = time.time_ns()
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"bench-mail-{stamp}-{n}", email=f"m{stamp}-{n}@bench.invalid")
        for n in range(messages)
    )
    checks = list(
        ScheduledCheck.objects.open()
        # Of patients still monitored: delivery drops rows about the others (withdrawn,
        # transferred, deceased), and the run would wait for messages that never come.
        .filter(
            patient_id__in=patient_ids,
            patient__status__in=Patient.PLANNED_STATUSES,
            overdue_after__lt=timezone.localdate(),
        )
        .values_list("pk", "patient_id")[:messages]
    )
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(
            key=f"bench-{stamp}-{n}",
            kind=Notification.Kind.ESCALATION,
            delivery=Notification.Delivery.AT_ONCE,
            recipient_user=user,
            patient_id=checks[n % len(checks)][1],
            scheduled_check_id=checks[n % len(checks)][0],
            not_before=now,
            created_at=now,
        )
        for n, user in enumerate(users)
    )


def _send_sweep(redis_url: str) -> None:
    from monitoring.tasks import deliver_due

    deliver_due.apply_async(connection=_connection(redis_url))


def _connection(redis_url: str):
    from config.celery import app

    return app.connection_for_write(redis_url)


def _purge(redis_url: str) -> None:
    with _connection(redis_url) as connection:
        from config.celery import app

        app.control.purge(connection=connection)
