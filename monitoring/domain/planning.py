"""Monitoring schedule planning: pure functions over plain values.

No ORM here. The service layer turns stored courses and protocols into these values, calls
plan_schedule, and stores what it returns; the schedule_preview command calls it with values
typed on the command line. Clinical rules: docs/clinical-reference.md section 2.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

RECURRING = "recurring"
PRE_COURSE = "pre_course"
# Check-ins after the end of follow-up (yearly, say), which a clinic may add to a protocol.
AFTER_END = "after_end"
# How long after the end of follow-up such check-ins are planned: autoimmunity can appear
# years later (thyroid disease more than 7 years after the first course), and a plan must end.
AFTER_END_MONTHS = 120
ANY_SEX = "any"
# The shapes of the other therapies' protocols (episode_planning plans them): items that
# repeat while on therapy, at fixed months after the start, before starting, before every
# dose, at fixed months after each dose, and at fixed months after stopping.
ON_THERAPY = "on_therapy"
AT_MONTHS = "at_months"
BEFORE_START = "before_start"
BEFORE_DOSE = "before_dose"
AFTER_DOSE = "after_dose"
AFTER_STOP = "after_stop"
EPISODE_KINDS = (ON_THERAPY, AT_MONTHS, BEFORE_START, BEFORE_DOSE, AFTER_DOSE, AFTER_STOP)


class PlanningError(ValueError):
    """The inputs cannot produce a schedule (a protocol item without an interval, say)."""


@dataclass(frozen=True)
class Course:
    """One infusion course as planning sees it. `key` ties pre-course checks to the course."""

    number: int
    first_day: date
    days: int
    key: Hashable = None

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)


@dataclass(frozen=True)
class ProtocolItem:
    key: Hashable
    panel: str
    kind: str
    interval_months: int | None
    window_before_days: int
    grace_after_days: int
    applies_to_sex: str = ANY_SEX
    # Recurring items normally start one interval after the anchor; baseline ones at the anchor.
    from_baseline: bool = False
    # Pre-course items such as the infection screen are needed before course 1 only (and
    # before-dose items before the first dose only).
    first_course_only: bool = False
    # At-months, after-dose and after-stop items: the months after the start, the dose or the
    # stop at which they are due.
    months: tuple[int, ...] = ()
    # On-therapy items: the month of the first check, when it is not one interval on (months
    # 1, 3 and 6 at fixed months, then every 6 months from month 12, say).
    first_month: int | None = None

    def applies_to(self, sex: str) -> bool:
        return self.applies_to_sex == ANY_SEX or self.applies_to_sex == sex


@dataclass(frozen=True)
class Protocol:
    follow_up_months: int
    items: Sequence[ProtocolItem] = field(default_factory=tuple)


@dataclass(frozen=True)
class PlannedCheck:
    item_key: Hashable
    panel: str
    kind: str
    due: date
    window_opens: date
    overdue_after: date
    # Exactly one of these identifies the check within its item: months from the anchor for a
    # recurring check (from the end of follow-up for a check-in after it), the course for a
    # pre-course one. They survive a course being moved.
    month_offset: int | None = None
    course_key: Hashable = None
    # The other therapies' checks: the episode they belong to, and the dose for the checks
    # before or after a dose (month_offset is then months from the dose, 0 before it).
    episode_key: Hashable = None
    dose_key: Hashable = None
    # Moved onto the dates of another episode's check of the same panel, so both are one visit
    # and one blood draw (episode_planning.share_visits); shown once, under that check.
    shares_visit: bool = False

    @property
    def slot(self) -> tuple:
        return check_slot(
            self.item_key,
            self.kind,
            self.month_offset,
            self.course_key,
            episode_key=self.episode_key,
            dose_key=self.dose_key,
        )


def check_slot(
    item_key: Hashable,
    kind: str,
    month_offset: int | None,
    course_key,
    *,
    episode_key: Hashable = None,
    dose_key: Hashable = None,
) -> tuple:
    """Which check of its protocol item a check is. A stored check is matched to the planned
    one by it, so the plan and the stored rows must build it alike."""
    if kind in (RECURRING, AFTER_END):
        return (item_key, kind, month_offset)
    if kind == PRE_COURSE:
        return (item_key, PRE_COURSE, course_key)
    # A therapy restarted later is another episode: the same item and month is another check.
    return (item_key, kind, month_offset, episode_key, dose_key)


@dataclass(frozen=True)
class Plan:
    checks: tuple[PlannedCheck, ...]
    anchor: date | None
    end_of_follow_up: date | None


def end_of_follow_up(courses: Sequence[Course], follow_up_months: int) -> date | None:
    """Follow-up ends `follow_up_months` after the last infusion of the latest course."""
    if not courses:
        return None
    last_infusion = max(course.last_day for course in courses)
    return add_months(last_infusion, follow_up_months)


def add_months(day: date, months: int) -> date:
    """`day` plus `months` calendar months, clamped to the end of a shorter month (31 January
    plus one month is 28 or 29 February), as dateutil's relativedelta does, at a fraction of
    its cost: a schedule adds months some three hundred times per patient."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def plan_schedule(*, courses: Sequence[Course], protocol: Protocol, sex: str) -> Plan:
    """Every check the protocol asks of a patient with these (non-cancelled) courses.

    Due dates are the anchor (course 1's first infusion) plus k months, computed from the anchor
    each time so that 31 January gives 29 February, then 31 March, never a drifting 29th.
    """
    if not courses:
        return Plan(checks=(), anchor=None, end_of_follow_up=None)
    ordered = sorted(courses, key=lambda course: course.first_day)
    anchor = ordered[0].first_day
    end = end_of_follow_up(ordered, protocol.follow_up_months)
    checks: list[PlannedCheck] = []
    months_on: dict[int, date] = {}  # items share offsets (monthly, quarterly): add each once
    for item in protocol.items:
        if not item.applies_to(sex):
            continue
        if item.kind == RECURRING:
            checks.extend(_recurring_checks(item, anchor, end, months_on))
        elif item.kind == PRE_COURSE:
            targets = ordered[:1] if item.first_course_only else ordered
            checks.extend(_pre_course_check(item, course) for course in targets)
        elif item.kind == AFTER_END:
            checks.extend(_after_end_checks(item, end))
        else:
            raise PlanningError(f"Protocol item {item.key!r} has an unknown kind {item.kind!r}.")
    checks.sort(key=lambda check: (check.due, check.panel, check.kind))
    return Plan(checks=tuple(checks), anchor=anchor, end_of_follow_up=end)


def _recurring_checks(
    item: ProtocolItem, anchor: date, end: date, months_on: dict[int, date]
) -> list[PlannedCheck]:
    if not item.interval_months or item.interval_months < 1:
        raise PlanningError(
            f"Recurring protocol item {item.key!r} ({item.panel}) needs an interval of at least "
            "one month."
        )
    checks = []
    before = timedelta(days=item.window_before_days)
    grace = timedelta(days=item.grace_after_days)
    k = 0 if item.from_baseline else 1
    while True:
        offset = k * item.interval_months
        due = months_on.get(offset)
        if due is None:
            due = months_on[offset] = add_months(anchor, offset)
        if due > end:
            return checks
        checks.append(
            PlannedCheck(
                item_key=item.key,
                panel=item.panel,
                kind=RECURRING,
                due=due,
                window_opens=due - before,
                overdue_after=due + grace,
                month_offset=offset,
            )
        )
        k += 1


def _after_end_checks(item: ProtocolItem, end: date) -> list[PlannedCheck]:
    """Check-ins every interval after the end of follow-up, for AFTER_END_MONTHS."""
    if not item.interval_months or item.interval_months < 1:
        raise PlanningError(
            f"Protocol item {item.key!r} ({item.panel}) after the end of follow-up needs an "
            "interval of at least one month."
        )
    before = timedelta(days=item.window_before_days)
    grace = timedelta(days=item.grace_after_days)
    checks = []
    for offset in range(item.interval_months, AFTER_END_MONTHS + 1, item.interval_months):
        due = add_months(end, offset)
        checks.append(
            PlannedCheck(
                item_key=item.key,
                panel=item.panel,
                kind=AFTER_END,
                due=due,
                window_opens=due - before,
                overdue_after=due + grace,
                month_offset=offset,
            )
        )
    return checks


def _pre_course_check(item: ProtocolItem, course: Course) -> PlannedCheck:
    # A pre-course check is due by the course's first infusion day.
    due = course.first_day
    return PlannedCheck(
        item_key=item.key,
        panel=item.panel,
        kind=PRE_COURSE,
        due=due,
        window_opens=due - timedelta(days=item.window_before_days),
        overdue_after=due + timedelta(days=item.grace_after_days),
        course_key=course.key if course.key is not None else course.number,
    )
