"""The database twins of reports.figures.definitions: the same rules as SQL, for the refresh
and the lists behind the figures. tests/reports/test_figures_definitions.py holds each to its
Python rule."""

from __future__ import annotations

from datetime import date

from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, Value, When

from patients.models import InfusionCourse

from .definitions import Outcome, Stage, VisitState


def counted_checks() -> Q:
    """The checks the figures are about: planned (urgent checks come from a symptom, not the
    protocol), not cancelled, and not overdue before the clinic began tracking the patient."""
    return Q(cancelled_at__isnull=True, before_tracking=False) & ~Q(kind="urgent")


def outcome_case(today: date) -> Case:
    """check_outcome in SQL, over ScheduledCheck rows."""
    return Case(
        When(overdue_after__gte=today, then=Value(Outcome.OPEN.value)),
        When(waived_at__isnull=False, then=Value(Outcome.WAIVED.value)),
        When(completed_on__isnull=True, then=Value(Outcome.MISSED.value)),
        When(completed_on__lte=F("overdue_after"), then=Value(Outcome.ON_TIME.value)),
        default=Value(Outcome.LATE.value),
        output_field=CharField(),
    )


def outcome_is(outcome: Outcome, today: date) -> Q:
    """The checks (already narrowed by counted_checks) whose outcome on `today` is `outcome`."""
    closed = Q(overdue_after__lt=today)
    return {
        Outcome.OPEN: Q(overdue_after__gte=today),
        Outcome.WAIVED: closed & Q(waived_at__isnull=False),
        Outcome.MISSED: closed & Q(waived_at__isnull=True, completed_on__isnull=True),
        Outcome.ON_TIME: closed
        & Q(waived_at__isnull=True, completed_on__isnull=False)
        & Q(completed_on__lte=F("overdue_after")),
        Outcome.LATE: closed
        & Q(waived_at__isnull=True, completed_on__isnull=False)
        & Q(completed_on__gt=F("overdue_after")),
    }[outcome]


def course_flags() -> dict:
    """Annotations for Patient rows: has a given course, has a planned one (stage_of's inputs)."""
    courses = InfusionCourse.objects.filter(patient=OuterRef("pk"))
    return {
        "has_given_course": Exists(courses.filter(status=InfusionCourse.Status.GIVEN)),
        "has_planned_course": Exists(courses.filter(status=InfusionCourse.Status.PLANNED)),
    }


def stage_is(stage: Stage) -> Q:
    """stage_of in SQL, over Patient rows annotated with course_flags()."""
    active = Q(status="active")
    return {
        Stage.BEFORE_FIRST_COURSE: active
        & Q(has_given_course=False)
        & ~Q(has_planned_course=False, other_therapies=True),
        Stage.IN_TREATMENT: active & Q(has_given_course=True, has_planned_course=True),
        Stage.IN_FOLLOW_UP: active & Q(has_given_course=True, has_planned_course=False),
        Stage.ON_OTHER_THERAPY: active
        & Q(has_given_course=False, has_planned_course=False, other_therapies=True),
        Stage.MONITORING_COMPLETE: Q(status="monitoring_complete"),
        Stage.WITHDRAWN: Q(status="withdrawn"),
        Stage.TRANSFERRED: Q(status="transferred"),
        Stage.DECEASED: Q(status="deceased"),
    }[stage]


_PENDING = Q(completed_on__isnull=True, waived_at__isnull=True)


def visit_counts(today: date) -> dict:
    """Annotations for checks grouped by (patient, due date), one visit a group: the inputs of
    visit_state (its checks still open, overdue among them, with their window open)."""
    return {
        "open_checks": Count("id", filter=_PENDING),
        "overdue": Count("id", filter=_PENDING & Q(overdue_after__lt=today)),
        "window_open": Count("id", filter=_PENDING & Q(window_opens__lte=today)),
    }


def visit_is(state: VisitState) -> Q:
    """visit_state in SQL, a HAVING condition over visit_counts()."""
    return {
        VisitState.DONE: Q(open_checks=0),
        VisitState.OVERDUE: Q(open_checks__gt=0, overdue__gt=0),
        VisitState.DUE: Q(open_checks__gt=0, overdue=0, window_open__gt=0),
        VisitState.UPCOMING: Q(open_checks__gt=0, overdue=0, window_open=0),
    }[state]
