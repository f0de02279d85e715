"""The onboarding file's reader on its own: plain text in, typed rows and problems out, no
database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from monitoring.domain.input_rules import DateOrder
from patients.course_rules import CourseFacts
from patients.onboarding.reading import course_rule_problems, file_rows

TODAY = date(2026, 11, 21)
HEADER = (
    "Hospital Number,Given Name,Family-Name,Date of birth,Sex,Course 1 first day,"
    "Course 1 dose mg,Course 2 first day,Course 2 days,Course 2 dose mg"
)


def rows_of(*lines: str, header: str = HEADER):
    return file_rows("\n".join([header, *lines]) + "\n", order=DateOrder.DAY_FIRST, today=TODAY)


def test_a_row_is_read_into_typed_values_with_the_standard_days():
    (row,), problems = rows_of("nms  7,Ada,Byron,15/06/1985,female,15/03/2021,12,20/03/2023,,12.5")
    assert problems == [] and row.problems == []
    assert (row.hospital_number, row.key, row.loose_key) == ("nms 7", "nms 7", "nms7")
    assert (row.date_of_birth, row.sex) == (date(1985, 6, 15), "F")
    assert [(c.number, c.first_day, c.days, c.dose_mg) for c in row.courses] == [
        (1, date(2021, 3, 15), 5, Decimal(12)),
        (2, date(2023, 3, 20), 3, Decimal("12.5")),
    ]


def test_bad_cells_are_problems_of_their_row_and_column():
    (row,), _ = rows_of("N1,Ada,Byron,1985-06-15,F,2021-03-15,١٢,2023-03-20,11,12.25")
    assert [(p.row, p.column) for p in row.problems] == [
        (2, "course_1_dose_mg"),
        (2, "course_2_days"),
        (2, "course_2_dose_mg"),
    ]
    assert row.problems[2].message == "Give the dose to at most one decimal place, e.g. 12.5."


def test_the_course_rules_see_the_stored_courses():
    (row,), _ = rows_of("N1,Ada,Byron,1985-06-15,F,,,2021-09-01,,12")
    stored = [CourseFacts(number=1, first_day=date(2021, 3, 15), days=5)]
    course_rule_problems(row, stored, row.courses, TODAY)
    (problem,) = row.problems
    assert problem.column == "course_2_spacing_reason"
    assert problem.message.startswith("Course 2 starts 01 Sep 2021, earlier than the minimum")


def test_a_row_with_the_wrong_number_of_fields_is_one_problem():
    (row,), _ = rows_of("N1,Ada,Byron")
    assert [str(p) for p in row.problems] == [
        "Row 2: The row does not have 10 fields like the header; check its commas."
    ]
