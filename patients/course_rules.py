"""Infusion-course validation: pure functions over plain values (docs/clinical-reference.md,
section 1).

The model's clean() and the schedule_preview command both call course_problems, so a course
refused in the admin is refused on the command line with the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from monitoring.domain.input_rules import clinical_date_problem

MIN_SPACING_MONTHS = 12
MAX_DAYS = 10  # the model's check constraint too
FIRST_COURSE_DAYS = 5
LATER_COURSE_DAYS = 3
# The daily dose recorded for a course: 12 mg is the label's, 24 mg was used in trials
# (CAMMS223); outside 1 to 48 mg it is a typing error, not a regimen.
MIN_DAILY_DOSE_MG = 1
MAX_DAILY_DOSE_MG = 48


def standard_days(number: int) -> int:
    return FIRST_COURSE_DAYS if number == 1 else LATER_COURSE_DAYS


@dataclass(frozen=True)
class CourseFacts:
    number: int
    first_day: date
    days: int
    days_reason: str = ""
    spacing_override_reason: str = ""

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)


def dose_problem(daily_dose_mg: Decimal) -> str | None:
    """Why a daily dose cannot be right, or None (the model's validators use the same limits)."""
    if MIN_DAILY_DOSE_MG <= daily_dose_mg <= MAX_DAILY_DOSE_MG:
        return None
    return (
        f"A daily dose of {daily_dose_mg:f} mg is not plausible: give the dose as given, from "
        f"{MIN_DAILY_DOSE_MG} to {MAX_DAILY_DOSE_MG} mg a day (usually 12)."
    )


def earliest_start(course_number: int, previous: CourseFacts) -> date:
    """The label's minimum spacing: course 2 counts from course 1's first infusion, later
    courses from the previous course's last infusion."""
    if course_number == 2:
        return previous.first_day + relativedelta(months=MIN_SPACING_MONTHS)
    return previous.last_day + relativedelta(months=MIN_SPACING_MONTHS)


def _spacing_problem(course: CourseFacts, previous: CourseFacts) -> str | None:
    earliest = earliest_start(course.number, previous)
    if course.first_day >= earliest or course.spacing_override_reason.strip():
        return None
    counted_from = "first" if course.number == 2 else "last"
    anchor = previous.first_day if course.number == 2 else previous.last_day
    return (
        f"Course {course.number} starts {course.first_day:%d %b %Y}, earlier than the minimum "
        f"spacing allows: no earlier than {earliest:%d %b %Y}, {MIN_SPACING_MONTHS} months after "
        f"course {previous.number}'s {counted_from} infusion on {anchor:%d %b %Y}. "
        "A clinician must record an override reason to give it earlier."
    )


def course_problems(
    course: CourseFacts,
    *,
    others: Sequence[CourseFacts],
    birth_date: date | None,
    today: date | None = None,
) -> dict[str, list[str]]:
    """Problems with `course` among the patient's other non-cancelled courses, by field name.
    With `today`, the first day must also be within the sane range around it."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    if course.number < 1:
        add("number", "Course numbers start at 1.")
    if not 1 <= course.days <= MAX_DAYS:
        add("days", f"A course lasts from 1 to {MAX_DAYS} days.")
    if today is not None and (problem := clinical_date_problem(course.first_day, today=today)):
        add("first_day", problem)
    if "days" in problems or "first_day" in problems:
        return problems  # the days it spans cannot be counted: the rest would be noise
    expected_days = standard_days(course.number)
    if course.days != expected_days and not course.days_reason.strip():
        add(
            "days_reason",
            f"Course {course.number} is normally given over {expected_days} days; record a "
            f"reason for giving it over {course.days}.",
        )
    if birth_date is not None and course.first_day < birth_date:
        add(
            "first_day",
            f"The first infusion ({course.first_day:%d %b %Y}) is before the patient's birth "
            f"({birth_date:%d %b %Y}).",
        )
    by_number = {other.number: other for other in others}
    if course.number in by_number:
        add("number", f"The patient already has a course {course.number}.")
    for other in others:
        if course.first_day <= other.last_day and other.first_day <= course.last_day:
            add(
                "first_day",
                f"Its days overlap course {other.number} ({other.first_day:%d %b %Y} to "
                f"{other.last_day:%d %b %Y}).",
            )
    previous = by_number.get(course.number - 1)
    if course.number > 1 and previous is None:
        add("number", f"Course {course.number - 1} must be recorded before course {course.number}.")
    elif previous is not None and "first_day" not in problems:
        if course.first_day <= previous.last_day:
            add("first_day", f"Course {course.number} must start after course {previous.number}.")
        elif problem := _spacing_problem(course, previous):
            add("spacing_override_reason", problem)
    following = by_number.get(course.number + 1)
    if following is not None and "first_day" not in problems:
        if following.first_day <= course.last_day:
            add("first_day", f"Course {course.number} must end before course {following.number}.")
        elif problem := _spacing_problem(following, course):
            add("first_day", f"Moving it would break the next course's spacing. {problem}")
    return problems


def sequence_problems(courses: Sequence[CourseFacts], *, birth_date: date | None) -> list[str]:
    """Every problem in a whole list of courses, numbered in date order (for what-if plans)."""
    messages: list[str] = []
    for index, course in enumerate(courses):
        earlier = courses[:index]
        for field_messages in course_problems(
            course, others=earlier, birth_date=birth_date
        ).values():
            messages.extend(field_messages)
    return messages
