"""The alert scans and the sweep, against a bare SQL count of the overdue open checks (the
floor for any scan that must at least find them), in the same run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from benchmarks.timing import QueryCounter, Timed, timed
from monitoring.alerts.scans import SCANS, clinics_alerting, scans_run
from monitoring.models import Notification
from monitoring.outbox.delivery import due_batches

BARE_OVERDUE_COUNT = """
SELECT count(*) FROM monitoring_scheduledcheck c
JOIN patients_patient p ON p.id = c.patient_id
WHERE c.completed_on IS NULL AND c.waived_at IS NULL AND c.cancelled_at IS NULL
  AND c.overdue_after < %s AND p.status IN ('active', 'monitoring_complete')
"""


@dataclass
class ScanFigures:
    bare: Timed
    overdue_rows: int
    first_seconds: float
    first_queries: int
    created: int
    every: Timed  # every scan, nothing new
    alone: dict[str, Timed]
    sweep: Timed


def scans_measure(*, now: datetime, runs: int) -> ScanFigures:
    today = now.date()

    def bare_count():
        with connection.cursor() as cursor:
            cursor.execute(BARE_OVERDUE_COUNT, [today])
            return cursor.fetchone()[0]

    bare = timed(bare_count, runs=runs)
    before = Notification.objects.count()
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        first = timed(lambda: scans_run(now=now), runs=1, warm_up=False)
    created = Notification.objects.count() - before
    # Fresh statistics for the table the first scan filled, as autovacuum gathers them soon
    # after; without them PostgreSQL plans the next scans for an empty outbox.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    later = now + timedelta(minutes=15)
    every = timed(lambda: scans_run(now=later), runs=runs)
    clinics = clinics_alerting(later)
    alone = {
        name: timed(lambda scan=scan: scan(now=later, clinics=clinics), runs=runs)
        for name, scan in SCANS.items()
    }
    sweep = timed(lambda: due_batches(now=later), runs=runs)
    return ScanFigures(
        bare=bare,
        overdue_rows=bare.value,
        first_seconds=first.seconds,
        first_queries=counter.count,
        created=created,
        every=every,
        alone=alone,
        sweep=sweep,
    )
