"""Reading a CSV file as text: pure functions over bytes and strings. A file of lab results
by default; the onboarding file (patients.onboarding.reading) names its own columns.

What the file says, before anything is looked up: whether it is UTF-8 text at all, its records,
its header and each row's cells by column, and the dates written in them. Nothing here knows
the database; monitoring.results.csv_import checks what is read against it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date

from monitoring.domain.input_rules import DateOrder, typed_date

REQUIRED_COLUMNS = ("hospital_number", "sample_date", "analyte", "value", "unit")
OPTIONAL_COLUMNS = (
    "reference_low",
    "reference_high",
    "reported_date",
    "lab_name",
    # A check done without a lab value (an outcome row): where or by whom, a name, a document
    # reference, and the note an abnormal outcome needs. The note is the report's on any row.
    "done_by",
    "done_by_name",
    "document_reference",
    "note",
)
# Delimiters a spreadsheet may use instead of commas (a semicolon where the decimal mark is ",").
OTHER_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}
# Workbooks saved under a .csv name: .xlsx/.ods are zip archives, .xls an OLE2 compound file.
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
QUOTED_MAX = 40  # a cell quoted in a message is cut here, so one huge cell cannot flood a page


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


def file_problem(message: str) -> ImportProblem:
    return ImportProblem(None, "", message)


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def decoded(
    content: bytes, file_name: str, limit: int
) -> tuple[str, None] | tuple[None, ImportProblem]:
    """The file's text, or why there is no text to read. limit is the most bytes accepted."""
    # Checked before decoding, so an oversized upload costs no more work.
    if len(content) > limit:
        return None, file_problem(
            f"The file is {len(content):,} bytes; the limit is {limit:,} bytes "
            f"({_size(limit)}). Split it into smaller files."
        )
    if content.startswith(WORKBOOK_MAGIC):
        name = f"“{file_name}”" if file_name else "The file"
        return None, file_problem(
            f"{name} is a spreadsheet workbook, not a CSV file; save it as “CSV UTF-8”."
        )
    try:
        text = content.decode("utf-8-sig")  # a byte-order mark, as Excel writes, is fine
    except UnicodeDecodeError as error:
        return None, file_problem(
            f"The file is not UTF-8 text (byte {error.start + 1:,} cannot be read); "
            "save it as “CSV UTF-8”."
        )
    if "\x00" in text:
        # Not text, and PostgreSQL cannot store NUL in a text column.
        return None, file_problem("The file contains NUL characters; it is not a text CSV.")
    if not text.strip():
        return None, file_problem("The file is empty.")
    return text, None


def _size(limit: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if limit >= scale:
            return f"{limit / scale:g} {unit}"
    return f"{limit} bytes"


def records(text: str) -> tuple[list[tuple[int, list[str]]], ImportProblem | None]:
    """(line where the record starts, cells) for each record that is not blank, and the
    problem that stopped reading, if any. A quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    found: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            # Spreadsheets leave blank lines and rows of empty cells at the end: not results.
            if any(cell.strip() for cell in cells):
                found.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as error:
        return found, ImportProblem(
            reader.line_num, "", f"The row cannot be read as CSV ({error}); check its quotes."
        )
    return found, None


def _column_name(cell: str) -> str:
    return re.sub(r"[\s-]+", "_", cell.strip().lower())


def header(
    cells: list[str],
    required: tuple[str, ...] = REQUIRED_COLUMNS,
    optional: tuple[str, ...] = OPTIONAL_COLUMNS,
) -> tuple[list[str], list[ImportProblem]]:
    """The column names, matched case-insensitively; unknown columns are kept and ignored.
    `required` and `optional` name the file's columns (default: a results file's)."""
    columns = [_column_name(cell) for cell in cells]
    missing = [name for name in required if name not in columns]
    if missing:
        delimiter = next(
            (label for mark, label in OTHER_DELIMITERS.items() if any(mark in c for c in cells)),
            None,
        )
        if delimiter:
            # One wrong delimiter would otherwise be reported as every column missing.
            return columns, [
                file_problem(f"The file uses {delimiter} — save it as comma-separated.")
            ]
        return columns, [
            ImportProblem(None, name, f"The required column “{name}” is missing.")
            for name in missing
        ]
    known = {*required, *optional}
    repeated = sorted({c for c in columns if c in known and columns.count(c) > 1})
    return columns, [
        ImportProblem(None, name, f"The column “{name}” appears more than once.")
        for name in repeated
    ]


def row_cells(
    columns: list[str],
    cells: list[str],
    known: tuple[str, ...] = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS),
) -> dict[str, str] | None:
    """The row's cells by column (every one of `known`, "" when the file lacks it), trimmed;
    None when the row has the wrong number of fields, since then no cell can be trusted to be
    in its column."""
    if len(cells) != len(columns):
        return None
    found = {name: text.strip() for name, text in zip(columns, cells, strict=True)}
    return {name: found.get(name, "") for name in known}


def quoted(text: str) -> str:
    short = text if len(text) <= QUOTED_MAX else f"{text[:QUOTED_MAX]}…"
    return f"“{short}”"


def parse_date(text: str, order: str = DateOrder.DAY_FIRST) -> tuple[date | None, str]:
    """A date written YYYY-MM-DD, or with slashes in `order` (the clinic's setting or the
    file's) where that is unambiguous; and "" or why it is not read. The form's date field
    reads dates by the same rule (monitoring.domain.input_rules.typed_date)."""
    if not text:
        return None, ""
    return typed_date(text, order)
