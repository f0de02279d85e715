"""Reads for the patient's own pages. The home page is three queries whatever the length of the
patient's history: courses, checks (with their status in SQL), and results (with the action of
the acknowledgement at each result's tier in the same query)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from dateutil.relativedelta import relativedelta
from django.db.models import OuterRef, Subquery

from monitoring.domain import planning
from monitoring.domain.check_status import CheckStatus
from monitoring.models import Acknowledgement, LabResult, ScheduledCheck
from patients.models import InfusionCourse, Patient

from .plain_words import analyte_words, is_reviewed, result_words, test_words

# Enough to plan ahead on one screen; the calendar feed carries the rest.
UPCOMING_DAYS_SHOWN = 6
COMPLETED_DAYS_SHOWN = 6
RESULTS_MONTHS = 12


@dataclass
class TestDay:
    """The tests due on one date: what the patient plans a visit around."""

    due: date
    window_opens: date
    overdue_after: date
    tests: list[str] = field(default_factory=list)
    urgent: bool = False


@dataclass
class DoneDay:
    done_on: date
    tests: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ResultLine:
    name: str
    value: str
    flagged: bool
    words: str


@dataclass
class ResultGroup:
    sample_date: date
    test: str
    lines: list[ResultLine]


@dataclass
class PortalHome:
    today: date
    overdue: list[TestDay]
    due_now: list[TestDay]
    upcoming: list[TestDay]
    more_upcoming: int  # further test days not listed
    completed: list[DoneDay]
    courses: list[InfusionCourse]
    end_of_follow_up: date | None
    results: list[ResultGroup]


def portal_home(patient: Patient, *, today: date) -> PortalHome:
    courses = list(patient.courses.exclude(status=InfusionCourse.Status.CANCELLED))
    checks = list(
        ScheduledCheck.objects.active()
        .filter(patient=patient)
        .with_status(today)
        .order_by("due_date", "panel")
    )
    by_status: dict[str, list[ScheduledCheck]] = {}
    for check in checks:
        by_status.setdefault(check.status, []).append(check)
    upcoming = _test_days(by_status.get(CheckStatus.UPCOMING, []))
    completed = by_status.get(CheckStatus.COMPLETED, []) + by_status.get(
        CheckStatus.COMPLETED_LATE, []
    )
    return PortalHome(
        today=today,
        overdue=_test_days(by_status.get(CheckStatus.OVERDUE, [])),
        due_now=_test_days(by_status.get(CheckStatus.DUE, [])),
        upcoming=upcoming[:UPCOMING_DAYS_SHOWN],
        more_upcoming=max(0, len(upcoming) - UPCOMING_DAYS_SHOWN),
        completed=_done_days(completed)[:COMPLETED_DAYS_SHOWN],
        courses=courses,
        end_of_follow_up=_end_of_follow_up(patient, courses),
        results=reviewed_results(patient, since=today - relativedelta(months=RESULTS_MONTHS)),
    )


def _test_days(checks: list[ScheduledCheck]) -> list[TestDay]:
    days: dict[date, TestDay] = {}
    for check in checks:
        day = days.get(check.due_date)
        if day is None:
            day = days[check.due_date] = TestDay(
                due=check.due_date,
                window_opens=check.window_opens,
                overdue_after=check.overdue_after,
            )
        # Tests due the same day share the narrowest window, so one visit suits them all.
        day.window_opens = max(day.window_opens, check.window_opens)
        day.overdue_after = min(day.overdue_after, check.overdue_after)
        day.urgent = day.urgent or check.kind == ScheduledCheck.Kind.URGENT
        words = test_words(check.panel)
        if words not in day.tests:
            day.tests.append(words)
    return sorted(days.values(), key=lambda day: day.due)


def _done_days(checks: list[ScheduledCheck]) -> list[DoneDay]:
    """Completed checks by the day their sample was taken, newest first."""
    days: dict[date, DoneDay] = {}
    for check in checks:
        day = days.setdefault(check.completed_on, DoneDay(done_on=check.completed_on))
        words = test_words(check.panel)
        if words not in day.tests:
            day.tests.append(words)
    return sorted(days.values(), key=lambda day: day.done_on, reverse=True)


def _end_of_follow_up(patient: Patient, courses: list[InfusionCourse]) -> date | None:
    live = [
        planning.Course(number=c.number, first_day=c.first_infusion_date, days=c.days)
        for c in courses
    ]
    return planning.end_of_follow_up(live, patient.protocol.follow_up_months)


def reviewed_results(patient: Patient, *, since: date) -> list[ResultGroup]:
    """The patient's results since `since`, newest first, one group per report, in plain
    words. A report appears only when every result in it may be shown (see
    plain_words.is_reviewed): a normal count beside an unreviewed low one must not look like
    an all-clear."""
    review_action = Acknowledgement.objects.filter(
        result=OuterRef("pk"), tier=OuterRef("tier")
    ).order_by("-acknowledged_at", "-pk")
    results = (
        LabResult.objects.current()
        .filter(patient=patient, sample_collected_on__gte=since)
        .select_related("analyte", "report")
        .annotate(review_action=Subquery(review_action.values("action")[:1]))
        .order_by("-sample_collected_on", "report_id", "analyte__display_order")
    )
    groups: dict[int, ResultGroup] = {}
    hidden: set[int] = set()
    for result in results:
        if not is_reviewed(tier=result.tier, review_action=result.review_action):
            hidden.add(result.report_id)
            continue
        group = groups.get(result.report_id)
        if group is None:
            group = groups[result.report_id] = ResultGroup(
                sample_date=result.sample_collected_on,
                test=test_words(result.report.panel),
                lines=[],
            )
        group.lines.append(_line(result))
    return [group for report_id, group in groups.items() if report_id not in hidden]


def _line(result: LabResult) -> ResultLine:
    analyte = result.analyte
    low, high = result.reference_range
    return ResultLine(
        name=_sentence_case(analyte_words(analyte.code, analyte.name)),
        value=result.display_value,
        flagged=result.tier != "normal",
        words=result_words(
            code=analyte.code,
            name=analyte.name,
            tier=result.tier,
            value=result.canonical_value,
            low=low,
            high=high,
            review_action=result.review_action,
            is_outcome=analyte.is_outcome,
        ),
    )


def _sentence_case(text: str) -> str:
    # Not str.capitalize(), which would turn "TSH" into "Tsh".
    return text[:1].upper() + text[1:]
