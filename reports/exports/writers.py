"""Writing an export's rows as CSV or XLSX without holding the file, or its rows, in memory.

An export is a header and an iterable of rows, each a sequence of typed cells: text, a number
(int, Decimal, float), a date, a naive local datetime, a Share (a percentage), a Month, or None
(empty). CSV is streamed as the rows come; XLSX is written by XlsxWriter in constant-memory
mode (each row goes to disk as the next begins) into a temporary file that is then sent back.
Every text cell goes through neutralise() in both formats.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import xlsxwriter
from django.http import FileResponse, StreamingHttpResponse
from django.utils.cache import add_never_cache_headers
from django.utils.http import content_disposition_header

from reports.figures.definitions import percent

from .neutralise import neutralise

CSV = "csv"
XLSX = "xlsx"
FORMATS = (CSV, XLSX)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Rows joined into one chunk of the streamed CSV: fewer, larger writes to the socket.
CSV_ROWS_PER_CHUNK = 500
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


@dataclass(frozen=True)
class Share:
    """A share 0..1 (None: nothing counted yet), as the screens print it: whole percent."""

    value: float | None


@dataclass(frozen=True)
class Month:
    first_day: date


@dataclass
class Export:
    clinic_code: str
    what: str  # a slug for the file name: "who-to-call", "adherence"...
    today: date  # the clinic's date, in the file name
    title: str  # the sheet's name
    rows: Iterable[Sequence]  # the first row is the header, if any

    def filename(self, fmt: str) -> str:
        return f"{self.clinic_code}-{self.what}-{self.today:%Y-%m-%d}.{fmt}"


def export_response(export: Export, fmt: str):
    response = xlsx_response(export) if fmt == XLSX else csv_response(export)
    # Health records must not be kept by a browser's or a proxy's cache.
    add_never_cache_headers(response)
    return response


# CSV


def csv_cell(value) -> str:
    """A cell as CSV text. Neutralised before it is made text, so that a number such as -2
    stays a number and only text that starts like a formula gets its quote."""
    value = neutralise(value)
    if value is None:
        return ""
    if isinstance(value, Share):
        return percent(value.value)
    if isinstance(value, Month):
        return f"{value.first_day:%Y-%m}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


class _Echo:
    """A file that hands back what is written, for csv.writer to format one row at a time."""

    def write(self, text: str) -> str:
        return text


def csv_chunks(rows: Iterable[Sequence]) -> Iterator[bytes]:
    writer = csv.writer(_Echo())
    # A byte-order mark, so that Excel reads the file as UTF-8 (accents in names).
    yield "\ufeff".encode()
    lines: list[str] = []
    for row in rows:
        lines.append(writer.writerow([csv_cell(value) for value in row]))
        if len(lines) >= CSV_ROWS_PER_CHUNK:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


def csv_write(rows: Iterable[Sequence], target) -> None:
    """The same text as the streamed CSV (without the byte-order mark), into an open text
    file (opened with newline="")."""
    writer = csv.writer(target)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])


def csv_response(export: Export) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        csv_chunks(export.rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=export.filename(CSV)
    )
    return response


# XLSX


def xlsx_write(rows: Iterable[Sequence], target, *, title: str) -> None:
    """Write the rows to `target` (a file name or a binary file open for writing) as one
    sheet. Text is always written as text: never read as a formula, a number or a link."""
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    formats = {
        "date": workbook.add_format({"num_format": DATE_FORMAT}),
        "datetime": workbook.add_format({"num_format": DATETIME_FORMAT}),
        "month": workbook.add_format({"num_format": "mmm yyyy"}),
        "share": workbook.add_format({"num_format": "0%"}),
    }
    sheet = workbook.add_worksheet(_sheet_name(title))
    sheet.set_column(0, 40, 16)
    for number, row in enumerate(rows):
        for column, value in enumerate(row):
            _xlsx_cell(sheet, number, column, value, formats)
    workbook.close()


def _xlsx_cell(sheet, row: int, column: int, value, formats) -> None:
    if value is None:
        return
    if isinstance(value, Share):
        if value.value is not None:
            # Rounded as the screens round it, so both show the same whole percent.
            sheet.write_number(row, column, round(value.value * 100) / 100, formats["share"])
    elif isinstance(value, Month):
        sheet.write_datetime(
            row, column, datetime.combine(value.first_day, datetime.min.time()), formats["month"]
        )
    elif isinstance(value, bool):
        sheet.write_string(row, column, "yes" if value else "no")
    elif isinstance(value, int | float | Decimal):
        sheet.write_number(row, column, float(value))
    elif isinstance(value, datetime):
        sheet.write_datetime(row, column, value.replace(tzinfo=None), formats["datetime"])
    elif isinstance(value, date):
        sheet.write_datetime(
            row, column, datetime.combine(value, datetime.min.time()), formats["date"]
        )
    else:
        sheet.write_string(row, column, neutralise(str(value)))


def _sheet_name(title: str) -> str:
    cleaned = "".join(" " if char in "[]:*?/\\" else char for char in title).strip()
    return cleaned[:31] or "Export"


def xlsx_response(export: Export) -> FileResponse:
    # Deleted by the system when closed, which FileResponse does once it has been sent.
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response
    try:
        xlsx_write(export.rows, handle, title=export.title)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return FileResponse(
        handle, as_attachment=True, filename=export.filename(XLSX), content_type=XLSX_TYPE
    )
