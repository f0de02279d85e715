"""Storing an imported file: keep the upload for its preview, then record every result of it
through the entry service (report_record), or none of them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from monitoring.domain.csv_reading import ImportProblem, file_problem, sha256_of
from monitoring.models import Panel, ResultImport
from monitoring.results.csv_import.checking import (
    ImportPreview,
    PreviewRow,
    decoded_upload,
    imported_message,
    read_text,
)
from monitoring.results.services import report_record
from patients.models import Clinic

PANEL_ORDER = {panel: position for position, panel in enumerate(Panel.values)}


@dataclass(frozen=True)
class ImportOutcome:
    reports: int
    results: int
    skipped: int


class ImportRejected(Exception):
    def __init__(self, problems: Sequence[ImportProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


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


def import_apply(
    *, result_import: ResultImport, imported_by, today: date | None = None
) -> ImportOutcome:
    """Store every result of a staged file, or nothing: ImportRejected carries the problems."""
    with transaction.atomic():
        # One import at a time per clinic, so the check for results already stored cannot race
        # another import of an overlapping file.
        clinic = Clinic.objects.select_for_update().get(pk=result_import.clinic_id)
        result_import = ResultImport.objects.select_for_update().get(pk=result_import.pk)
        if result_import.status == ResultImport.Status.IMPORTED:
            raise ImportRejected([file_problem(imported_message(result_import, clinic))])
        preview = read_text(
            clinic=clinic,
            text=result_import.content,
            sha256=result_import.sha256,
            today=today,
            date_order=result_import.date_order,
        )
        if not preview.ok:
            raise ImportRejected(preview.problems)
        reports = _record_reports(preview.rows, result_import, imported_by, today)
        result_import.status = ResultImport.Status.IMPORTED
        result_import.imported_at = timezone.now()
        result_import.row_count = len(preview.rows)
        result_import.save(update_fields=["status", "imported_at", "row_count"])
    return ImportOutcome(reports=reports, results=preview.to_import, skipped=preview.skipped)


def _record_reports(rows, result_import, imported_by, today) -> int:
    groups: dict[tuple[int, date, str], list[PreviewRow]] = defaultdict(list)
    for row in rows:
        if row.will_import:
            groups[row.report_key].append(row)
    # Oldest sample first, so each result is flagged against the ones before it (a fall from
    # the previous count, the baseline); kidney before urine on one day, so urine blood sees
    # that day's creatinine.
    for (_, sample, panel), group in sorted(groups.items(), key=_report_order):
        try:
            report_record(
                patient=group[0].patient,
                panel=panel,
                sample_collected_on=sample,
                entries=[row.entry() for row in group],
                entered_by=imported_by,
                reported_on=group[0].reported_date,
                lab_name=group[0].lab_name,
                result_import=result_import,
                today=today,
            )
        except ValidationError as error:
            # The rows were checked by the same rules, so this is a safety net: name the rows.
            raise ImportRejected(_problems_from(error, group)) from error
    return len(groups)


def _report_order(item) -> tuple[int, date, int]:
    (patient_pk, sample, panel), _ = item
    return (patient_pk, sample, PANEL_ORDER[panel])


def _problems_from(error: ValidationError, group: list[PreviewRow]) -> list[ImportProblem]:
    rows = f" (rows {', '.join(str(row.row) for row in group)})" if len(group) > 1 else ""
    return [
        ImportProblem(group[0].row, "", f"{message}{rows}")
        for messages in error.message_dict.values()
        for message in messages
    ]
