"""Reading an onboarding file: one row per patient, with up to four courses. Pure functions over
text and plain values, like monitoring.domain.csv_reading whose rules (encoding, header, dates)
they share; the services look the rows up against the clinic's records.

A row's cells become typed values here, each bad cell a problem naming the row and its column.
The course rules (patients.course_rules) then check the row's courses among themselves and
among the courses already stored for that patient, which the caller passes in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from monitoring.domain.csv_reading import (
    ImportProblem,
    file_problem,
    header,
    parse_date,
    quoted,
    records,
    row_cells,
)
from monitoring.domain.input_rules import (
    birth_date_problem,
    clinical_date_problem,
    hospital_number_clean,
    hospital_number_key,
    non_ascii_digits,
)
from patients.course_rules import (
    MAX_DAYS,
    CourseFacts,
    course_problems,
    dose_problem,
    standard_days,
)

COURSES = 4  # the label's courses 1 and 2, and 3 and 4 as needed
REQUIRED_COLUMNS = ("hospital_number", "given_name", "family_name", "date_of_birth", "sex")
PATIENT_COLUMNS = ("email", "phone", "named_nurse", "protocol")
COURSE_CELLS = ("first_day", "days", "dose_mg", "days_reason", "spacing_reason")


def course_column(number: int, cell: str) -> str:
    return f"course_{number}_{cell}"


COURSE_COLUMNS = tuple(
    course_column(number, cell) for number in range(1, COURSES + 1) for cell in COURSE_CELLS
)
OPTIONAL_COLUMNS = (*PATIENT_COLUMNS, *COURSE_COLUMNS)
KNOWN_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)

SEXES = {
    "f": "F",
    "female": "F",
    "woman": "F",
    "m": "M",
    "male": "M",
    "man": "M",
    "x": "X",
    "other": "X",
    "not stated": "X",
}
# Which column a course rule's message belongs to (course_problems names CourseFacts' fields).
RULE_CELLS = {
    "first_day": "first_day",
    "number": "first_day",
    "days": "days",
    "days_reason": "days_reason",
    "spacing_override_reason": "spacing_reason",
}


@dataclass
class CourseRow:
    """One course as the file gives it, typed; `first_day` None when the cell was unreadable."""

    number: int
    first_day: date | None
    days: int | None
    dose_mg: Decimal | None
    days_reason: str = ""
    spacing_reason: str = ""

    @property
    def readable(self) -> bool:
        return self.first_day is not None and self.days is not None

    def facts(self) -> CourseFacts:
        return CourseFacts(
            number=self.number,
            first_day=self.first_day,
            days=self.days,
            days_reason=self.days_reason,
            spacing_override_reason=self.spacing_reason,
        )


@dataclass
class PatientRow:
    row: int  # the line in the file (the header is line 1)
    hospital_number: str = ""  # clean, as it would be stored
    given_name: str = ""
    family_name: str = ""
    date_of_birth: date | None = None
    sex: str = ""
    email: str = ""
    phone: str = ""
    named_nurse: str = ""
    protocol: str = ""
    courses: list[CourseRow] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def key(self) -> str:
        return hospital_number_key(self.hospital_number)

    @property
    def loose_key(self) -> str:
        """The key without spaces: "H 100" and "h100" are probably one patient."""
        return loose_key(self.hospital_number)

    def add_problem(self, column: str, message: str) -> None:
        self.problems.append(ImportProblem(self.row, column, message))


def loose_key(hospital_number: str) -> str:
    return hospital_number_key(hospital_number).replace(" ", "")


def file_rows(
    text: str, *, order: str, today: date
) -> tuple[list[PatientRow], list[ImportProblem]]:
    """The file's rows, each read on its own, and the problems of the file as a whole (its
    header, a record that cannot be read). `order` reads dates with slashes."""
    found, unreadable = records(text)
    trailing = [unreadable] if unreadable else []
    if not found:
        return [], trailing or [file_problem("The file is empty.")]
    (_, header_cells), *lines = found
    columns, problems = header(header_cells, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    if problems:
        return [], problems + trailing
    if not lines and not unreadable:
        return [], [file_problem("The file has a header but no patients.")]
    rows = [
        row_read(number, row_cells(columns, cells, KNOWN_COLUMNS), len(columns), order, today)
        for number, cells in lines
    ]
    return rows, trailing


def row_read(
    number: int, cells: dict[str, str] | None, field_count: int, order: str, today: date
) -> PatientRow:
    row = PatientRow(row=number)
    if cells is None:
        row.add_problem(
            "", f"The row does not have {field_count} fields like the header; check its commas."
        )
        return row
    row.hospital_number = hospital_number_clean(cells["hospital_number"])
    if not row.key:
        row.add_problem("hospital_number", "Enter the patient's hospital number.")
    for column in ("given_name", "family_name"):
        setattr(row, column, cells[column])
        if not cells[column]:
            row.add_problem(column, f"Enter the patient's {column.replace('_', ' ')}.")
    row.date_of_birth = _birth_date(row, cells["date_of_birth"], order, today)
    row.sex = _sex(row, cells["sex"])
    row.email = cells["email"]
    row.phone = cells["phone"]
    row.named_nurse = cells["named_nurse"]
    row.protocol = cells["protocol"]
    for course in range(1, COURSES + 1):
        read = _course(row, course, cells, order, today)
        if read is not None:
            row.courses.append(read)
    return row


def _birth_date(row: PatientRow, text: str, order: str, today: date) -> date | None:
    if not text:
        row.add_problem("date_of_birth", "Enter the patient's date of birth.")
        return None
    day, problem = parse_date(text, order)
    if not problem and (problem := birth_date_problem(day, today=today)):
        day = None
    if problem:
        row.add_problem("date_of_birth", problem)
    return day


def _sex(row: PatientRow, text: str) -> str:
    sex = SEXES.get(" ".join(text.lower().split()))
    if sex is None:
        shown = quoted(text) if text else "Nothing"
        row.add_problem("sex", f"{shown} is not a sex this record keeps: write F, M or X.")
        return ""
    return sex


def _course(row, number, cells, order, today) -> CourseRow | None:
    def cell(name: str) -> str:
        return cells[course_column(number, name)]

    if not any(cell(name) for name in COURSE_CELLS):
        return None
    course = CourseRow(
        number=number,
        first_day=None,
        days=None,
        dose_mg=None,
        days_reason=cell("days_reason"),
        spacing_reason=cell("spacing_reason"),
    )
    first_column = course_column(number, "first_day")
    if not cell("first_day"):
        row.add_problem(first_column, f"Give course {number}'s first infusion day.")
    else:
        day, problem = parse_date(cell("first_day"), order)
        if not problem and (problem := clinical_date_problem(day, today=today)):
            day = None
        if problem:
            row.add_problem(first_column, problem)
        course.first_day = day
    course.days = _days(row, number, cell("days"))
    course.dose_mg = _dose(row, number, cell("dose_mg"))
    return course


def _days(row: PatientRow, number: int, text: str) -> int | None:
    if not text:
        return standard_days(number)
    column = course_column(number, "days")
    if non_ascii_digits(text) or not text.isdigit():
        row.add_problem(column, f"{quoted(text)} is not a number of days: write it as 0-9.")
        return None
    days = int(text)
    if not 1 <= days <= MAX_DAYS:
        row.add_problem(column, f"A course lasts from 1 to {MAX_DAYS} days, not {days}.")
        return None
    return days


def _dose(row: PatientRow, number: int, text: str) -> Decimal | None:
    column = course_column(number, "dose_mg")
    if not text:
        # Recorded, never assumed: trials gave 24 mg a day.
        row.add_problem(column, f"Give course {number}'s daily dose in mg, as given (e.g. 12).")
        return None
    try:
        dose = None if non_ascii_digits(text) else Decimal(text)
    except InvalidOperation:
        dose = None
    if dose is None or not dose.is_finite():
        row.add_problem(column, f"{quoted(text)} is not a dose in mg: write a number, e.g. 12.")
        return None
    if problem := dose_problem(dose):
        row.add_problem(column, problem)
        return None
    if dose != dose.quantize(Decimal("0.1")):
        row.add_problem(column, "Give the dose to at most one decimal place, e.g. 12.5.")
        return None
    return dose


def course_rule_problems(
    row: PatientRow, stored: list[CourseFacts], adding: list[CourseRow], today: date
) -> None:
    """The course rules for the courses the row adds, among the patient's stored courses and
    the row's own earlier ones: each problem said once, on the later course's cell."""
    earlier = list(stored)
    for course in sorted(adding, key=lambda course: course.number):
        if not course.readable:
            break  # its dates are already a problem; the later courses' rules would be noise
        facts = course.facts()
        problems = course_problems(facts, others=earlier, birth_date=row.date_of_birth, today=today)
        for rule_field, messages in problems.items():
            column = course_column(course.number, RULE_CELLS.get(rule_field, "first_day"))
            for message in messages:
                row.add_problem(column, message)
        earlier.append(facts)
