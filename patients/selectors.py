"""Reads shared by the staff views: the patient list and everything a patient page shows, each
in a fixed number of queries however long the patient's history."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Min, Prefetch, Q, QuerySet

from monitoring.alerts.rules import any_of
from monitoring.domain import planning
from monitoring.domain.input_rules import hospital_number_key
from monitoring.models import (
    Acknowledgement,
    Analyte,
    LabReport,
    LabResult,
    ScheduledCheck,
)
from monitoring.results.charts import SeriesPoint, TrendChart, trend_chart
from monitoring.results.flag_data import patient_flag_data
from monitoring.schedule.preview import Preview, next_course_preview
from monitoring.schedule.visits import visits_once

from .models import Clinic, InfusionCourse, Patient

log = logging.getLogger(__name__)

CHARTED_ANALYTES = ("platelets", "creatinine", "tsh")
# Reports listed per page of a patient's results, newest first: about half a year of monthly
# panels. The trend charts always draw every result; older reports are a page away.
REPORTS_PER_PAGE = 30
# The schedule shows a window of months around today: the last three and the next twelve (and
# this one). Five years are about 330 checks, most of the page's rendering; the rest is a link
# away (?schedule=2024-05 for the window from May 2024, ?schedule=all for every month).
SCHEDULE_MONTHS_BEFORE = 3
SCHEDULE_MONTHS_AFTER = 12


def patient_search(patients: QuerySet[Patient], *, query: str) -> QuerySet[Patient]:
    """Patients matching every word of `query` in a name or the hospital number."""
    for word in query.split():
        patients = patients.filter(
            Q(given_name__icontains=word)
            | Q(family_name__icontains=word)
            | Q(hospital_number__icontains=word)
            # "demo0001" or a full-width copy finds "DEMO0001".
            | Q(hospital_number_key__contains=hospital_number_key(word))
        )
    return patients.select_related("clinic").order_by("family_name", "given_name", "pk")


class KeptCountPaginator(Paginator):
    """A paginator whose count is kept for settings.LIST_COUNT_SECONDS, keyed on the query
    itself (the user's clinics, the search): counting 100,000 patients is 50 ms on every page,
    and a count a minute old only moves the last page number. Without a usable cache it
    counts."""

    @cached_property
    def count(self) -> int:
        seconds = settings.LIST_COUNT_SECONDS
        if not seconds:
            return super().count
        key = "list-count:" + hashlib.sha256(str(self.object_list.query).encode()).hexdigest()
        try:
            kept = cache.get(key)
        except Exception:
            log.warning("patient list: the cache could not be read", exc_info=True)
            return super().count
        if kept is None:
            kept = super().count
            try:
                cache.set(key, kept, timeout=seconds)
            except Exception:
                log.warning("patient list: the cache could not be written", exc_info=True)
        return kept

    def page(self, number) -> Page:
        """A page's rows whatever the kept count says (Django's own stops at the count): a
        patient added within the minute is listed at once."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(self.object_list[bottom : bottom + self.per_page], number, self)


LIST_COLUMNS = (
    "pk",
    "clinic_id",
    "family_name",
    "given_name",
    "hospital_number",
    "date_of_birth",
    "status",
)


def patient_list_page(
    patients: QuerySet[Patient],
    *,
    query: str,
    now: datetime,
    page_number,
    per_page: int = 50,
) -> Page:
    """One page of the patient list, each patient with their next due date and their count of
    overdue checks, as of their own clinic's date at `now`, as their page shows them. Four
    queries at any size: the count, the page, the page's clinics' time zones, and one
    aggregate over the page's checks. (Subqueries in the list query itself would run for
    every patient before PostgreSQL sorts and cuts the page: 0.65 s at 10,000 patients
    instead of milliseconds.)"""
    # What a row shows, and no more: the clinic and the other columns cost decoding per row.
    shown = patient_search(patients, query=query).select_related(None).only(*LIST_COLUMNS)
    page = KeptCountPaginator(shown, per_page).get_page(page_number)
    rows = list(page.object_list)
    # Staff of clinics in several time zones: each group of the page's patients whose clinics
    # share a date is one condition on their ids (no join to the patients).
    clinics = Clinic.objects.filter(pk__in={patient.clinic_id for patient in rows})
    dates = {clinic.pk: clinic.today(now) for clinic in clinics.only("time_zone")} if rows else {}
    by_day = defaultdict(list)
    for patient in rows:
        by_day[dates[patient.clinic_id]].append(patient.pk)

    def of_each_day(overdue: bool) -> Q:
        lookup = "overdue_after__lt" if overdue else "overdue_after__gte"
        return any_of(Q(patient_id__in=ids, **{lookup: day}) for day, ids in by_day.items())

    counts = {
        row["patient_id"]: row
        for row in ScheduledCheck.objects.open()
        .filter(patient__in=rows)
        .values("patient_id")
        .annotate(
            next_due=Min("due_date", filter=of_each_day(overdue=False)),
            overdue_count=Count("pk", filter=of_each_day(overdue=True)),
        )
    }
    for patient in rows:
        found = counts.get(patient.pk, {})
        patient.next_due = found.get("next_due")
        patient.overdue_count = found.get("overdue_count", 0)
    page.object_list = rows
    return page


@dataclass
class TimelineDay:
    day: date
    checks: list[ScheduledCheck] = field(default_factory=list)


@dataclass
class PatientPage:
    patient: Patient
    courses: list[InfusionCourse]
    schedule: ScheduleWindow
    overdue: list[ScheduledCheck]  # every overdue check, in the window or not
    end_of_follow_up: date | None
    # The checks of the schedule's window (with status and episode), read by `timeline`.
    window_checks: QuerySet[ScheduledCheck]
    # Symptoms the patient reported through the portal, newest first, from their urgent checks,
    # each with `checks` and `acknowledgement` (None while it awaits one).
    symptom_reports: list = field(default_factory=list)
    results_page_number: str | None = None

    # The schedule's months, the results and the charts are read only when drawn; the view
    # keeps the page drawn until the record changes (patients.page_parts), and then the page
    # costs none of these queries.
    @cached_property
    def timeline(self) -> OrderedDict[str, list[TimelineDay]]:
        """ "March 2025" -> the days with checks, each visit two therapies share once."""
        return _timeline(visits_once(self.window_checks))

    @cached_property
    def reports_page(self) -> Page:
        return Paginator(
            LabReport.objects.filter(patient=self.patient)
            .order_by("-sample_collected_on", "-entered_at", "-pk")
            .values_list("pk", flat=True),
            REPORTS_PER_PAGE,
        ).get_page(self.results_page_number)

    @cached_property
    def results(self) -> list[LabResult]:
        """Those of the reports on `reports_page`, with their analyte, report and
        acknowledgements (`acknowledged`, with who gave them)."""
        acknowledgements = Acknowledgement.objects.select_related("acknowledged_by")
        return list(
            LabResult.objects.filter(report__in=list(self.reports_page.object_list))
            .select_related("analyte", "report")
            # Into a list on each result: a prefetch into the related manager clones a
            # queryset for every result.
            .prefetch_related(
                Prefetch("acknowledgements", queryset=acknowledgements, to_attr="acknowledged")
            )
            .order_by("-sample_collected_on", "report_id", "analyte__display_order")
        )

    @cached_property
    def charts(self) -> list[TrendChart]:
        return _charts(self.patient, patient_flag_data(self.patient, self.courses))


def patient_page(
    patient: Patient, *, today: date, results_page=None, schedule: str | None = None
) -> PatientPage:
    """Three queries however long the record: courses, the schedule's first and last days,
    the checks named above the schedule (every overdue one, the urgent ones); one more for
    the symptom reports' acknowledgements when the patient reported any. Drawing the schedule
    reads the window's checks; drawing the results, the count and one page of reports, their
    results and the results' acknowledgements; drawing the charts, the charted analytes and
    their whole series as plain values (and the therapy episodes of a patient on another
    therapy; the flag rules come from the process's cache, monitoring.results.rule_cache).
    `schedule`: "all", or the first month of the timeline's window as "2025-03" (by default
    three months before today's)."""
    courses = list(patient.courses.order_by("number"))
    live = ScheduledCheck.objects.active().filter(patient=patient)
    bounds = live.aggregate(first=Min("due_date"), last=Max("due_date"))
    window = _schedule_window(bounds["first"], bounds["last"], today=today, schedule=schedule)
    shown = live.select_related("symptom_report").with_therapy().with_status(today)
    shown = shown.order_by("due_date", "panel")
    # Named above the schedule wherever they fall: every overdue check and the urgent checks of
    # the symptom reports. A visit two therapies share is one entry naming both (visits_once):
    # both its checks have the same dates and state, so both are read.
    flagged = visits_once(
        shown.filter(
            Q(completed_on=None, waived_at=None, before_tracking=False, overdue_after__lt=today)
            | Q(symptom_report__isnull=False)
        )
    )
    # Five years are about 330 checks and the window shows some 60: only those are read, and
    # only when the schedule is drawn.
    if not window.is_whole:
        shown = shown.filter(due_date__gte=window.first_month, due_date__lt=window.end)
    return PatientPage(
        patient=patient,
        courses=courses,
        schedule=window,
        overdue=[check for check in flagged if check.status == "overdue"],
        end_of_follow_up=_end_of_follow_up(patient, courses),
        window_checks=shown,
        symptom_reports=_symptom_reports(flagged),
        results_page_number=results_page,
    )


def _symptom_reports(checks: list[ScheduledCheck]) -> list:
    """Each report once, with its urgent checks as `report.checks` and its acknowledgement as
    `report.acknowledgement`. Urgent checks are never cancelled, so every report is reached
    through the checks already loaded."""
    reports, checks_of = {}, {}
    for check in checks:
        if check.symptom_report is not None:
            reports.setdefault(check.symptom_report_id, check.symptom_report)
            checks_of.setdefault(check.symptom_report_id, []).append(check)
    acknowledgements = {}
    if reports:
        acknowledgements = {
            ack.symptom_report_id: ack
            for ack in Acknowledgement.objects.filter(symptom_report__in=list(reports))
            .select_related("acknowledged_by")
            .order_by("acknowledged_at")
        }
    for pk, report in reports.items():
        report.checks = checks_of[pk]
        report.acknowledgement = acknowledgements.get(pk)
    return sorted(reports.values(), key=lambda report: report.created_at, reverse=True)


@dataclass(frozen=True)
class ScheduleWindow:
    """Which months of the schedule the timeline shows. Months are counted as year * 12 +
    month - 1; `first` and `last` are None for the whole schedule."""

    first: int | None
    last: int | None
    earlier: str | None  # the ?schedule= value of the window before, if it has checks
    later: str | None
    schedule_first: date | None  # the first and last due dates of the whole schedule
    schedule_last: date | None

    @property
    def is_whole(self) -> bool:
        return self.first is None

    @property
    def first_month(self) -> date | None:
        return None if self.first is None else _month_start(self.first)

    @property
    def last_month(self) -> date | None:
        return None if self.last is None else _month_start(self.last)

    @property
    def end(self) -> date | None:
        """The first day after the window."""
        if self.last is None:
            return None
        # A window asked for at the end of the calendar (?schedule=9999-12) ends with it.
        return date.max if self.last + 1 >= 10000 * 12 else _month_start(self.last + 1)

    def shows(self, day: date) -> bool:
        return self.first is None or self.first <= _month_number(day) <= self.last


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_start(number: int) -> date:
    return date(number // 12, number % 12 + 1, 1)


def _schedule_window(
    schedule_first: date | None, schedule_last: date | None, *, today: date, schedule: str | None
) -> ScheduleWindow:
    """`schedule_first`, `schedule_last`: the first and last due dates of the whole schedule."""
    if schedule == "all":
        return ScheduleWindow(None, None, None, None, schedule_first, schedule_last)
    length = SCHEDULE_MONTHS_BEFORE + 1 + SCHEDULE_MONTHS_AFTER
    first = _month_number(today) - SCHEDULE_MONTHS_BEFORE
    try:
        year, month = (schedule or "").split("-")
        first = _month_number(date(int(year), int(month), 1))
    except ValueError:
        pass  # no window asked for, or not a month: the one around today
    last = first + length - 1
    earlier = later = None
    if schedule_first is not None and _month_number(schedule_first) < first:
        earlier = f"{_month_start(max(first - length, _month_number(schedule_first))):%Y-%m}"
    if schedule_last is not None and _month_number(schedule_last) > last:
        later = f"{_month_start(first + length):%Y-%m}"  # within the schedule: a real year
    return ScheduleWindow(first, last, earlier, later, schedule_first, schedule_last)


def _timeline(checks: list[ScheduledCheck]) -> OrderedDict[str, list[TimelineDay]]:
    months: OrderedDict[str, list[TimelineDay]] = OrderedDict()
    for check in checks:
        days = months.setdefault(f"{check.due_date:%B %Y}", [])
        if not days or days[-1].day != check.due_date:
            days.append(TimelineDay(day=check.due_date))
        days[-1].checks.append(check)
    return months


def _charts(patient: Patient, flag_data) -> list[TrendChart]:
    """The charted analytes' current results as plain values, oldest first (two queries: the
    analytes, the series)."""
    analytes = {a.pk: a for a in Analyte.objects.filter(code__in=CHARTED_ANALYTES)}
    series_of: dict[int, list[SeriesPoint]] = {pk: [] for pk in analytes}
    rows = (
        LabResult.objects.current()
        .filter(patient=patient, analyte__in=list(analytes))
        .order_by("sample_collected_on", "pk")
        .values_list("analyte_id", "sample_collected_on", "canonical_value", "tier")
    )
    for analyte_id, day, value, tier in rows:
        series_of[analyte_id].append(SeriesPoint(day, value, tier))
    by_code = {a.code: a for a in analytes.values()}
    charts = []
    for code in CHARTED_ANALYTES:
        analyte = by_code.get(code)
        series = series_of[analyte.pk] if analyte is not None else []
        rules = [rule for rule in flag_data.rules if rule.analyte == code]
        # A grade or an outcome ("abnormal") is a position on a scale, not a quantity: a line
        # through positions would draw a trend that does not exist.
        if series and not analyte.is_ordinal:
            baseline = _baseline_value(series, flag_data.baseline_before)
            charts.append(
                trend_chart(analyte=analyte, series=series, rules=rules, baseline=baseline)
            )
    return charts


def _baseline_value(series: list[SeriesPoint], course_one: date | None):
    if course_one is None:
        return None
    before = [r for r in series if r.sample_collected_on < course_one]
    return before[-1].canonical_value if before else None


def _end_of_follow_up(patient: Patient, courses: list[InfusionCourse]) -> date | None:
    live = [
        planning.Course(number=c.number, first_day=c.first_infusion_date, days=c.days)
        for c in courses
        if c.status != InfusionCourse.Status.CANCELLED
    ]
    return planning.end_of_follow_up(live, patient.protocol.follow_up_months)


@dataclass(frozen=True)
class BaselineChecklist:
    """The pre-infusion checklist of one course: its baseline checks (the pre-course checks,
    in the 30 days before day 1) with their status on `today`. A course that started before
    the patient's tracking start is history entered during onboarding: exempt."""

    course: InfusionCourse
    checks: list[ScheduledCheck]
    exempt: bool

    @property
    def missing(self) -> list[ScheduledCheck]:
        return [check for check in self.checks if check.completed_on is None]

    @property
    def ready(self) -> bool:
        return self.exempt or not self.missing


def baseline_checklist(course: InfusionCourse, *, today: date) -> BaselineChecklist:
    """One query: the course's live pre-course checks, by panel."""
    checks = (
        ScheduledCheck.objects.active()
        .filter(course=course, kind=planning.PRE_COURSE)
        .with_status(today)
        .order_by("panel", "pk")
    )
    return BaselineChecklist(
        course=course,
        checks=list(checks),
        exempt=course.first_infusion_date < course.patient.tracked_from,
    )


@dataclass(frozen=True)
class SchedulePreviewPage:
    """The what-if plan for a proposed next course, as the patient page shows it."""

    preview: Preview
    first_day: date
    number: int
    current_end: date | None
    # The plan's checks due from today on (the earlier ones are the patient's history).
    upcoming: list[planning.PlannedCheck] = field(default_factory=list)
    earlier: int = 0
    baselines: list[planning.PlannedCheck] = field(default_factory=list)

    @property
    def new_end(self) -> date | None:
        return self.preview.plan.end_of_follow_up if self.preview.plan else None

    @property
    def visits(self) -> list[tuple[date, date, list[planning.PlannedCheck]]]:
        """The upcoming checks by due date, as the nurse books them (one blood draw a day):
        (due, the earliest day its window opens, its checks)."""
        by_day: dict[date, list[planning.PlannedCheck]] = {}
        for check in self.upcoming:
            by_day.setdefault(check.due, []).append(check)
        return [
            (due, min(check.window_opens for check in checks), checks)
            for due, checks in by_day.items()
        ]


def schedule_preview_page(
    patient: Patient, *, first_day: date, days: int | None, override: str, today: date
) -> SchedulePreviewPage:
    """Two queries (the courses, the protocol's items) and nothing written."""
    preview = next_course_preview(
        patient=patient, first_day=first_day, days=days, override=override
    )
    number = len(preview.courses)
    page = SchedulePreviewPage(
        preview=preview,
        first_day=first_day,
        number=number,
        current_end=patient.follow_up_ends,
    )
    if preview.plan is None:
        return page
    checks = preview.plan.checks
    upcoming = sorted(
        (check for check in checks if check.due >= today), key=lambda c: (c.due, c.panel)
    )
    baselines = [
        check
        for check in checks
        if check.kind == planning.PRE_COURSE and check.course_key == number
    ]
    return SchedulePreviewPage(
        preview=preview,
        first_day=first_day,
        number=number,
        current_end=patient.follow_up_ends,
        upcoming=upcoming,
        earlier=len(checks) - len(upcoming),
        baselines=baselines,
    )
