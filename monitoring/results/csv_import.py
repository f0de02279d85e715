"""Importing lab results from a CSV file, one row per result: read and check every row, show
the preview, then store all of it or nothing.

Rows are checked by the same functions as the entry form (monitoring.results.entry), so the
import refuses the same things with the same words. A result already stored with the same
value is skipped, not refused, so a nightly export that overlaps the previous one imports
cleanly; a different value for the same sample is refused, because only a person can decide
which one is right. Reading is set-based: a fixed number of queries whatever the file's length.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format, time_format

from monitoring.domain.measurements import MeasurementError
from monitoring.models import Analyte, LabReport, LabResult, Panel, ResultImport
from monitoring.results.entry import (
    CheckedResult,
    ResultInput,
    result_check,
    sample_date_problems,
)
from monitoring.results.services import report_record
from patients.models import Clinic, Patient

REQUIRED_COLUMNS = ("hospital_number", "sample_date", "analyte", "value", "unit")
OPTIONAL_COLUMNS = ("reference_low", "reference_high", "reported_date", "lab_name")
# sample_date_problems() names the report's fields; the file names its columns.
DATE_COLUMNS = {"sample_collected_on": "sample_date", "reported_on": "reported_date"}
# Delimiters a spreadsheet may use instead of commas (a semicolon where the decimal mark is ",").
OTHER_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}
# Workbooks saved under a .csv name: .xlsx/.ods are zip archives, .xls an OLE2 compound file.
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
UK_DATE = re.compile(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$")
# What fits the columns the values are stored in; longer text would fail on PostgreSQL.
MAX_LENGTHS = {
    "value": LabResult._meta.get_field("value_text").max_length,
    "unit": LabResult._meta.get_field("unit").max_length,
    "lab_name": LabReport._meta.get_field("lab_name").max_length,
}
QUOTED_MAX = 40  # a cell quoted in a message is cut here, so one huge cell cannot flood a page
PANEL_ORDER = {panel: position for position, panel in enumerate(Panel.values)}


@dataclass(frozen=True)
class ImportProblem:
    row: int | None  # the line in the file (the header is line 1); None for the whole file
    column: str  # "" for the file or the row as a whole
    message: str

    def __str__(self) -> str:
        if self.row is None:
            return f"File: {self.message}"
        where = f"Row {self.row}, {self.column}" if self.column else f"Row {self.row}"
        return f"{where}: {self.message}"


@dataclass
class PreviewRow:
    row: int
    hospital_number: str
    sample_date: date | None
    analyte: Analyte | None
    value: str
    unit: str
    patient: Patient | None = None
    problems: list[ImportProblem] = field(default_factory=list)
    # An identical result is already stored: skipped on import, not a problem.
    duplicate: bool = False
    reference_low: str = ""
    reference_high: str = ""
    reported_date: date | None = None
    lab_name: str = ""
    checked: CheckedResult | None = None  # the converted value, once the row's value is valid

    @property
    def will_import(self) -> bool:
        return not self.problems and not self.duplicate

    @property
    def result_key(self) -> tuple[int, int, date] | None:
        """One result per patient, analyte and sample: None until all three are known."""
        if self.patient is None or self.analyte is None or self.sample_date is None:
            return None
        return (self.patient.pk, self.analyte.pk, self.sample_date)

    @property
    def report_key(self) -> tuple[int, date, str] | None:
        """The report the row belongs to: one per patient, sample and panel."""
        if self.result_key is None:
            return None
        return (self.patient.pk, self.sample_date, self.analyte.panel)

    def add_problem(self, column: str, message: str) -> None:
        self.problems.append(ImportProblem(self.row, column, message))

    def entry(self) -> ResultInput:
        return ResultInput(
            self.analyte, self.value, self.unit, self.reference_low, self.reference_high
        )


@dataclass
class ImportPreview:
    rows: list[PreviewRow]
    problems: list[ImportProblem]  # file-level and row-level, in file order

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def to_import(self) -> int:
        return sum(row.will_import for row in self.rows)

    @property
    def skipped(self) -> int:
        return sum(row.duplicate for row in self.rows)

    @property
    def report_count(self) -> int:
        return len({row.report_key for row in self.rows if row.will_import})


@dataclass(frozen=True)
class ImportOutcome:
    reports: int
    results: int
    skipped: int


class ImportRejected(Exception):
    def __init__(self, problems: Sequence[ImportProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def import_read(
    *, clinic: Clinic, content: bytes, file_name: str = "", today: date | None = None
) -> ImportPreview:
    """Check a file without storing anything: every problem, and what would be imported."""
    text, problem = _decoded(content, file_name)
    if problem is not None:
        return ImportPreview(rows=[], problems=[problem])
    return _read_text(clinic=clinic, text=text, sha256=_sha256(content), today=today)


def import_stage(
    *,
    clinic: Clinic,
    content: bytes,
    file_name: str,
    uploaded_by,
    today: date | None = None,
) -> tuple[ResultImport | None, ImportPreview]:
    """Keep the uploaded file for its preview, even when rows have problems, so the preview can
    be shown from it. None when there is no text to keep (too big, not UTF-8, empty)."""
    text, problem = _decoded(content, file_name)
    if problem is not None:
        return None, ImportPreview(rows=[], problems=[problem])
    sha256 = _sha256(content)
    preview = _read_text(clinic=clinic, text=text, sha256=sha256, today=today)
    result_import = ResultImport.objects.create(
        clinic=clinic,
        file_name=file_name[: ResultImport._meta.get_field("file_name").max_length],
        sha256=sha256,
        content=text,
        row_count=len(preview.rows),
        uploaded_by=uploaded_by,
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
            raise ImportRejected([_file_problem(_imported_message(result_import, clinic))])
        preview = _read_text(
            clinic=clinic, text=result_import.content, sha256=result_import.sha256, today=today
        )
        if not preview.ok:
            raise ImportRejected(preview.problems)
        reports = _record_reports(preview.rows, result_import, imported_by, today)
        result_import.status = ResultImport.Status.IMPORTED
        result_import.imported_at = timezone.now()
        result_import.row_count = len(preview.rows)
        result_import.save(update_fields=["status", "imported_at", "row_count"])
    return ImportOutcome(reports=reports, results=preview.to_import, skipped=preview.skipped)


# Storing


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


# Reading the file


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _file_problem(message: str) -> ImportProblem:
    return ImportProblem(None, "", message)


def _decoded(content: bytes, file_name: str) -> tuple[str, None] | tuple[None, ImportProblem]:
    """The file's text, or why there is no text to read."""
    limit = settings.RESULT_IMPORT_MAX_BYTES
    # Checked before decoding, so an oversized upload costs no more work.
    if len(content) > limit:
        return None, _file_problem(
            f"The file is {len(content):,} bytes; the limit is {limit:,} bytes "
            f"({_size(limit)}). Split it into smaller files."
        )
    if content.startswith(WORKBOOK_MAGIC):
        name = f"“{file_name}”" if file_name else "The file"
        return None, _file_problem(
            f"{name} is a spreadsheet workbook, not a CSV file; save it as “CSV UTF-8”."
        )
    try:
        text = content.decode("utf-8-sig")  # a byte-order mark, as Excel writes, is fine
    except UnicodeDecodeError as error:
        return None, _file_problem(
            f"The file is not UTF-8 text (byte {error.start + 1:,} cannot be read); "
            "save it as “CSV UTF-8”."
        )
    if "\x00" in text:
        # Not text, and PostgreSQL cannot store NUL in a text column.
        return None, _file_problem("The file contains NUL characters; it is not a text CSV.")
    if not text.strip():
        return None, _file_problem("The file is empty.")
    return text, None


def _size(limit: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if limit >= scale:
            return f"{limit / scale:g} {unit}"
    return f"{limit} bytes"


def _read_text(*, clinic: Clinic, text: str, sha256: str, today: date | None) -> ImportPreview:
    records, unreadable = _records(text)
    file_problems = _already_imported(clinic, sha256)
    trailing = [unreadable] if unreadable else []
    if not records:
        return _preview(file_problems, [], trailing or [_file_problem("The file is empty.")])
    (_, header_cells), *lines = records
    columns, header_problems = _header(header_cells)
    if header_problems:
        return _preview(file_problems + header_problems, [], trailing)
    if not lines and not unreadable:
        file_problems.append(_file_problem("The file has a header but no results."))
    rows = _check_rows(clinic, columns, lines, today or clinic.today())
    return _preview(file_problems, rows, trailing)


def _preview(file_problems, rows: list[PreviewRow], trailing) -> ImportPreview:
    row_problems = [problem for row in rows for problem in row.problems]
    return ImportPreview(rows=rows, problems=[*file_problems, *row_problems, *trailing])


def _records(text: str) -> tuple[list[tuple[int, list[str]]], ImportProblem | None]:
    """(line where the record starts, cells) for each record that is not blank, and the
    problem that stopped reading, if any. A quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            # Spreadsheets leave blank lines and rows of empty cells at the end: not results.
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as error:
        return records, ImportProblem(
            reader.line_num, "", f"The row cannot be read as CSV ({error}); check its quotes."
        )
    return records, None


def _already_imported(clinic: Clinic, sha256: str) -> list[ImportProblem]:
    earlier = (
        ResultImport.objects.filter(
            clinic=clinic, sha256=sha256, status=ResultImport.Status.IMPORTED
        )
        .order_by("-imported_at")
        .first()
    )
    return [_file_problem(_imported_message(earlier, clinic))] if earlier else []


def _imported_message(result_import: ResultImport, clinic: Clinic) -> str:
    when = timezone.localtime(result_import.imported_at, clinic.zone)
    with translation.override(clinic.date_locale):
        return (
            f"This file (“{result_import.file_name}”) was already imported on "
            f"{date_format(when, 'DATE_FORMAT')} at {time_format(when)}; it is not imported "
            "twice."
        )


def _column_name(cell: str) -> str:
    return re.sub(r"[\s-]+", "_", cell.strip().lower())


def _header(cells: list[str]) -> tuple[list[str], list[ImportProblem]]:
    """The column names, matched case-insensitively; unknown columns are kept and ignored."""
    columns = [_column_name(cell) for cell in cells]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        delimiter = next(
            (label for mark, label in OTHER_DELIMITERS.items() if any(mark in c for c in cells)),
            None,
        )
        if delimiter:
            # One wrong delimiter would otherwise be reported as every column missing.
            return columns, [
                _file_problem(f"The file uses {delimiter} — save it as comma-separated.")
            ]
        return columns, [
            ImportProblem(None, name, f"The required column “{name}” is missing.")
            for name in missing
        ]
    known = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}
    repeated = sorted({c for c in columns if c in known and columns.count(c) > 1})
    return columns, [
        ImportProblem(None, name, f"The column “{name}” appears more than once.")
        for name in repeated
    ]


# Checking the rows


@dataclass(frozen=True)
class _Stored:
    canonical_value: Decimal
    display: str
    current: bool  # False when it, or its report, was marked entered in error


def _check_rows(clinic, columns, lines, today) -> list[PreviewRow]:
    """Every row checked on its own, then against the other rows and the stored results.
    Three queries: patients, analytes, stored results."""
    cells_by_row = [(number, _cells(columns, cells)) for number, cells in lines]
    numbers = {cells["hospital_number"] for _, cells in cells_by_row if cells}
    patients = {
        p.hospital_number: p
        for p in Patient.objects.filter(clinic=clinic, hospital_number__in=numbers)
    }
    analytes = _analyte_index()
    rows = [
        _check_row(number, cells, len(columns), clinic, patients, analytes, today)
        for number, cells in cells_by_row
    ]
    _check_repeats(rows)
    _check_stored(rows, _stored_results(rows))
    _check_reports(rows)
    return rows


def _cells(columns: list[str], cells: list[str]) -> dict[str, str] | None:
    """The row's cells by column, trimmed; None when the row has the wrong number of fields,
    since then no cell can be trusted to be in its column."""
    if len(cells) != len(columns):
        return None
    found = {name: text.strip() for name, text in zip(columns, cells, strict=True)}
    return {name: found.get(name, "") for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}


def _analyte_index() -> dict[str, Analyte]:
    """Analytes by LOINC code (any of them), name and code, lower-cased; a code wins."""
    index: dict[str, Analyte] = {}
    for analyte in Analyte.objects.all():
        for key in (analyte.loinc, *analyte.other_loinc, analyte.name, analyte.code):
            index[str(key).strip().lower()] = analyte
    return index


def _check_row(number, cells, field_count, clinic, patients, analytes, today) -> PreviewRow:
    if cells is None:
        row = PreviewRow(number, "", None, None, "", "")
        row.add_problem(
            "", f"The row does not have {field_count} fields like the header; check its commas."
        )
        return row
    row = PreviewRow(
        row=number,
        hospital_number=cells["hospital_number"],
        sample_date=None,
        analyte=None,
        value=cells["value"],
        unit=cells["unit"],
        reference_low=cells["reference_low"],
        reference_high=cells["reference_high"],
        lab_name=cells["lab_name"],
    )
    row.patient = _patient(row, clinic, patients)
    _read_dates(row, cells, today)
    row.analyte = _analyte(row, cells["analyte"], analytes)
    row.checked = _measurement(row)
    _check_length(row, "lab_name", row.lab_name)
    return row


def _quoted(text: str) -> str:
    short = text if len(text) <= QUOTED_MAX else f"{text[:QUOTED_MAX]}…"
    return f"“{short}”"


def _patient(row: PreviewRow, clinic: Clinic, patients: dict[str, Patient]) -> Patient | None:
    if not row.hospital_number:
        row.add_problem("hospital_number", "Enter the patient's hospital number.")
        return None
    patient = patients.get(row.hospital_number)
    if patient is None:
        row.add_problem(
            "hospital_number",
            f"No patient of {clinic.name} has the hospital number {_quoted(row.hospital_number)}.",
        )
    return patient


def _read_dates(row: PreviewRow, cells: dict[str, str], today: date) -> None:
    row.sample_date, sample_error = _parse_date(cells["sample_date"])
    row.reported_date, reported_error = _parse_date(cells["reported_date"])
    if sample_error:
        row.add_problem("sample_date", sample_error)
    if reported_error:
        row.add_problem("reported_date", reported_error)
    problems = sample_date_problems(
        sample_collected_on=row.sample_date,
        reported_on=row.reported_date,
        # Without a known patient, the date can still be checked against today.
        date_of_birth=row.patient.date_of_birth if row.patient else date.min,
        today=today,
    )
    if sample_error:
        problems.pop("sample_collected_on", None)  # already said: "not a date"
    for field_name, message in problems.items():
        row.add_problem(DATE_COLUMNS[field_name], message)


def _parse_date(text: str) -> tuple[date | None, str]:
    """A date written YYYY-MM-DD or DD/MM/YYYY, and "" or why it is not one."""
    if not text:
        return None, ""
    if match := ISO_DATE.match(text):
        year, month, day = match.groups()
    elif match := UK_DATE.match(text):
        day, month, year = match.groups()
    else:
        return None, f"{_quoted(text)} is not a date; write it as YYYY-MM-DD (or DD/MM/YYYY)."
    try:
        return date(int(year), int(month), int(day)), ""
    except ValueError:
        return None, f"{_quoted(text)} is not a real date."


def _analyte(row: PreviewRow, text: str, analytes: dict[str, Analyte]) -> Analyte | None:
    if not text:
        row.add_problem("analyte", "Enter the analyte: its code, name or LOINC code.")
        return None
    analyte = analytes.get(text.lower())
    if analyte is None:
        row.add_problem(
            "analyte", f"{_quoted(text)} is not a known analyte code, name or LOINC code."
        )
    return analyte


def _check_length(row: PreviewRow, column: str, text: str) -> bool:
    limit = MAX_LENGTHS[column]
    if len(text) <= limit:
        return True
    row.add_problem(column, f"{_quoted(text)} is {len(text)} characters; at most {limit} fit.")
    return False


def _measurement(row: PreviewRow) -> CheckedResult | None:
    """The value read by the entry form's rules; MeasurementError fields are column names."""
    if row.analyte is None:
        return None
    if not (_check_length(row, "value", row.value) and _check_length(row, "unit", row.unit)):
        return None
    try:
        return result_check(row.entry())
    except MeasurementError as error:
        row.add_problem(error.field, error.message)
        return None


def _check_repeats(rows: Iterable[PreviewRow]) -> None:
    """A sample has one result per analyte: a second row for it is a problem."""
    first_rows: dict[tuple[int, int, date], PreviewRow] = {}
    for row in rows:
        key = row.result_key
        if key is None:
            continue
        first = first_rows.setdefault(key, row)
        if first is row:
            continue
        if row.checked and first.checked and _same_value(row.checked, first.checked):
            row.add_problem("", f"The same result is already on row {first.row}.")
        else:
            row.add_problem(
                "value",
                f"{row.analyte.name} of this sample is already on row {first.row}, with "
                "another value; a sample has one result per analyte.",
            )


def _same_value(one: CheckedResult, other: CheckedResult) -> bool:
    # 4.5 g/dL and 45 g/L are the same haemoglobin.
    return one.canonical_value == other.canonical_value


def _stored_results(rows: list[PreviewRow]) -> dict[tuple[int, int, date], list[_Stored]]:
    """The stored results the rows may repeat, in one query; entered-in-error ones included."""
    keyed = [row.result_key for row in rows if row.result_key]
    if not keyed:
        return {}
    dates = [sample for _, _, sample in keyed]
    found = LabResult.objects.filter(
        patient_id__in={patient for patient, _, _ in keyed},
        analyte_id__in={analyte for _, analyte, _ in keyed},
        # A range keeps the query small in parameters however many dates the file has.
        sample_collected_on__range=(min(dates), max(dates)),
    ).values_list(
        "patient_id",
        "analyte_id",
        "sample_collected_on",
        "canonical_value",
        "value_text",
        "unit",
        "entered_in_error_at",
        "report__entered_in_error_at",
    )
    stored: dict[tuple[int, int, date], list[_Stored]] = defaultdict(list)
    for patient, analyte, sample, canonical, text, unit, in_error, report_in_error in found:
        current = in_error is None and report_in_error is None
        stored[(patient, analyte, sample)].append(
            _Stored(canonical, f"{text} {unit}".strip(), current)
        )
    return stored


def _check_stored(rows: Iterable[PreviewRow], stored) -> None:
    for row in rows:
        if row.problems or row.result_key is None:
            continue
        earlier = stored.get(row.result_key, [])
        # The same value counts even if it was marked entered in error: a later export that
        # still carries a wrong result must not bring it back.
        if any(s.canonical_value == row.checked.canonical_value for s in earlier):
            row.duplicate = True
        elif current := [s for s in earlier if s.current]:
            row.add_problem(
                "value",
                f"{row.analyte.name}: a different value ({current[0].display}) is already "
                f"recorded for this patient's sample of {date_format(row.sample_date)}; "
                "correct it on the patient page.",
            )


def _check_reports(rows: Iterable[PreviewRow]) -> None:
    """Rows of one report (patient, sample, panel) must agree on its report date and lab."""
    first_rows: dict[tuple[int, date, str], PreviewRow] = {}
    for row in rows:
        if not row.will_import:
            continue
        first = first_rows.setdefault(row.report_key, row)
        if first is row:
            continue
        panel = Panel(row.analyte.panel).label
        if row.reported_date != first.reported_date:
            row.add_problem(
                "reported_date",
                f"Row {first.row} gives this sample's {panel} another report date; "
                "one report has one report date.",
            )
        if row.lab_name != first.lab_name:
            row.add_problem(
                "lab_name",
                f"Row {first.row} names another laboratory for this sample's {panel}; "
                "one report has one laboratory.",
            )
