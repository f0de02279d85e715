"""Checking a file's rows against the database: the clinic's patients by hospital number, the
analytes, the results already stored and the files already imported, each in one query, so
reading takes a fixed number of queries whatever the file's length."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format, time_format

from monitoring.domain.csv_reading import (
    ImportProblem,
    decoded,
    file_problem,
    header,
    parse_date,
    quoted,
    records,
    row_cells,
    sha256_of,
)
from monitoring.domain.input_rules import hospital_number_key
from monitoring.domain.measurements import MeasurementError
from monitoring.models import Analyte, LabReport, LabResult, Panel, ResultImport
from monitoring.results.entry import (
    CheckedResult,
    ResultInput,
    result_check,
    sample_date_problems,
)
from monitoring.results.recording import outcome_problems
from patients.models import Clinic, Patient
from patients.validators import NOTE_MAX_LENGTH, text_problems

# sample_date_problems() names the report's fields; the file names its columns.
DATE_COLUMNS = {"sample_collected_on": "sample_date", "reported_on": "reported_date"}
# What fits the columns the values are stored in; longer text would fail on PostgreSQL.
MAX_LENGTHS = {
    "value": LabResult._meta.get_field("value_text").max_length,
    "unit": LabResult._meta.get_field("unit").max_length,
    "lab_name": LabReport._meta.get_field("lab_name").max_length,
    "done_by_name": LabReport._meta.get_field("done_by_name").max_length,
    "document_reference": LabReport._meta.get_field("document_reference").max_length,
    "note": NOTE_MAX_LENGTH,
}
# The report's free-text columns: (most characters, multi-line), as the model's fields allow.
REPORT_TEXT = {
    "lab_name": (LabReport._meta.get_field("lab_name").max_length, False),
    "done_by_name": (LabReport._meta.get_field("done_by_name").max_length, False),
    "document_reference": (LabReport._meta.get_field("document_reference").max_length, False),
    "note": (NOTE_MAX_LENGTH, True),
}
# Where or by whom, as a file may write it: the stored code or the label, in any case.
DONE_BY = {
    **{code: code for code in LabReport.DoneBy.values},
    **{label.lower(): code for code, label in LabReport.DoneBy.choices},
    "another hospital": LabReport.DoneBy.OTHER_HOSPITAL,
    "other hospital": LabReport.DoneBy.OTHER_HOSPITAL,
}
DONE_BY_WORDS = ", ".join(LabReport.DoneBy.values)
# The report's columns that every row of one report must repeat, as a message names them.
REPORT_COLUMN_WORDS = {
    "done_by": "place or person who did it",
    "done_by_name": "name of who did it",
    "document_reference": "document reference",
    "note": "note",
}
# The service's field names for an outcome's problems, as the file's columns.
OUTCOME_COLUMNS = {"done_by": "done_by", "done_by_name": "done_by_name", "notes": "note"}


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
    done_by: str = ""  # a LabReport.DoneBy code, once read
    done_by_name: str = ""
    document_reference: str = ""
    note: str = ""
    checked: CheckedResult | None = None  # the converted value, once the row's value is valid
    # The LOINC code the row named its analyte by, if it did: checked against the unit.
    code: str = ""

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
        # A bound ("<5") stays in the value: result_check reads it as the form's is read.
        return ResultInput(
            self.analyte,
            self.value,
            self.unit,
            self.reference_low,
            self.reference_high,
            code=self.code,
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


def import_read(
    *,
    clinic: Clinic,
    content: bytes,
    file_name: str = "",
    today: date | None = None,
    date_order: str = "",
) -> ImportPreview:
    """Check a file without storing anything: every problem, and what would be imported.
    `date_order` ("dmy", "mdy", "iso"; empty: the clinic's setting) reads dates with slashes."""
    text, problem = decoded_upload(content, file_name)
    if problem is not None:
        return ImportPreview(rows=[], problems=[problem])
    return read_text(
        clinic=clinic, text=text, sha256=sha256_of(content), today=today, date_order=date_order
    )


def decoded_upload(content: bytes, file_name: str) -> tuple[str, None] | tuple[None, ImportProblem]:
    # The limit is read on each call, not at import, so a changed setting takes effect.
    return decoded(content, file_name, settings.RESULT_IMPORT_MAX_BYTES)


def read_text(
    *,
    clinic: Clinic,
    text: str,
    sha256: str,
    today: date | None,
    date_order: str = "",
    result_import: ResultImport | None = None,
) -> ImportPreview:
    """`result_import`: the import being recorded, whose own stored results are left out of the
    check, so the file reads the same before its first batch and after its last. `date_order`:
    how the file writes dates with slashes (default: the clinic's setting)."""
    found, unreadable = records(text)
    file_problems = _already_imported(clinic, sha256)
    trailing = [unreadable] if unreadable else []
    if not found:
        return _preview(file_problems, [], trailing or [file_problem("The file is empty.")])
    (_, header_cells), *lines = found
    columns, header_problems = header(header_cells)
    if header_problems:
        return _preview(file_problems + header_problems, [], trailing)
    if not lines and not unreadable:
        file_problems.append(file_problem("The file has a header but no results."))
    order = date_order or clinic.csv_date_order
    rows = _check_rows(clinic, columns, lines, today or clinic.today(), order, result_import)
    return _preview(file_problems, rows, trailing)


def _preview(file_problems, rows: list[PreviewRow], trailing) -> ImportPreview:
    row_problems = [problem for row in rows for problem in row.problems]
    return ImportPreview(rows=rows, problems=[*file_problems, *row_problems, *trailing])


def _already_imported(clinic: Clinic, sha256: str) -> list[ImportProblem]:
    earlier = (
        ResultImport.objects.filter(
            clinic=clinic, sha256=sha256, status=ResultImport.Status.IMPORTED
        )
        .order_by("-imported_at")
        .first()
    )
    return [file_problem(imported_message(earlier, clinic))] if earlier else []


def imported_message(result_import: ResultImport, clinic: Clinic) -> str:
    when = timezone.localtime(result_import.imported_at, clinic.zone)
    with translation.override(clinic.date_locale):
        return (
            f"This file (“{result_import.file_name}”) was already imported on "
            f"{date_format(when, 'DATE_FORMAT')} at {time_format(when)}; it is not imported "
            "twice."
        )


# Checking the rows


@dataclass(frozen=True)
class _Stored:
    canonical_value: Decimal
    display: str
    current: bool  # False when it, or its report, was marked entered in error
    comparator: str = ""

    def same_as(self, checked: CheckedResult) -> bool:
        # "<5" is not the result 5: a bound and a value are different results.
        return (self.canonical_value, self.comparator) == (
            checked.canonical_value,
            checked.comparator,
        )


def _check_rows(clinic, columns, lines, today, order, result_import=None) -> list[PreviewRow]:
    """Every row checked on its own, then against the other rows and the stored results.
    Three queries: patients, analytes, stored results."""
    cells_by_row = [(number, row_cells(columns, cells)) for number, cells in lines]
    # By the canonical key, as the staff form and the admin compare them: "demo0001" in a
    # lab's file is the patient recorded as "DEMO0001".
    keys = {hospital_number_key(cells["hospital_number"]) for _, cells in cells_by_row if cells}
    patients = {
        p.hospital_number_key: p
        for p in Patient.objects.filter(clinic=clinic, hospital_number_key__in=keys)
    }
    analytes = _analyte_index()
    rows = [
        _check_row(number, cells, len(columns), clinic, patients, analytes, today, order)
        for number, cells in cells_by_row
    ]
    _check_repeats(rows)
    check_stored(rows, stored_results(rows, result_import))
    _check_reports(rows)
    _check_outcomes(rows)
    return rows


def _analyte_index() -> dict[str, Analyte]:
    """Analytes by LOINC code (any of them), name and code, lower-cased; a code wins."""
    index: dict[str, Analyte] = {}
    for analyte in Analyte.objects.all():
        # An outcome has no LOINC code: its code and name find it.
        loinc = [analyte.loinc] if analyte.loinc else []
        for key in (*loinc, *analyte.other_loinc, analyte.name, analyte.code):
            index[str(key).strip().lower()] = analyte
    return index


def _check_row(number, cells, field_count, clinic, patients, analytes, today, order):
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
        done_by_name=cells["done_by_name"],
        document_reference=cells["document_reference"],
        note=cells["note"],
    )
    row.patient = _patient(row, clinic, patients)
    _read_dates(row, cells, today, order)
    row.analyte = _analyte(row, cells["analyte"], analytes)
    row.checked = _measurement(row)
    row.done_by = _done_by(row, cells["done_by"])
    for column, (limit, multi_line) in REPORT_TEXT.items():
        text = getattr(row, column)
        if _check_length(row, column, text):
            # Control characters and spreadsheet formulas, as the report's fields refuse them.
            for problem in text_problems(**{column: (text, limit, multi_line)}).values():
                row.add_problem(column, problem)
    return row


def _done_by(row: PreviewRow, text: str) -> str:
    if not text:
        return ""
    key = text.lower()
    code = DONE_BY.get(key) or DONE_BY.get(key.replace("_", " ").replace("-", " "))
    if code is None:
        row.add_problem("done_by", f"{quoted(text)} is not one of {DONE_BY_WORDS}.")
        return ""
    return code


def _patient(row: PreviewRow, clinic: Clinic, patients: dict[str, Patient]) -> Patient | None:
    if not row.hospital_number:
        row.add_problem("hospital_number", "Enter the patient's hospital number.")
        return None
    patient = patients.get(hospital_number_key(row.hospital_number))
    if patient is None:
        row.add_problem(
            "hospital_number",
            f"No patient of {clinic.name} has the hospital number {quoted(row.hospital_number)}.",
        )
    return patient


def _read_dates(row: PreviewRow, cells: dict[str, str], today: date, order: str) -> None:
    row.sample_date, sample_error = parse_date(cells["sample_date"], order)
    row.reported_date, reported_error = parse_date(cells["reported_date"], order)
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


def _analyte(row: PreviewRow, text: str, analytes: dict[str, Analyte]) -> Analyte | None:
    if not text:
        row.add_problem("analyte", "Enter the analyte: its code, name or LOINC code.")
        return None
    analyte = analytes.get(text.lower())
    if analyte is None:
        row.add_problem(
            "analyte", f"{quoted(text)} is not a known analyte code, name or LOINC code."
        )
    elif text.strip() in {analyte.loinc, *analyte.other_loinc}:
        # A LOINC code names the property too (2160-0 is creatinine by mass): the unit must
        # agree with it, as it must in a lab feed.
        row.code = text.strip()
    return analyte


def _check_length(row: PreviewRow, column: str, text: str) -> bool:
    limit = MAX_LENGTHS[column]
    if len(text) <= limit:
        return True
    row.add_problem(column, f"{quoted(text)} is {len(text)} characters; at most {limit} fit.")
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
    # 4.5 g/dL and 45 g/L are the same haemoglobin; <5 and 5 are not the same result.
    return (one.canonical_value, one.comparator) == (other.canonical_value, other.comparator)


def stored_results(
    rows: list[PreviewRow], result_import: ResultImport | None = None
) -> dict[tuple[int, int, date], list[_Stored]]:
    """The stored results the rows may repeat, in one query; entered-in-error ones included,
    the ones `result_import` stored left out."""
    keyed = [row.result_key for row in rows if row.result_key]
    if not keyed:
        return {}
    dates = [sample for _, _, sample in keyed]
    found = LabResult.objects.filter(
        patient_id__in={patient for patient, _, _ in keyed},
        analyte_id__in={analyte for _, analyte, _ in keyed},
        # A range keeps the query small in parameters however many dates the file has.
        sample_collected_on__range=(min(dates), max(dates)),
    )
    if result_import is not None:
        found = found.exclude(report__result_import=result_import)
    found = found.values_list(
        "patient_id",
        "analyte_id",
        "sample_collected_on",
        "canonical_value",
        "value_text",
        "unit",
        "entered_in_error_at",
        "report__entered_in_error_at",
        "comparator",
    )
    stored: dict[tuple[int, int, date], list[_Stored]] = defaultdict(list)
    for patient, analyte, sample, canonical, text, unit, in_error, report_in_error, bound in found:
        current = in_error is None and report_in_error is None
        stored[(patient, analyte, sample)].append(
            _Stored(canonical, f"{bound}{text} {unit}".strip(), current, bound)
        )
    return stored


def check_stored(rows: Iterable[PreviewRow], stored) -> None:
    for row in rows:
        if row.problems or row.result_key is None:
            continue
        earlier = stored.get(row.result_key, [])
        # The same value counts even if it was marked entered in error: a later export that
        # still carries a wrong result must not bring it back.
        if any(s.same_as(row.checked) for s in earlier):
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
        for column, words in REPORT_COLUMN_WORDS.items():
            if getattr(row, column) != getattr(first, column):
                row.add_problem(
                    column,
                    f"Row {first.row} gives this sample's {panel} another {words}; "
                    f"one report has one {words}.",
                )


def _check_outcomes(rows: Iterable[PreviewRow]) -> None:
    """A check done without a lab value (an outcome row) says where or by whom, has a note
    when abnormal and stands alone in its report: the recording service's own rules
    (results.recording.outcome_problems), told against the file's rows and columns."""
    reports: dict[tuple[int, date, str], list[PreviewRow]] = defaultdict(list)
    for row in rows:
        if row.will_import:
            reports[row.report_key].append(row)
    for report_rows in reports.values():
        outcome = next((row for row in report_rows if row.analyte.is_outcome), None)
        if outcome is None:
            continue
        problems = outcome_problems(
            outcome.entry(),
            [row.entry() for row in report_rows],
            notes=outcome.note,
            done_by=outcome.done_by,
            done_by_name=outcome.done_by_name,
        )
        for field_name, message in problems.items():
            outcome.add_problem(OUTCOME_COLUMNS.get(field_name, "analyte"), message)
