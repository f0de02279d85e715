"""Benchmark the lab-results work: a 10,000-row CSV import (its batches' lock hold and the
longest transaction PostgreSQL saw), the patient list with 10,000
patients, and the patient page of a patient with five years of monthly results.

Server times come from Django's test client in this process (middleware, view, queries and
template; no network). Each page figure is the median of --runs requests, after one warm-up.
Run it on a scratch database: scripts/bench-results does.
"""

from __future__ import annotations

import os
import statistics
import time

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from benchmarks.dataset import dataset_build
from benchmarks.lab_export import csv_of_results
from benchmarks.sessions import signed_in_client
from benchmarks.transactions import LongestTransaction
from monitoring.models import Analyte, LabResult
from monitoring.results import csv_import
from monitoring.results.csv_import import batches
from monitoring.results.entry import ResultInput
from monitoring.results.services import report_record
from patients.models import Clinic, Patient

MONTHLY = {
    "blood_count": [("platelets", "225", "10^9/L"), ("haemoglobin", "137", "g/L")],
    "kidney": [("creatinine", "72", "umol/L")],
    "urine": [("urine_blood", "negative", ""), ("urine_protein", "negative", "")],
    "liver": [("alt", "24", "U/L"), ("ast", "22", "U/L"), ("bilirubin", "9", "umol/L")],
}
QUARTERLY = {"thyroid": [("tsh", "1.8", "mU/L")]}


class QueryCounter:
    """Counts every query, however many (the debug query log keeps only the last 9,000)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class Command(BaseCommand):
    help = "Time the CSV import, the patient list and a patient page (scratch database)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--patients", type=int, default=10_000)
        parser.add_argument("--rows", type=int, default=10_000)
        parser.add_argument("--runs", type=int, default=15)
        parser.add_argument(
            "--import-only", action="store_true", help="Time the CSV import, not the pages."
        )

    def handle(
        self, *args, patients: int, rows: int, runs: int, import_only: bool, **options
    ) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "The benchmark needs PostgreSQL (scripts/bench-results makes a database)."
            )
        self.runs = runs
        data = dataset_build(
            patients=patients, today=timezone.localdate(), log=self.stderr.write, results=False
        )
        clinic = Clinic.objects.get(pk=data.clinic_ids[0])
        today = clinic.today()
        self.line(
            f"{connection.vendor}, {os.cpu_count()} cores: {patients} patients, "
            f"{data.checks} scheduled checks, built in {data.seconds:.0f} s",
            "",
        )
        # The data set's nurse holds the nurse role and is on the staff of every clinic, with a
        # verified second factor: the pages answer as for a real nurse, over the whole programme.
        user = data.nurse
        client = signed_in_client(user, second_factor=True)

        people = list(Patient.objects.filter(clinic=clinic).order_by("pk"))
        self.import_figures(clinic, people, user, rows, today)
        if import_only:
            return
        self.page("patient list, page 1", client, reverse("patients:list"))
        # Ten matches (Family004200 to Family004209): a search that fits on one page.
        self.page("patient list, search", client, reverse("patients:list") + "?q=Family00420")
        # Course 1 about five years ago, so the five years of results fit before today.
        subject = data.subject
        results = self.five_years_of_results(subject, user, today)
        self.page(
            f"patient page, {results} results",
            client,
            reverse("patients:detail", args=[subject.pk]),
        )

    def import_figures(self, clinic, people, user, rows, today) -> None:
        # Monthly samples of up to 2,000 patients, ending before today however many rows.
        months = rows // (6 * min(len(people), 2000)) + 2
        content = csv_of_results(
            people[:2000], rows=rows, start=today - relativedelta(months=months)
        )
        timings = []
        for _ in range(3):
            tick = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                preview = csv_import.import_read(clinic=clinic, content=content, today=today)
            timings.append(time.perf_counter() - tick)
        problems = len(preview.problems)
        self.line(
            f"CSV preview, {rows} rows",
            f"{statistics.median(timings):.2f} s median of 3, {len(queries)} queries, "
            f"{problems} problems",
        )
        staged, _ = csv_import.import_stage(
            clinic=clinic, content=content, file_name="bench.csv", uploaded_by=user
        )
        counter = QueryCounter()
        longest = LongestTransaction(connection)
        batch_seconds: list[float] = []
        real_batch = batches._batch_record

        def timed_batch(*args, **kwargs):
            # One batch is one transaction, and the clinic's lock is its first statement: its
            # time is the lock's hold.
            tick = time.perf_counter()
            try:
                return real_batch(*args, **kwargs)
            finally:
                batch_seconds.append(time.perf_counter() - tick)

        batches._batch_record = timed_batch
        tick = time.perf_counter()
        try:
            with longest, connection.execute_wrapper(counter):
                outcome = csv_import.import_apply(
                    result_import=staged, imported_by=user, today=today
                )
        finally:
            batches._batch_record = real_batch
        seconds = time.perf_counter() - tick
        self.line(
            f"CSV import, {rows} rows",
            f"{seconds:.1f} s ({outcome.results / seconds:.0f} results/s), {counter.count} "
            f"queries for {outcome.reports} reports",
        )
        self.line(
            f"  {len(batch_seconds)} batches of {settings.RESULT_IMPORT_BATCH_REPORTS} reports",
            f"lock held {statistics.median(batch_seconds):.2f} s median, "
            f"{max(batch_seconds):.2f} s longest; longest transaction seen by PostgreSQL "
            f"{longest.seconds:.2f} s",
        )

    def five_years_of_results(self, patient, user, today) -> int:
        analytes = {a.code: a for a in Analyte.objects.all()}
        start = patient.courses.get(number=1).first_infusion_date
        months = 0
        while (day := start + relativedelta(months=months)) <= today and months < 60:
            panels = {**MONTHLY, **(QUARTERLY if months % 3 == 0 else {})}
            for panel, values in panels.items():
                report_record(
                    patient=patient,
                    panel=panel,
                    sample_collected_on=day,
                    entries=[ResultInput(analytes[c], v, u) for c, v, u in values],
                    entered_by=user,
                    today=today,
                )
            months += 1
        return LabResult.objects.filter(patient=patient).count()

    def page(self, label, client, url) -> None:
        self.get(client, url)  # warm-up
        timings = []
        for _ in range(self.runs):
            tick = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                self.get(client, url)
            timings.append(time.perf_counter() - tick)
        self.line(
            label,
            f"{statistics.median(timings) * 1000:.0f} ms median of {self.runs}, "
            f"{len(queries)} queries",
        )

    @staticmethod
    def get(client, url):
        response = client.get(url)
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}")
        return response

    def line(self, label: str, value: str) -> None:
        self.stdout.write(f"{label:<32}{value}")
