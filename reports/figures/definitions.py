"""What the overview's figures mean, over plain values (no Django): tested without a database,
and each rule has a database twin in reports.figures.conditions that a test holds to it.

Adherence is about checks whose window has closed: until a check's overdue date has passed it
may still be done on time, so it is "open" and counted in no share. Then it is:
- on time: completed on or before its overdue date (a result inside the window);
- late: completed after its overdue date;
- missed: not completed;
- waived: a clinician waived it, with a reason; shown apart, in no share.
Adherence is on time / (on time + late + missed). Checks that were already overdue before the
clinic began tracking the patient (before_tracking), cancelled checks and urgent checks opened
by a symptom report are not part of the figures. A check belongs to the month of its due date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from dateutil.relativedelta import relativedelta


class Outcome(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    MISSED = "missed"
    WAIVED = "waived"
    OPEN = "open"


OUTCOME_LABELS = {
    Outcome.ON_TIME: "On time",
    Outcome.LATE: "Late",
    Outcome.MISSED: "Missed",
    Outcome.WAIVED: "Waived",
    Outcome.OPEN: "Window still open",
}

# How many months the overview shows, this one included.
MONTHS_SHOWN = 24


def check_outcome(
    *, today: date, overdue_after: date, completed_on: date | None, waived: bool
) -> Outcome:
    """The outcome of a counted check (planned, not cancelled, not before tracking) on `today`."""
    if overdue_after >= today:
        return Outcome.OPEN
    if waived:
        return Outcome.WAIVED
    if completed_on is None:
        return Outcome.MISSED
    return Outcome.ON_TIME if completed_on <= overdue_after else Outcome.LATE


@dataclass(frozen=True)
class Counts:
    """The checks of one cell of the table (a test and a month, a nurse, or a total)."""

    on_time: int = 0
    late: int = 0
    missed: int = 0
    waived: int = 0
    open: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            on_time=self.on_time + other.on_time,
            late=self.late + other.late,
            missed=self.missed + other.missed,
            waived=self.waived + other.waived,
            open=self.open + other.open,
        )

    @property
    def counted(self) -> int:
        """The checks the share is of: window closed, not waived."""
        return self.on_time + self.late + self.missed

    @property
    def adherence(self) -> float | None:
        """The share done within the window, 0..1; None when no check counts yet."""
        return self.on_time / self.counted if self.counted else None

    @property
    def completed(self) -> int:
        return self.on_time + self.late

    def of(self, outcome: Outcome) -> int:
        return getattr(self, outcome.value)


def percent(share: float | None) -> str:
    """A share as the page and the exports print it: whole percent, or a dash."""
    return "—" if share is None else f"{round(share * 100)}%"


def months_shown(today: date, count: int = MONTHS_SHOWN) -> list[date]:
    """The first days of the last `count` months, oldest first, this month last."""
    this_month = today.replace(day=1)
    return [this_month - relativedelta(months=back) for back in range(count - 1, -1, -1)]


class Stage(StrEnum):
    BEFORE_FIRST_COURSE = "before_first_course"
    IN_TREATMENT = "in_treatment"
    IN_FOLLOW_UP = "in_follow_up"
    ON_OTHER_THERAPY = "on_other_therapy"
    MONITORING_COMPLETE = "monitoring_complete"
    WITHDRAWN = "withdrawn"
    TRANSFERRED = "transferred"
    DECEASED = "deceased"


STAGE_LABELS = {
    Stage.BEFORE_FIRST_COURSE: "Before course 1",
    Stage.IN_TREATMENT: "In treatment (a further course planned)",
    Stage.IN_FOLLOW_UP: "In follow-up",
    Stage.ON_OTHER_THERAPY: "On another therapy only",
    Stage.MONITORING_COMPLETE: "Monitoring complete",
    Stage.WITHDRAWN: "Withdrawn",
    Stage.TRANSFERRED: "Transferred",
    Stage.DECEASED: "Deceased",
}

# Patient.Status values that are a stage of their own.
_STATUS_STAGES = {
    "monitoring_complete": Stage.MONITORING_COMPLETE,
    "withdrawn": Stage.WITHDRAWN,
    "transferred": Stage.TRANSFERRED,
    "deceased": Stage.DECEASED,
}


def stage_of(
    *,
    status: str,
    has_given_course: bool,
    has_planned_course: bool,
    other_therapies: bool = False,
) -> Stage:
    """Where an active patient is: no course given yet; a course given and another planned
    (alemtuzumab's second course comes a year after the first); or courses given and none
    planned: follow-up. A patient with no alemtuzumab course, given or planned, who has an
    episode of another therapy is on that therapy only. Any other status is its own stage."""
    if status in _STATUS_STAGES:
        return _STATUS_STAGES[status]
    if not has_given_course and not has_planned_course and other_therapies:
        return Stage.ON_OTHER_THERAPY
    if not has_given_course:
        return Stage.BEFORE_FIRST_COURSE
    return Stage.IN_TREATMENT if has_planned_course else Stage.IN_FOLLOW_UP


class VisitState(StrEnum):
    DONE = "done"
    OVERDUE = "overdue"
    DUE = "due"
    UPCOMING = "upcoming"


VISIT_LABELS = {
    VisitState.DONE: "Done",
    VisitState.OVERDUE: "Overdue",
    VisitState.DUE: "Due now",
    VisitState.UPCOMING: "Still to come",
}


def visit_state(*, open_checks: int, overdue: int, window_open: int) -> VisitState:
    """A visit is one patient's checks due on one day (as the worklist groups them). Done when
    none is open (completed or waived); overdue when an open one is past its overdue date; due
    when an open one's window has opened; else still to come."""
    if open_checks == 0:
        return VisitState.DONE
    if overdue:
        return VisitState.OVERDUE
    if window_open:
        return VisitState.DUE
    return VisitState.UPCOMING
