"""The outcome and stage rules in Python and their SQL twins agree, check by check."""

from __future__ import annotations

from datetime import date

import pytest

from monitoring.models import ScheduledCheck
from patients.models import Patient
from reports.figures.conditions import (
    counted_checks,
    course_flags,
    outcome_case,
    outcome_is,
    stage_is,
)
from reports.figures.definitions import (
    Counts,
    Outcome,
    Stage,
    check_outcome,
    months_shown,
    percent,
    stage_of,
)

from .known_clinic import TODAY, known_clinic, ocrelizumab_beside


def test_the_last_day_of_the_window_is_still_open_and_a_result_that_day_on_time():
    due = date(2026, 6, 8)
    assert check_outcome(today=due, overdue_after=due, completed_on=None, waived=False) == "open"
    day_after = date(2026, 6, 9)
    on_last_day = check_outcome(today=day_after, overdue_after=due, completed_on=due, waived=False)
    assert on_last_day == Outcome.ON_TIME
    late = check_outcome(today=day_after, overdue_after=due, completed_on=day_after, waived=False)
    assert late == Outcome.LATE


def test_shares_and_months():
    assert Counts(on_time=1, late=1, missed=1, waived=5).adherence == pytest.approx(1 / 3)
    assert Counts(waived=3, open=2).adherence is None
    assert percent(None) == "—" and percent(2 / 3) == "67%"
    months = months_shown(date(2024, 3, 31), 3)
    assert months == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]


@pytest.mark.django_db
def test_the_sql_outcome_agrees_with_the_python_rule_for_every_check():
    known_clinic()
    checks = ScheduledCheck.objects.filter(counted_checks()).annotate(outcome=outcome_case(TODAY))
    assert checks.count() > 10
    for check in checks:
        expected = check_outcome(
            today=TODAY,
            overdue_after=check.overdue_after,
            completed_on=check.completed_on,
            waived=check.waived_at is not None,
        )
        assert check.outcome == expected, check
        assert ScheduledCheck.objects.filter(outcome_is(expected, TODAY), pk=check.pk).exists()
        others = [outcome for outcome in Outcome if outcome != expected]
        for outcome in others:
            assert not ScheduledCheck.objects.filter(outcome_is(outcome, TODAY), pk=check.pk)


@pytest.mark.django_db
def test_the_sql_stage_agrees_with_the_python_rule_for_every_patient():
    known_clinic()
    assert_stages_agree()


def assert_stages_agree():
    """Each patient is in exactly the stage stage_of gives, by its SQL twin."""
    patients = Patient.objects.annotate(**course_flags())
    for patient in patients:
        expected = stage_of(
            status=patient.status,
            has_given_course=patient.has_given_course,
            has_planned_course=patient.has_planned_course,
            other_therapies=patient.other_therapies,
        )
        matching = [stage for stage in Stage if patients.filter(stage_is(stage), pk=patient.pk)]
        assert matching == [expected], patient


@pytest.mark.django_db
def test_a_patient_on_another_therapy_only_has_a_stage_of_their_own_in_python_and_sql():
    known = known_clinic()
    oscar = ocrelizumab_beside(known)  # no alemtuzumab course, an ocrelizumab episode
    assert_stages_agree()
    patients = Patient.objects.annotate(**course_flags())
    assert patients.filter(stage_is(Stage.ON_OTHER_THERAPY)).get() == oscar
    # A planned alemtuzumab course 1 makes them a patient before course 1 again.
    assert (
        stage_of(
            status="active", has_given_course=False, has_planned_course=True, other_therapies=True
        )
        == Stage.BEFORE_FIRST_COURSE
    )
