"""What-if plans: the schedule a set of course dates would produce, computed and never stored.

The `schedule_preview` command (dates typed on the command line) and the patient page's
preview (the patient's own courses plus a proposed next one) share this, so a clinician and
the command get the same plan for the same dates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from monitoring.domain import planning
from monitoring.models import MonitoringProtocol
from patients.course_rules import CourseFacts, sequence_problems, standard_days
from patients.models import InfusionCourse, Patient


@dataclass(frozen=True)
class Preview:
    """The plan, or the course rules the dates break (then no plan)."""

    courses: tuple[planning.Course, ...]
    problems: tuple[str, ...] = ()
    plan: planning.Plan | None = None


def courses_preview(
    *,
    facts: Sequence[CourseFacts],
    protocol: MonitoringProtocol,
    sex: str,
    birth_date: date | None = None,
) -> Preview:
    """Plan `facts` (numbered, in order) under `protocol`, writing nothing."""
    courses = tuple(
        planning.Course(number=fact.number, first_day=fact.first_day, days=fact.days)
        for fact in facts
    )
    problems = sequence_problems(list(facts), birth_date=birth_date)
    if problems:
        return Preview(courses=courses, problems=tuple(problems))
    plan = planning.plan_schedule(courses=courses, protocol=protocol.as_plan_protocol(), sex=sex)
    return Preview(courses=courses, plan=plan)


def next_course_preview(
    *, patient: Patient, first_day: date, days: int | None = None, override: str = ""
) -> Preview:
    """The patient's plan if their next course started on `first_day`: their recorded courses
    (not the cancelled ones) and the proposed one, under their protocol. `override` is a
    clinician's reason accepting a non-standard spacing or number of days for the proposed
    course, as the course form would ask."""
    recorded = [
        course.facts()
        for course in patient.courses.exclude(status=InfusionCourse.Status.CANCELLED).order_by(
            "number"
        )
    ]
    number = len(recorded) + 1
    proposed = CourseFacts(
        number=number,
        first_day=first_day,
        days=days or standard_days(number),
        days_reason=override,
        spacing_override_reason=override,
    )
    return courses_preview(
        facts=[*recorded, proposed],
        protocol=patient.protocol,
        sex=patient.sex,
        birth_date=patient.date_of_birth,
    )
