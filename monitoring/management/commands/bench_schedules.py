"""Benchmark: plan and store the schedules of N two-course patients.

Creates its own clinic (bench-<time>) so it never touches real patients; run it against a
scratch database, e.g. scripts/bench. Prints the figures quoted in the closing notes.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import date, timedelta

from django.core.management.base import BaseCommand
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring.bench_data import bench_course
from monitoring.models import MonitoringProtocol, ScheduledCheck
from monitoring.services import patient_plan, schedule_reconcile
from patients.models import Clinic, InfusionCourse, Patient


class Command(BaseCommand):
    help = "Time planning and storing schedules for N two-course patients (scratch database)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--patients", type=int, default=10_000)

    def handle(self, *args, patients: int, **options) -> None:
        clinic = Clinic.objects.create(
            name="Benchmark clinic", code=f"bench-{timezone.now():%Y%m%d%H%M%S}"
        )
        people = self._patients(clinic, patients)
        self.stdout.write(
            f"{connection.vendor}, {os.cpu_count()} cores, {len(people)} two-course patients"
        )

        started = time.perf_counter()
        planned = sum(len(patient_plan(patient=p).checks) for p in people)
        plan_seconds = time.perf_counter() - started

        with CaptureQueriesContext(connection) as captured:
            schedule_reconcile(patient=people[0])
        per_patient = []
        started = time.perf_counter()
        for patient in people[1:]:
            tick = time.perf_counter()
            schedule_reconcile(patient=patient)
            per_patient.append(time.perf_counter() - tick)
        store_seconds = time.perf_counter() - started

        started = time.perf_counter()
        for patient in people:
            schedule_reconcile(patient=patient)
        noop_seconds = time.perf_counter() - started

        stored = ScheduledCheck.objects.filter(patient__clinic=clinic).count()
        rate = len(per_patient) / store_seconds
        rows = [
            ("checks planned / stored", f"{planned} / {stored}"),
            ("plan only (pure), all patients", f"{plan_seconds:.1f} s"),
            ("queries per reconcile (first)", f"{len(captured)}"),
            ("plan + store, all patients", f"{store_seconds:.1f} s ({rate:.0f} patients/s)"),
            ("  rows per second", f"{stored / store_seconds:.0f}"),
            ("  median / p95 per patient", _median_p95(per_patient)),
            ("re-run (nothing to change)", f"{noop_seconds:.1f} s"),
        ]
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            self.stdout.write(f"{label:<{width}}  {value}")

    def _patients(self, clinic: Clinic, count: int) -> list[Patient]:
        protocol = MonitoringProtocol.objects.get(is_default=True)
        people = Patient.objects.bulk_create(
            Patient(
                clinic=clinic,
                hospital_number=f"B{n:07d}",
                given_name="Bench",
                family_name=f"Patient {n}",
                date_of_birth=date(1980, 1, 1) + timedelta(days=n % 5000),
                sex="F" if n % 3 else "M",
                protocol=protocol,
            )
            for n in range(count)
        )
        courses = []
        for n, patient in enumerate(people):
            first = date(2021, 1, 4) + timedelta(days=n % 1400)
            courses.append(bench_course(patient, 1, first, 5))
            courses.append(bench_course(patient, 2, first + timedelta(days=370), 3))
        InfusionCourse.objects.bulk_create(courses, batch_size=5000)
        return people


def _median_p95(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[int(len(ordered) * 0.95)]
    return f"{statistics.median(ordered) * 1000:.1f} ms / {p95 * 1000:.1f} ms"
