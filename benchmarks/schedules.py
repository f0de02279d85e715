"""Planning and storing schedules through the app, against PostgreSQL's own bulk load of the
very same rows into the same table (same indexes, constraints and commit), in the same run.

Each run: a cohort of new patients is planned and stored by reconcile_in_batches (the app's
path: lock, load, plan, COPY, commit); the rows it stored are read back as COPY text and
deleted; then one bare `COPY ... FROM STDIN` loads that text and commits. Then the rows are
deleted and the table vacuumed, so every run starts from the same table.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction

from benchmarks.dataset import PATIENTS_PER_CLINIC, patients_create
from benchmarks.timing import median
from monitoring.models import MonitoringProtocol, ScheduledCheck
from monitoring.schedule.services import NEW_FIELDS, reconcile_in_batches
from patients.models import Clinic


@dataclass(frozen=True)
class StorageFigures:
    patients: int
    rows: int
    app_seconds: float
    copy_seconds: float
    runs: int

    @property
    def patients_per_second(self) -> float:
        return self.patients / self.app_seconds

    @property
    def ratio(self) -> float:
        return self.app_seconds / self.copy_seconds


def storage_measure(*, cohort: int, runs: int, today: date) -> StorageFigures:
    clinic = Clinic.objects.create(name="Bench cohort", code=f"bench-store-{time.time_ns()}")
    protocol = MonitoringProtocol.objects.alemtuzumab().get(is_default=True)
    clinics = [clinic] * (cohort // PATIENTS_PER_CLINIC + 1)  # one clinic for the whole cohort
    people = patients_create(clinics, protocol, None, cohort, today)
    ids = [patient.pk for patient in people]
    table = ScheduledCheck._meta.db_table
    columns = ", ".join(ScheduledCheck._meta.get_field(name).column for name in NEW_FIELDS)
    app, bare, rows = [], [], 0
    for _ in range(runs):
        started = time.perf_counter()
        reconcile_in_batches(ids)
        app.append(time.perf_counter() - started)

        text = io.BytesIO()
        with connection.cursor() as cursor:
            select = f"SELECT {columns} FROM {table} WHERE patient_id = ANY(%s)"
            query = cursor.cursor.mogrify(select, [ids])
            with cursor.cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
                for chunk in copy:
                    text.write(chunk)
        rows = _clear(ids)

        started = time.perf_counter()
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            copy.write(text.getvalue())
        bare.append(time.perf_counter() - started)
        _clear(ids)
    return StorageFigures(cohort, rows, median(app), median(bare), runs)


def _clear(ids) -> int:
    table = ScheduledCheck._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE patient_id = ANY(%s)", [ids])
        deleted = cursor.rowcount
        cursor.execute(f"VACUUM {table}")
    return deleted
