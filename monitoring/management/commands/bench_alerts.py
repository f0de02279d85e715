"""Benchmark the alert scans on a large clinic: 10,000 two-course patients (about 3 million
scheduled checks) with a realistic few overdue checks each and some unacknowledged results.

Figures, each the median of --runs runs unless it can only happen once:
- a bare SQL count of the overdue open checks, the floor any overdue scan is compared with;
- the first scan, which creates every notification at once (once);
- a scan that finds nothing new: the usual case every 15 minutes;
- the scan on the next day, creating that day's newly overdue checks;
- the sweep's query for recipients with something to deliver.
Run it on a scratch database: scripts/bench-alerts does.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring.alert_scans import SCANS, clinics_alerting, scans_run
from monitoring.bench_data import bench_clinic_populate
from monitoring.delivery import due_batches
from monitoring.models import Analyte, LabReport, LabResult, Notification, ScheduledCheck
from patients.models import Patient

BARE_OVERDUE_COUNT = """
SELECT count(*) FROM monitoring_scheduledcheck c
JOIN patients_patient p ON p.id = c.patient_id
WHERE c.completed_on IS NULL AND c.waived_at IS NULL AND c.cancelled_at IS NULL
  AND c.overdue_after < %s AND p.status IN ('active', 'monitoring_complete')
"""


class Command(BaseCommand):
    help = "Time the alert scans over a large clinic (scratch PostgreSQL database)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--patients", type=int, default=10_000)
        parser.add_argument("--runs", type=int, default=5)

    def handle(self, *args, patients: int, runs: int, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Run this on PostgreSQL (scripts/bench-alerts).")
        self.runs = runs
        now = timezone.now()
        started = time.perf_counter()
        clinic, people = bench_clinic_populate(count=patients, today=now.date())
        self.staff(clinic, people)
        flagged = self.unacknowledged_results(people, now)
        checks = ScheduledCheck.objects.count()
        self.line("cores", str(os.cpu_count()))
        self.line(
            "data set",
            f"{patients:,} patients, {checks:,} scheduled checks, {flagged} results awaiting "
            f"acknowledgement, built in {time.perf_counter() - started:.0f} s",
        )
        today = clinic.today(now)
        bare = self.timed(lambda: self.bare_count(today))
        overdue = self.bare_count(today)
        self.line("bare SQL count of overdue checks", f"{bare * 1000:.0f} ms ({overdue:,} rows)")

        first, queries = self.scan(now)
        created = Notification.objects.count()
        self.line(
            "first scan (creates every alert)",
            f"{first:.2f} s, {queries} queries, {created:,} notifications",
        )
        steady = self.timed(lambda: self.scan(now + timedelta(minutes=15)))
        _, queries = self.scan(now + timedelta(minutes=30))
        self.line(
            "scan with nothing new",
            f"{steady * 1000:.0f} ms median of {runs}, {queries} queries, "
            f"{steady / bare:.1f}x the bare count",
        )
        later = now + timedelta(minutes=45)
        clinics = clinics_alerting(later)
        for name, scan in SCANS.items():
            alone = self.timed(lambda scan=scan: scan(now=later, clinics=clinics))
            ratio = f", {alone / bare:.1f}x the bare count" if name == "overdue" else ""
            self.line(f"  {name} scan alone, nothing new", f"{alone * 1000:.0f} ms{ratio}")
        before = Notification.objects.count()
        next_day, queries = self.scan(now + timedelta(days=1))
        self.line(
            "scan the next day",
            f"{next_day * 1000:.0f} ms, {queries} queries, "
            f"{Notification.objects.count() - before:,} new notifications",
        )
        sweep = self.timed(lambda: due_batches(now=now + timedelta(days=1)))
        self.line(
            "sweep: recipients with mail due",
            f"{sweep * 1000:.0f} ms median of {runs}, 1 query, "
            f"{len(due_batches(now=now + timedelta(days=1))):,} batches",
        )

    def staff(self, clinic, people) -> None:
        users = get_user_model().objects
        nurses = [users.create(username=f"bench-nurse-{clinic.pk}-{n}") for n in range(2)]
        clinic.nurses.add(*nurses)
        clinic.lead = users.create(username=f"bench-lead-{clinic.pk}")
        clinic.save()
        # A third of the patients have a named nurse; the rest go to the nurse group.
        Patient.objects.filter(pk__in=[p.pk for p in people[::3]]).update(named_nurse=nurses[0])

    def unacknowledged_results(self, people, now) -> int:
        """One patient in fifty has a red or critical platelet count nobody acknowledged."""
        analyte = Analyte.objects.get(code="platelets")
        user = get_user_model().objects.create(username=f"bench-entry-{now:%H%M%S%f}")
        chosen = people[::50]
        with transaction.atomic():
            reports = LabReport.objects.bulk_create(
                LabReport(
                    patient=patient,
                    panel="blood_count",
                    sample_collected_on=now.date() - timedelta(days=2),
                    entered_by=user,
                )
                for patient in chosen
            )
            LabResult.objects.bulk_create(
                LabResult(
                    report=report,
                    patient_id=report.patient_id,
                    sample_collected_on=report.sample_collected_on,
                    analyte=analyte,
                    value_text="45" if n % 2 else "90",
                    unit="10^9/L",
                    canonical_value=45 if n % 2 else 90,
                    tier="critical" if n % 2 else "red",
                    value_tier="critical" if n % 2 else "red",
                    tier_since=now - timedelta(hours=30),
                )
                for n, report in enumerate(reports)
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return len(chosen)

    @staticmethod
    def bare_count(today) -> int:
        with connection.cursor() as cursor:
            cursor.execute(BARE_OVERDUE_COUNT, [today])
            return cursor.fetchone()[0]

    @staticmethod
    def scan(now) -> tuple[float, int]:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            scans_run(now=now)
            elapsed = time.perf_counter() - started
        # Savepoints are bookkeeping, not work: count the statements that read or write.
        return elapsed, sum(not q["sql"].startswith(("SAVEPOINT", "RELEASE")) for q in queries)

    def timed(self, work) -> float:
        work()  # warm-up
        timings = []
        for _ in range(self.runs):
            started = time.perf_counter()
            work()
            timings.append(time.perf_counter() - started)
        return statistics.median(timings)

    def line(self, label: str, value: str) -> None:
        self.stdout.write(f"{label:<36} {value}")
