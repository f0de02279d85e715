"""Storing an imported file: keep the upload for its preview, check all of it once more when the
user confirms, then record it in batches (batches.py) through the entry service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitoring.domain.csv_reading import file_problem, sha256_of
from monitoring.models import ResultImport
from monitoring.results.csv_import.batches import ImportRejected, import_record
from monitoring.results.csv_import.checking import (
    ImportPreview,
    decoded_upload,
    imported_message,
    read_text,
)
from patients.models import Clinic


@dataclass(frozen=True)
class ImportOutcome:
    reports: int
    results: int
    skipped: int


def import_stage(
    *,
    clinic: Clinic,
    content: bytes,
    file_name: str,
    uploaded_by,
    today: date | None = None,
    date_order: str = "",
) -> tuple[ResultImport | None, ImportPreview]:
    """Keep the uploaded file for its preview, even when rows have problems, so the preview can
    be shown from it. None when there is no text to keep (too big, not UTF-8, empty)."""
    text, problem = decoded_upload(content, file_name)
    if problem is not None:
        return None, ImportPreview(rows=[], problems=[problem])
    sha256 = sha256_of(content)
    preview = read_text(clinic=clinic, text=text, sha256=sha256, today=today, date_order=date_order)
    result_import = ResultImport.objects.create(
        clinic=clinic,
        file_name=file_name[: ResultImport._meta.get_field("file_name").max_length],
        sha256=sha256,
        content=text,
        row_count=len(preview.rows),
        uploaded_by=uploaded_by,
        date_order=date_order,
    )
    return result_import, preview


def import_start(
    *, result_import: ResultImport, imported_by, today: date | None = None
) -> ResultImport:
    """Check the whole staged file again and mark it IMPORTING, or refuse it with every problem
    and store nothing (ImportRejected). Nothing is recorded here: import_record() does that in
    batches. An import that stopped (FAILED) is started again where it stopped."""
    with transaction.atomic():
        result_import = ResultImport.objects.select_for_update().get(pk=result_import.pk)
        clinic = Clinic.objects.get(pk=result_import.clinic_id)
        if result_import.status == ResultImport.Status.IMPORTED:
            raise ImportRejected([file_problem(imported_message(result_import, clinic))])
        if result_import.status == ResultImport.Status.IMPORTING:
            return result_import  # a second click on "Import": the first run carries on
        preview = read_text(
            clinic=clinic,
            text=result_import.content,
            sha256=result_import.sha256,
            today=today,
            date_order=result_import.date_order,
            result_import=result_import,
        )
        if not preview.ok:
            raise ImportRejected(preview.problems)
        first_start = result_import.status == ResultImport.Status.PREVIEWED
        result_import.status = ResultImport.Status.IMPORTING
        result_import.error = ""
        result_import.progressed_at = timezone.now()
        fields = ["status", "error", "progressed_at"]
        if first_start:
            result_import.imported_by = imported_by
            result_import.started_at = result_import.progressed_at
            result_import.row_count = len(preview.rows)
            result_import.results_total = preview.to_import
            result_import.skipped = preview.skipped
            fields += ["imported_by", "started_at", "row_count", "results_total", "skipped"]
        result_import.save(update_fields=fields)
    return result_import


def import_continue(
    *,
    result_import: ResultImport,
    today: date | None = None,
    seconds: float | None = None,
    on_batch=None,
) -> ResultImport:
    """Record the next batches of a started import for up to `seconds` (None: to the end)."""
    return import_record(
        result_import=result_import,
        today=today,
        seconds=seconds,
        batch_reports=settings.RESULT_IMPORT_BATCH_REPORTS,
        on_batch=on_batch,
    )


def import_apply(
    *, result_import: ResultImport, imported_by, today: date | None = None, on_batch=None
) -> ImportOutcome:
    """Check a staged file and record all of it here and now, batch after batch. A file with any
    problem is refused before anything is stored (ImportRejected carries the problems); a batch
    refused while storing is rolled back and the import stops there, FAILED, to be resumed."""
    result_import = import_start(result_import=result_import, imported_by=imported_by, today=today)
    result_import = import_continue(result_import=result_import, today=today, on_batch=on_batch)
    return outcome_of(result_import)


def outcome_of(result_import: ResultImport) -> ImportOutcome:
    return ImportOutcome(
        reports=result_import.reports_done,
        results=result_import.results_done,
        skipped=result_import.skipped,
    )
