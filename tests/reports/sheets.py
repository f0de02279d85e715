"""Reading exported files back in tests: a CSV response's rows, and an XLSX file's first sheet
(openpyxl is not installed: the sheet's XML, read with zipfile). The XML is our own
export's, written by XlsxWriter in the test itself, so the standard parser is safe here."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from xml.etree import ElementTree

NS = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def streamed(response) -> bytes:
    return b"".join(response.streaming_content)


def csv_rows(response) -> list[list[str]]:
    text = streamed(response).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def xlsx_cells(content: bytes) -> dict[tuple[int, int], tuple[str, object]]:
    """{(row, column) from 0: (kind, value)}: kind "s" for text, "n" for a number."""
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        names = book.namelist()
        shared = []
        if "xl/sharedStrings.xml" in names:
            root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))  # noqa: S314
            shared = ["".join(t.text or "" for t in si.iter(f"{{{NS['x']}}}t")) for si in root]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))  # noqa: S314
    cells = {}
    for cell in sheet.iter(f"{{{NS['x']}}}c"):
        row, column = _position(cell.get("r"))
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            text = "".join(t.text or "" for t in cell.iter(f"{{{NS['x']}}}t"))
            cells[(row, column)] = ("s", _unescaped(text))
        elif kind == "s":
            cells[(row, column)] = ("s", _unescaped(shared[int(cell.find("x:v", NS).text)]))
        elif kind == "str":
            cells[(row, column)] = ("s", cell.find("x:v", NS).text)
        else:
            cells[(row, column)] = ("n", float(cell.find("x:v", NS).text))
    return cells


def xlsx_rows(content: bytes) -> list[list]:
    cells = xlsx_cells(content)
    if not cells:
        return []
    height = max(row for row, _ in cells) + 1
    rows: list[list] = [[] for _ in range(height)]
    for (row, column), (_, value) in sorted(cells.items()):
        rows[row].extend([None] * (column - len(rows[row])))
        rows[row].append(value)
    return rows


def _unescaped(text: str) -> str:
    """Excel writes control characters as _xHHHH_ (a carriage return is _x000D_)."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda match: chr(int(match.group(1), 16)), text)


def _position(reference: str) -> tuple[int, int]:
    letters, digits = re.match(r"([A-Z]+)([0-9]+)", reference).groups()
    column = 0
    for letter in letters:
        column = column * 26 + ord(letter) - ord("A") + 1
    return int(digits) - 1, column - 1
