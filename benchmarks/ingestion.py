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
from datetime import date, timedelta

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
    protocol = MonitoringProtocol.objects.alemtuzumab().get(is_default=True)
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


def _hl7_group(n: int, patient: Patient, cohort: Cohort, day: date) -> list[str]:
    stamp = f"{day:%Y%m%d}0830"
    lines = [
        f"PID|{n + 1}||{patient.hospital_number}^^^BENCHHOSP^MR||{patient.family_name}^"
        f"{patient.given_name}||{patient.date_of_birth:%Y%m%d}",
        f"OBR|{n + 1}|P{day:%y%m%d}{n}|F{day:%y%m%d}{n}|58410-2^CBC panel^LN|||{stamp}",
    ]
    for position, (loinc, code, unit) in enumerate(PANEL, start=1):
        lines.append(
            f"OBX|{position}|NM|{loinc}^{code}^LN||{cohort.value(n, code)}|{unit.replace('^', '*')}"
            "|||||F"
        )
    return lines


def hl7_message(groups: list[list[str]], control_id: str) -> str:
    header = (
        f"MSH|^~\\&|BENCHLIS|BENCHLAB|LEMTRADA-MONITOR|BENCH|{time.strftime('%Y%m%d%H%M%S')}"
        f"||ORU^R01^ORU_R01|{control_id}|P|2.5.1"
    )
    return "\r".join([header, *(line for group in groups for line in group)]) + "\r"


def hl7_connection(cohort: Cohort):
    from labfeeds.models import LabConnection

    connection_row, _ = LabConnection.objects.get_or_create(
        clinic=cohort.clinic,
        name=f"Bench lab {cohort.clinic.code}",
        defaults={
            "hl7_sending_application": "BENCHLIS",
            "hl7_sending_facility": f"BENCHLAB-{cohort.clinic.pk}",
            "assigning_authority": "BENCHHOSP",
        },
    )
    return connection_row


def hl7_measure(cohort: Cohort, *, day: date, one_message: bool) -> IngestionFigures:
    """Every report as its own ORU^R01 (as a lab's interface engine sends a night's results),
    or all of them in one message; each taken as the listener takes it, without the socket."""
    from labfeeds.hl7.receiving import hl7_message_take

    connection_row = hl7_connection(cohort)
    groups = [_hl7_group(n, patient, cohort, day) for n, patient in enumerate(cohort.patients)]
    stamp = f"{cohort.clinic.pk}-{day:%Y%m%d}"
    if one_message:
        messages = [hl7_message(groups, f"B{stamp}")]
    else:
        messages = [hl7_message([group], f"B{stamp}-{n}") for n, group in enumerate(groups)]

    def work() -> None:
        for raw in messages:
            answer = hl7_message_take(raw, pinned_connection_id=connection_row.pk)
            if answer.code != "AA":
                raise RuntimeError(f"the bench message was answered {answer.code}: {answer.ack}")

    return measured(
        "HL7 v2, one message" if one_message else "HL7 v2, a message per report",
        work,
        since_report=last_report_id(),
        note=f"{len(messages):,} message{'s' if len(messages) > 1 else ''}",
    )


def _fhir_entries(n: int, patient: Patient, cohort: Cohort, day: date) -> list[dict]:
    """A DiagnosticReport of three Observations for one patient, as Bundle entries."""
    from labfeeds.intake import clinic_identifier_system

    subject = {
        "identifier": {
            "system": clinic_identifier_system(cohort.clinic),
            "value": patient.hospital_number,
        }
    }
    effective = f"{day:%Y-%m-%d}T08:30:00Z"
    observations = [
        {
            "fullUrl": f"urn:uuid:{n:08d}-0000-4000-8000-{position:012d}",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
                "subject": subject,
                "effectiveDateTime": effective,
                "valueQuantity": {
                    "value": float(cohort.value(n, code)),
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit.replace("^", "*"),
                },
            },
        }
        for position, (loinc, code, unit) in enumerate(PANEL, start=1)
    ]
    report = {
        "fullUrl": f"urn:uuid:{n:08d}-0000-4000-8000-000000000000",
        "resource": {
            "resourceType": "DiagnosticReport",
            "identifier": [{"system": "urn:bench:lab", "value": f"R{day:%y%m%d}{n}"}],
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
            "subject": subject,
            "effectiveDateTime": effective,
            "result": [{"reference": entry["fullUrl"]} for entry in observations],
        },
    }
    return [report, *observations]


FHIR_REPORTS_PER_BUNDLE = 500


def fhir_measure(cohort: Cohort, user, *, day: date) -> IngestionFigures:
    """Collection Bundles of FHIR_REPORTS_PER_BUNDLE reports posted to /fhir/r4/ with a lab
    token, through Django's test client in this process (JSON, validation, the pipeline)."""
    import json

    from django.test import Client

    from labfeeds.tokens import token_create

    secret = token_create(
        clinic=cohort.clinic,
        name="Bench lab",
        scope="lab",
        created_by=user,
        connection=hl7_connection(cohort),
    ).secret
    bundles = []
    patients = list(enumerate(cohort.patients))
    for start in range(0, len(patients), FHIR_REPORTS_PER_BUNDLE):
        entries = [
            entry
            for n, patient in patients[start : start + FHIR_REPORTS_PER_BUNDLE]
            for entry in _fhir_entries(n, patient, cohort, day)
        ]
        bundles.append(
            json.dumps(
                {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "identifier": {
                        "system": "urn:bench:bundle",
                        "value": f"{cohort.clinic.pk}-{day:%Y%m%d}-{start}",
                    },
                    "entry": entries,
                }
            )
        )
    client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")

    def work() -> None:
        for body in bundles:
            answer = client.post("/fhir/r4/", body, content_type="application/fhir+json")
            if answer.status_code not in (200, 201):
                raise RuntimeError(
                    f"the bench Bundle was answered {answer.status_code}: {answer.content[:500]!r}"
                )

    return measured(
        "FHIR R4 Bundles",
        work,
        since_report=last_report_id(),
        note=f"{len(bundles)} Bundles of up to {FHIR_REPORTS_PER_BUNDLE} reports",
    )


def ingestion_measure(*, results: int, today: date, log=print) -> list[IngestionFigures]:
    """Each source in turn on one new cohort, a day apart, oldest first."""
    from django.contrib.auth import get_user_model

    log(f"Lab feeds: a cohort for {results:,} results per source...")
    cohort = cohort_make(results=results, today=today)
    user = get_user_model().objects.create(username=f"bench-feed-{time.time_ns()}")
    figures = [csv_measure(cohort, user, day=today - timedelta(days=4))]
    log("Lab feeds: HL7...")
    figures.append(hl7_measure(cohort, day=today - timedelta(days=3), one_message=True))
    figures.append(hl7_measure(cohort, day=today - timedelta(days=2), one_message=False))
    log("Lab feeds: FHIR...")
    figures.append(fhir_measure(cohort, user, day=today - timedelta(days=1)))
    return figures
