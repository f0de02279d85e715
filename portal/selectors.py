"""Reads for the patient's own pages, each a fixed number of queries whatever the length of the
patient's history: the home page (the open checks with their status in SQL), the schedule
(courses, checks) and a page of results (its reports, then their results with the action of
the acknowledgement at each result's tier in the same query)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import OuterRef, Subquery

from monitoring.domain import planning, therapies
from monitoring.domain.check_status import CheckStatus
from monitoring.models import Acknowledgement, LabReport, LabResult, ScheduledCheck
from patients.models import InfusionCourse, Patient, TherapyEpisode

from .plain_words import analyte_words, is_reviewed, result_words, test_words, window_words

# The home page fits two phone screens however long the record: the next visit, the one after
# and at most this many overdue dates; the schedule page has the rest.
OVERDUE_DAYS_ON_HOME = 3
# The schedule page: every planned date ahead, and the latest visits done.
COMPLETED_DAYS_SHOWN = 12
# Reports per page of results, newest first; older ones are a page further.
RESULTS_PER_PAGE = 10


@dataclass
class TestDay:
    """The tests due on one date: what the patient plans a visit around."""

    due: date
    window_opens: date
    overdue_after: date
    tests: list[str] = field(default_factory=list)
    urgent: bool = False
    # Which days suit, in a sentence, only while some of them are ahead ("" otherwise).
    suits: str = ""


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
    overdue: list[TestDay]  # the latest few, newest first
    more_overdue: int  # further overdue dates, on the schedule page
    next_visit: TestDay | None  # the next date still in or ahead of its window
    after_that: TestDay | None
    follow_up_ends: date | None


@dataclass
class PortalSchedule:
    today: date
    overdue: list[TestDay]
    due_now: list[TestDay]
    upcoming: list[TestDay]
    completed: list[DoneDay]
    courses: list[InfusionCourse]
    end_of_follow_up: date | None
    # The other therapies' episodes (not alemtuzumab's: its courses say it), by start.
    episodes: list[TherapyEpisode] = field(default_factory=list)


@dataclass
class ResultsPage:
    groups: list[ResultGroup]
    number: int
    has_newer: bool
    has_older: bool


def portal_home(patient: Patient, *, today: date) -> PortalHome:
    """One query: the open checks with their status. The end of follow-up is the one stored
    on the record (kept by the course services), so the courses are not read here."""
    checks = list(
        ScheduledCheck.objects.open()
        .filter(patient=patient)
        .with_status(today)
        .order_by("due_date", "panel")
    )
    overdue = _test_days([c for c in checks if c.status == CheckStatus.OVERDUE], today)
    ahead = _test_days([c for c in checks if c.status != CheckStatus.OVERDUE], today)
    latest_overdue = list(reversed(overdue))
    return PortalHome(
        today=today,
        overdue=latest_overdue[:OVERDUE_DAYS_ON_HOME],
        more_overdue=max(0, len(overdue) - OVERDUE_DAYS_ON_HOME),
        next_visit=ahead[0] if ahead else None,
        after_that=ahead[1] if len(ahead) > 1 else None,
        follow_up_ends=patient.follow_up_ends,
    )


def portal_schedule(patient: Patient, *, today: date) -> PortalSchedule:
    """Two queries: courses, and checks with their status, a visit two therapies share
    being one test (shown); a third for the episodes of a patient on another therapy."""
    courses = list(patient.courses.exclude(status=InfusionCourse.Status.CANCELLED))
    checks = list(
        ScheduledCheck.objects.active()
        .shown()
        .filter(patient=patient)
        .with_status(today)
        .order_by("due_date", "panel")
    )
    by_status: dict[str, list[ScheduledCheck]] = {}
    for check in checks:
        by_status.setdefault(check.status, []).append(check)
    completed = by_status.get(CheckStatus.COMPLETED, []) + by_status.get(
        CheckStatus.COMPLETED_LATE, []
    )
    return PortalSchedule(
        today=today,
        overdue=_test_days(by_status.get(CheckStatus.OVERDUE, []), today),
        due_now=_test_days(by_status.get(CheckStatus.DUE, []), today),
        upcoming=_test_days(by_status.get(CheckStatus.UPCOMING, []), today),
        completed=_done_days(completed)[:COMPLETED_DAYS_SHOWN],
        courses=courses,
        end_of_follow_up=_end_of_follow_up(patient, courses),
        # A third query only for a patient on another therapy (Patient.other_therapies).
        episodes=list(
            TherapyEpisode.objects.filter(patient=patient)
            .exclude(therapy=therapies.ALEMTUZUMAB)
            .order_by("started_on", "pk")
        )
        if patient.other_therapies
        else [],
    )


def _test_days(checks: list[ScheduledCheck], today: date) -> list[TestDay]:
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
    for day in days.values():
        day.suits = window_words(opens=day.window_opens, closes=day.overdue_after, today=today)
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


def portal_results(patient: Patient, *, page: int = 1) -> ResultsPage:
    """One page of the patient's results, newest first, one group per report. Two queries:
    the page's reports (one more than fits, to know whether older ones exist), then their
    results. A report not yet fully reviewed is left out of its page rather than moved to the
    next, so a page can show fewer than RESULTS_PER_PAGE while a review is pending."""
    page = max(1, page)
    start = (page - 1) * RESULTS_PER_PAGE
    report_ids = list(
        LabReport.objects.filter(patient=patient, entered_in_error_at=None)
        .order_by("-sample_collected_on", "-pk")
        .values_list("pk", flat=True)[start : start + RESULTS_PER_PAGE + 1]
    )
    shown = report_ids[:RESULTS_PER_PAGE]
    return ResultsPage(
        groups=reviewed_results(patient, report_ids=shown) if shown else [],
        number=page,
        has_newer=page > 1,
        has_older=len(report_ids) > RESULTS_PER_PAGE,
    )


def reviewed_results(
    patient: Patient, *, since: date | None = None, report_ids: list[int] | None = None
) -> list[ResultGroup]:
    """The patient's results (since `since`, or of these reports), newest first, one group
    per report, in plain words. A report appears only when every result in it may be shown
    (see plain_words.is_reviewed): a normal count beside an unreviewed low one must not look
    like an all-clear."""
    review_action = Acknowledgement.objects.filter(
        result=OuterRef("pk"), tier=OuterRef("tier")
    ).order_by("-acknowledged_at", "-pk")
    results = LabResult.objects.current().filter(patient=patient)
    if since is not None:
        results = results.filter(sample_collected_on__gte=since)
    if report_ids is not None:
        results = results.filter(report_id__in=report_ids)
    results = (
        results.select_related("analyte", "report")
        .annotate(review_action=Subquery(review_action.values("action")[:1]))
        .order_by("-sample_collected_on", "-report_id", "analyte__display_order")
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
