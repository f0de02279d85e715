"""Lab results in through each source, against PostgreSQL's own COPY of the same rows, in one
run: a CSV import, HL7 v2 messages and a FHIR Bundle, 10,000 results each.

The patients are a new cohort of the run (their schedules planned through the app, so each
report completes a check), three panels' worth of results each: a full blood count of three
values per patient per day, one day per source (CSV the day before yesterday, HL7 yesterday,
FHIR today), so each source flags against the one before it as a night's feed would.

The COPY floor: the report and result rows a source stored are read back as COPY text, then
loaded by one bare `COPY ... FROM STDIN` into tables made LIKE the real ones (same columns,
defaults, indexes and constraints; no foreign keys) and committed. What the app writes beside
them (history versions, audit entries, completed checks, alerts) is the app's cost, not the
floor's: the ratio says what all of that costs over the rows alone.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import connection, transaction

from benchmarks.dataset import patients_create
from benchmarks.timing import QueryCounter
from monitoring.models import LabReport, LabResult, MonitoringProtocol
from monitoring.results import csv_import
from monitoring.schedule.services import reconcile_in_batches
from patients.models import Clinic, Patient

# One report of three results per patient and source.
PANEL = (
    ("777-3", "platelets", "10^9/L"),
    ("718-7", "haemoglobin", "g/L"),
    ("751-8", "neutrophils", "10^9/L"),
)
VALUES = {"platelets": "231", "haemoglobin": "137", "neutrophils": "3.8"}


@dataclass(frozen=True)
class IngestionFigures:
    source: str
    results: int
    reports: int
    seconds: float
    copy_seconds: float
    statements: int
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.results / self.seconds

    @property
    def ratio(self) -> float:
        return self.seconds / self.copy_seconds


@dataclass
class Cohort:
    clinic: Clinic
    patients: list[Patient]
    today: date

    def value(self, n: int, code: str) -> str:
        # A realistic few abnormal counts: one patient in fifty has low platelets.
        if code == "platelets" and n % 50 == 7:
            return "88"
        return VALUES[code]


def cohort_make(*, results: int, today: date) -> Cohort:
    """New patients for `results` results per source, with their schedules planned."""
    count = -(-results // len(PANEL))
    clinic = Clinic.objects.create(name="Bench lab feed", code=f"bench-feed-{time.time_ns()}")
    protocol = MonitoringProtocol.objects.get(is_default=True)
    people = patients_create([clinic] * (count // 2000 + 1), protocol, None, count, today)
    reconcile_in_batches([patient.pk for patient in people])
    return Cohort(clinic=clinic, patients=people, today=today)


def csv_text(cohort: Cohort, day: date) -> bytes:
    out = io.StringIO()
    out.write("hospital_number,sample_date,analyte,value,unit\n")
    for n, patient in enumerate(cohort.patients):
        for _, code, unit in PANEL:
            out.write(
                f"{patient.hospital_number},{day:%Y-%m-%d},{code},{cohort.value(n, code)},{unit}\n"
            )
    return out.getvalue().encode()


def measured(
    source: str, work: Callable[[], None], *, since_report: int, note: str = ""
) -> IngestionFigures:
    """Time `work` (which records the source's results), count its statements, then time the
    COPY of the rows it stored."""
    counter = QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        work()
    seconds = time.perf_counter() - started
    reports = LabReport.objects.filter(pk__gt=since_report)
    results = LabResult.objects.filter(report__in=reports)
    copy_seconds = copy_floor(since_report)
    return IngestionFigures(
        source=source,
        results=results.count(),
        reports=reports.count(),
        seconds=seconds,
        copy_seconds=copy_seconds,
        statements=counter.count,
        note=note,
    )


def copy_floor(since_report: int) -> float:
    """Seconds to COPY the reports after `since_report` and their results into tables like the
    real ones, and commit."""
    texts = []
    for model, where in (
        (LabReport, f"id > {int(since_report)}"),
        (LabResult, f"report_id > {int(since_report)}"),
    ):
        table = model._meta.db_table
        text = io.BytesIO()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS bench_copy_{table}")
            cursor.execute(f"CREATE TABLE bench_copy_{table} (LIKE {table} INCLUDING ALL)")
            with cursor.cursor.copy(
                f"COPY (SELECT * FROM {table} WHERE {where}) TO STDOUT"
            ) as copy:
                for chunk in copy:
                    text.write(chunk)
        texts.append((f"bench_copy_{table}", text.getvalue()))
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for table, text in texts:
            with cursor.cursor.copy(f"COPY {table} FROM STDIN") as copy:
                copy.write(text)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        for table, _ in texts:
            cursor.execute(f"DROP TABLE {table}")
    return seconds


def last_report_id() -> int:
    return LabReport.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def csv_measure(cohort: Cohort, user, *, day: date) -> IngestionFigures:
    content = csv_text(cohort, day)

    def work() -> None:
        staged, preview = csv_import.import_stage(
            clinic=cohort.clinic,
            content=content,
            file_name="bench.csv",
            uploaded_by=user,
            today=cohort.today,
        )
        if not preview.ok:
            raise RuntimeError(f"the bench file was refused: {preview.problems[:3]}")
        csv_import.import_apply(result_import=staged, imported_by=user, today=cohort.today)

    return measured(
        "CSV import",
        work,
        since_report=last_report_id(),
        note=f"{settings.RESULT_IMPORT_BATCH_REPORTS} reports a batch",
    )
