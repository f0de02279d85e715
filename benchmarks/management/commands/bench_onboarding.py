"""`manage.py bench_onboarding --patients 5000`: onboard a clinic's patients at every stage
from one file and print how long the preview and the recording take (issue 16's target: 5,000
patients with their courses in under a minute on PostgreSQL). Run it on a scratch database: it
adds a clinic of its own each run.
"""

from __future__ import annotations

import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from accounts.roles import Role, grant_role
from benchmarks.onboarding import onboarding_csv
from benchmarks.report import Report, verdict
from monitoring.models import ScheduledCheck
from patients.models import Clinic, InfusionCourse, Patient
from patients.onboarding import services
from patients.onboarding.services import onboarding_read, onboarding_record, onboarding_stage

TARGET_SECONDS = 60


class Command(BaseCommand):
    help = "Time onboarding N patients with their courses from one CSV file (scratch database)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--patients", type=int, default=5000)

    def handle(self, *args, patients: int, **options) -> None:
        from django.contrib.auth import get_user_model

        stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
        clinic = Clinic.objects.create(name=f"Onboarding bench {stamp}", code=f"onb-{stamp}")
        user = get_user_model().objects.create(username=f"onboarder-{stamp}")
        nurse = get_user_model().objects.create(username=f"nurse-{stamp}")
        grant_role(user, Role.CLINIC_STAFF)
        clinic.staff.add(user, nurse)
        clinic.nurses.add(nurse)
        today = clinic.today()
        content = onboarding_csv(patients=patients, today=today, nurse=nurse.username)
        report = Report()
        report.note(
            f"{patients:,} patients, {len(content) / 1024:,.0f} KiB; {connection.vendor}; "
            f"{os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.1f}"
        )

        tick = time.perf_counter()
        preview = onboarding_read(clinic=clinic, content=content)
        report.add("preview (read and check)", f"{time.perf_counter() - tick:.1f} s")
        if not preview.ok:
            for problem in preview.problems[:10]:
                self.stderr.write(str(problem))
            self.stdout.write(report.render())
            return

        planning = []
        real_reconcile = services.reconcile_in_batches

        def timed_reconcile(*args, **kwargs):
            # The schedules' share of the recording: planning and storing every check.
            started = time.perf_counter()
            try:
                return real_reconcile(*args, **kwargs)
            finally:
                planning.append(time.perf_counter() - started)

        services.reconcile_in_batches = timed_reconcile
        tick = time.perf_counter()
        try:
            onboarding, _ = onboarding_stage(
                clinic=clinic, content=content, file_name="bench.csv", uploaded_by=user
            )
            # Inside an outer transaction, so that its commit, where PostgreSQL runs the
            # deferred foreign-key checks of every row stored, is timed on its own.
            with transaction.atomic():
                outcome = onboarding_record(onboarding=onboarding, recorded_by=user)
                committing = time.perf_counter()
            committed = time.perf_counter() - committing
        finally:
            services.reconcile_in_batches = real_reconcile
        seconds = time.perf_counter() - tick
        checks = ScheduledCheck.objects.filter(patient__clinic=clinic).count()
        courses = InfusionCourse.objects.filter(patient__clinic=clinic).count()
        stored = Patient.objects.filter(clinic=clinic).count()
        report.add(
            f"onboard {outcome.created:,} patients, {outcome.courses:,} courses",
            f"{seconds:.1f} s ({stored / seconds:.0f} patients/s; {checks:,} checks planned)",
            verdict(seconds < TARGET_SECONDS, f"< {TARGET_SECONDS} s"),
        )
        report.add(
            "  of which: planning and storing the schedules",
            f"{sum(planning):.1f} s ({checks / sum(planning):,.0f} checks/s)",
        )
        report.add(
            "  of which: the commit (deferred foreign-key checks of every row)",
            f"{committed:.1f} s",
        )
        report.add(
            "  of which: reading the file twice, patients, courses, history and audit",
            f"{seconds - sum(planning) - committed:.1f} s",
        )
        if (stored, courses) != (patients, outcome.courses):
            raise CommandError(f"Stored {stored} patients and {courses} courses, not all of them.")
        self.stdout.write(report.render())
