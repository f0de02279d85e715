"""The periodic alert scan (beat runs it every 15 minutes)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from monitoring.alerts.scans import scans_run
from monitoring.outbox.tasks import deliver_due


@shared_task(name="monitoring.tasks.run_scans")
def run_scans():
    counts = scans_run(now=timezone.now())
    deliver_due.delay()
    return counts.created
