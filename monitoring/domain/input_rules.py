"""What typed input may be: plain functions over strings and dates, no Django.

One home for the rules every entry point applies (the staff forms, the admin, the services,
the CSV import and the coming HL7/FHIR feeds): the canonical hospital number, control
characters, spreadsheet formulas, digits, the sane range of a date, and dates typed in a
clinic's own day/month order. patients.validators wraps them for forms and models.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

# Hospital numbers


def _without_invisibles(text: str) -> str:
    # Cc: control characters; Cf: format characters such as the zero-width space, the
    # zero-width joiner, the soft hyphen and the byte-order mark, which look like nothing.
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))


def ascii_digits(text: str) -> str:
    """Every Unicode decimal digit (Arabic-Indic, Devanagari, full-width...) as 0-9."""
    return "".join(
        str(unicodedata.decimal(ch)) if unicodedata.category(ch) == "Nd" else ch for ch in text
    )


def hospital_number_clean(text: str) -> str:
    """The hospital number as it is stored and shown: NFKC (full-width letters and digits
    become plain ones), invisible and control characters removed, digits as 0-9, runs of
    white space as one space, trimmed. The case is kept as typed."""
    cleaned = ascii_digits(_without_invisibles(unicodedata.normalize("NFKC", text)))
    return " ".join(cleaned.split())


def hospital_number_key(text: str) -> str:
    """What two hospital numbers of one clinic must not share: the clean form, case-folded.
    "DEMO0001", "demo0001", "DEMO\u200b0001" and its full-width twin have one key."""
    return unicodedata.normalize("NFKC", hospital_number_clean(text).casefold())


@dataclass(frozen=True)
class Collision:
    """Records of one clinic whose hospital numbers share a key."""

    clinic: object
    key: str
    records: tuple[tuple[object, str], ...]  # (record id, hospital number as stored)

    def __str__(self) -> str:
        written = ", ".join(f"#{pk} “{number}”" for pk, number in self.records)
        return f"clinic {self.clinic}: {written} are one hospital number ({self.key})"


def hospital_number_collisions(rows: Iterable[tuple[object, object, str]]) -> list[Collision]:
    """(clinic, record id, hospital number) rows grouped where two or more share a key."""
    groups: dict[tuple[object, str], list[tuple[object, str]]] = defaultdict(list)
    for clinic, pk, number in rows:
        groups[(clinic, hospital_number_key(number))].append((pk, number))
    return [
        Collision(clinic, key, tuple(sorted(records, key=lambda r: str(r[0]))))
        for (clinic, key), records in sorted(groups.items(), key=lambda item: str(item[0]))
        if len(records) > 1
    ]


# Characters


def control_characters(text: str, *, multi_line: bool = False) -> list[str]:
    """The control characters in `text`, written as U+XXXX. Tabs and line breaks are text in
    a multi-line field (a note), not in a single-line one (a name)."""
    allowed = {"\t", "\n", "\r"} if multi_line else set()
    found = {ch for ch in text if unicodedata.category(ch) == "Cc" and ch not in allowed}
    return [f"U+{ord(ch):04X}" for ch in sorted(found)]


def non_ascii_digits(text: str) -> bool:
    return any(unicodedata.category(ch) == "Nd" and not ("0" <= ch <= "9") for ch in text)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?[0-9]+([.,][0-9]+)?$")
PHONE_NUMBER = re.compile(r"^\+[0-9][0-9 ()-]{5,24}$")


def formula_start(text: str) -> str | None:
    """The character that would make a spreadsheet read `text` as a formula, or None. A
    plain signed number ("-5", "+3.2") and a phone number ("+44 20 7946 0000") are fine."""
    if not text.startswith(FORMULA_STARTS):
        return None
    if PLAIN_NUMBER.match(text) or PHONE_NUMBER.match(text):
        return None
    return text[0]


def formula_message(start: str) -> str:
    shown = {"\t": "a tab", "\r": "a carriage return"}.get(start, f"“{start}”")
    return (
        f"It starts with {shown}, which makes a spreadsheet run it as a formula when it is "
        "exported; start with a letter or a digit instead."
    )


# Date ranges

BIRTH_EARLIEST = date(1900, 1, 1)
CLINICAL_EARLIEST = date(1990, 1, 1)  # courses and samples: alemtuzumab came later than this


def clinical_latest(today: date) -> date:
    """A year after `today`: the latest a planned course or a sample date may be."""
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year + 1, day=28)


def birth_date_problem(day: date, *, today: date) -> str | None:
    if day < BIRTH_EARLIEST:
        return f"A date of birth is on or after {BIRTH_EARLIEST:%d %b %Y}."
    if day > today:
        return "The date of birth is in the future."
    return None


def clinical_date_problem(day: date, *, today: date) -> str | None:
    latest = clinical_latest(today)
    if not CLINICAL_EARLIEST <= day <= latest:
        return (
            f"Give a date between {CLINICAL_EARLIEST:%d %b %Y} and {latest:%d %b %Y} "
            "(a year from today)."
        )
    return None


# Typed dates


class DateOrder:
    """How a clinic writes a date with slashes; ISO (2024-02-03) is always understood."""

    DAY_FIRST = "dmy"  # 03/02/2024 is 3 February
    MONTH_FIRST = "mdy"  # 03/02/2024 is 2 March
    ISO_ONLY = "iso"  # only 2024-02-03


ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
ORDERED_DATE = re.compile(r"^([0-9]{1,2})[/.]([0-9]{1,2})[/.]([0-9]{4})$")
ORDER_EXAMPLES = {
    DateOrder.DAY_FIRST: "DD/MM/YYYY",
    DateOrder.MONTH_FIRST: "MM/DD/YYYY",
}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def typed_date(text: str, order: str) -> tuple[date | None, str]:
    """A date written YYYY-MM-DD, or in `order` where that is unambiguous (the day is over 12,
    or the day and the month are the same number); and "" or why it is not read."""
    text = text.strip()
    shown = text if len(text) <= 40 else f"{text[:40]}…"
    if non_ascii_digits(text):
        return None, f"Write “{shown}” with the digits 0-9, as YYYY-MM-DD."
    if match := ISO_DATE.match(text):
        year, month, day = (int(part) for part in match.groups())
    elif order in ORDER_EXAMPLES and (match := ORDERED_DATE.match(text)):
        first, second, year = (int(part) for part in match.groups())
        if first <= 12 and second <= 12 and first != second:
            return None, _ambiguous(shown, first, second, year)
        day, month = (first, second) if order == DateOrder.DAY_FIRST else (second, first)
    else:
        written = ORDER_EXAMPLES.get(order)
        also = f" (or {written})" if written else ""
        return None, f"“{shown}” is not a date; write it as YYYY-MM-DD{also}."
    try:
        return date(year, month, day), ""
    except ValueError:
        return None, f"“{shown}” is not a real date."


def _ambiguous(shown: str, first: int, second: int, year: int) -> str:
    """Both readings, each as the ISO date that means it."""
    readings = []
    for day, month in ((first, second), (second, first)):
        if 1 <= month <= 12:
            readings.append(f"{year:04d}-{month:02d}-{day:02d} for {day} {MONTHS[month - 1]}")
    return (
        f"“{shown}” could be read two ways; write it as YYYY-MM-DD: " + " or ".join(readings) + "."
    )
