"""Recording a checked file in batches: a few hundred reports per transaction, each holding the
clinic's lock for its own batch only, and the progress stored on the import with the batch.

A run reads the file once, leaves out the reports a batch already stored (known by the import
and the file row of their first result, unique together), and records the rest in the file's
order: oldest sample first, kidney before urine on one day, as one transaction would have. A run
that stops, for a crash, a worker restart or its time budget, loses at most the batch it was in;
the next run carries on from what is stored, and a batch recorded twice stores nothing twice.

Each batch checks its rows again against the stored results under the clinic's lock, because the
file was read outside it: another import or a nurse may have recorded the same sample since.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from monitoring.domain.csv_reading import ImportProblem
from monitoring.models import LabReport, Panel, ResultImport
from monitoring.results.csv_import.checking import (
    PreviewRow,
    check_stored,
    read_text,
    stored_results,
)
from monitoring.results.recording import BatchRejected, ReportToRecord, reports_record
from patients.models import Clinic

PANEL_ORDER = {panel: position for position, panel in enumerate(Panel.values)}
PROGRESS_FIELDS = ["results_done", "results_total", "skipped", "reports_done", "progressed_at"]


class ImportRejected(Exception):
    def __init__(self, problems: list[ImportProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass
class ReportRows:
    """One report to record: its rows in file order. The report is stored with the number of
    the first row it records, so any of its rows' numbers among an import's stored keys means
    it is done (a row belongs to one report only)."""

    rows: list[PreviewRow]

    def done(self, stored_keys: set[int]) -> bool:
        return any(row.row in stored_keys for row in self.rows)


def planned_reports(rows: list[PreviewRow]) -> list[ReportRows]:
    """The file's reports in the order they are recorded: each result is flagged against the
    ones before it (a fall from the previous count, the baseline), and urine blood sees that
    day's creatinine. Rows with problems are kept in their report, for the caller to refuse."""
    groups: dict[tuple[int, date, str], list[PreviewRow]] = defaultdict(list)
    for row in rows:
        if row.result_key is not None and not row.duplicate:
            groups[row.report_key].append(row)
    ordered = sorted(groups.items(), key=_report_order)
    return [ReportRows(rows=group) for _, group in ordered]


def _report_order(item) -> tuple[int, date, int]:
    (patient_pk, sample, panel), _ = item
    return (patient_pk, sample, PANEL_ORDER[panel])


def import_record(
    *,
    result_import: ResultImport,
    today: date | None = None,
    seconds: float | None = None,
    batch_reports: int,
    on_batch: Callable[[ResultImport], None] | None = None,
) -> ResultImport:
    """Record what is left of a started import, batch after batch, for up to `seconds` (None:
    to the end). Returns the import as stored: IMPORTED when done, still IMPORTING when the time
    ran out. A batch the rows or the entry service refuse is rolled back, the import is marked
    FAILED with the problems, and ImportRejected is raised; the batches before it stay."""
    began = time.monotonic()
    try:
        remaining = _remaining(result_import, today)
        for start in range(0, len(remaining), batch_reports):
            batch = remaining[start : start + batch_reports]
            result_import = _batch_record(result_import, batch, today)
            if result_import.status != ResultImport.Status.IMPORTING:
                return result_import  # stopped by someone else (a second run finished it)
            if on_batch is not None:
                on_batch(result_import)
            more = start + batch_reports < len(remaining)
            if more and seconds is not None and time.monotonic() - began >= seconds:
                return result_import
        return _finish(result_import)
    except ImportRejected as rejected:
        _fail(result_import, "\n".join(str(problem) for problem in rejected.problems))
        raise
    except Exception:
        _fail(
            result_import,
            "The import stopped on an unexpected error; the batches before it are stored. "
            "Resume it to record the rest.",
        )
        raise


def _remaining(result_import: ResultImport, today: date | None) -> list[ReportRows]:
    """The file read again (outside any lock: reading 100,000 rows takes seconds), less the
    reports already stored. One query for those, whatever the file's length."""
    clinic = Clinic.objects.get(pk=result_import.clinic_id)
    preview = read_text(
        clinic=clinic,
        text=result_import.content,
        sha256=result_import.sha256,
        today=today,
        date_order=result_import.date_order,
        result_import=result_import,
    )
    done = set(result_import.reports.values_list("import_row", flat=True))
    remaining = [report for report in planned_reports(preview.rows) if not report.done(done)]
    # Only the rows still to record can stop the run: a report already stored is not checked
    # again, and the file's own problems ("already imported" by another upload, whose rows now
    # read as skipped) were answered when the import started.
    unplaced = [row for row in preview.rows if row.result_key is None]
    problems = [
        problem
        for row in [*unplaced, *(row for report in remaining for row in report.rows)]
        for problem in row.problems
    ]
    if problems:
        raise ImportRejected(sorted(problems, key=lambda problem: problem.row))
    return remaining


def _batch_record(
    result_import: ResultImport, batch: list[ReportRows], today: date | None
) -> ResultImport:
    with transaction.atomic():
        # The clinic's lock keeps an overlapping import from checking the same samples while this
        # batch stores them; it is let go when the batch commits.
        Clinic.objects.select_for_update().get(pk=result_import.clinic_id)
        # Not the file: megabytes a batch, read once per run.
        current = ResultImport.objects.select_for_update().defer("content").get(pk=result_import.pk)
        if current.status != ResultImport.Status.IMPORTING:
            return current
        # A second run of the same import may have stored some of these since this one read the
        # file; under the import's lock that cannot change until this batch commits.
        numbers = [row.row for report in batch for row in report.rows]
        stored = current.reports.filter(import_row__in=numbers)
        done = set(stored.values_list("import_row", flat=True))
        batch = [report for report in batch if not report.done(done)]
        rows = [row for report in batch for row in report.rows]
        check_stored(rows, stored_results(rows, current))
        problems = [problem for row in rows for problem in row.problems]
        if problems:
            raise ImportRejected(problems)
        to_record = [[row for row in report.rows if not row.duplicate] for report in batch]
        to_record = [report_rows for report_rows in to_record if report_rows]
        _reports_record(current, to_record, today)
        recorded = sum(len(report_rows) for report_rows in to_record)
        reports = len(to_record)
        skipped = len(rows) - recorded
        ResultImport.objects.filter(pk=current.pk).update(
            results_done=F("results_done") + recorded,
            # A row another import stored since the preview counts once, as skipped.
            results_total=F("results_total") - skipped,
            skipped=F("skipped") + skipped,
            reports_done=F("reports_done") + reports,
            progressed_at=timezone.now(),
        )
        current.refresh_from_db(fields=PROGRESS_FIELDS)
    return current


def _reports_record(result_import: ResultImport, reports: list[list[PreviewRow]], today) -> None:
    """The batch's reports through the recording pipeline in one go: a fixed number of
    statements whatever the batch's size."""
    by_key = {str(rows[0].row): rows for rows in reports}
    try:
        reports_record(
            reports=[
                ReportToRecord(
                    key=key,
                    patient=rows[0].patient,
                    panel=rows[0].analyte.panel,
                    sample_collected_on=rows[0].sample_date,
                    entries=[row.entry() for row in rows],
                    reported_on=rows[0].reported_date,
                    lab_name=rows[0].lab_name,
                    notes=rows[0].note,
                    done_by=rows[0].done_by,
                    done_by_name=rows[0].done_by_name,
                    document_reference=rows[0].document_reference,
                    import_row=rows[0].row,
                )
                for key, rows in by_key.items()
            ],
            entered_by=result_import.imported_by,
            source=LabReport.Source.CSV_IMPORT,
            result_import=result_import,
            today=today,
        )
    except BatchRejected as rejected:
        # The rows were checked by the same rules, so this is a safety net: name the rows.
        raise ImportRejected(
            [
                problem
                for key, fields in rejected.problems.items()
                for problem in _problems_from(ValidationError(fields), by_key[key])
            ]
        ) from rejected


def _problems_from(error: ValidationError, rows: list[PreviewRow]) -> list[ImportProblem]:
    named = f" (rows {', '.join(str(row.row) for row in rows)})" if len(rows) > 1 else ""
    return [
        ImportProblem(rows[0].row, "", f"{message}{named}")
        for messages in error.message_dict.values()
        for message in messages
    ]


def _finish(result_import: ResultImport) -> ResultImport:
    with transaction.atomic():
        current = ResultImport.objects.select_for_update().defer("content").get(pk=result_import.pk)
        if current.status == ResultImport.Status.IMPORTING:
            current.status = ResultImport.Status.IMPORTED
            current.imported_at = timezone.now()
            current.save(update_fields=["status", "imported_at"])
    return current


def _fail(result_import: ResultImport, error: str) -> None:
    ResultImport.objects.filter(pk=result_import.pk, status=ResultImport.Status.IMPORTING).update(
        status=ResultImport.Status.FAILED, error=error
    )
