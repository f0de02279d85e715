"""The lists behind the overview's figures, read live (the figures are the hourly table):
the checks of a cell of the adherence table, the patients of a stage, and this month's visits
in one state. Each is one queryset, paginated by the view: set-based whatever its length, and
built from the same conditions as the figures (reports.figures.conditions), so a list and its
figure differ only by what changed since the refresh.

The parameters arrive from the address already checked (reports.overview.forms): None means
"not narrowed"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta
from django.db.models import Count, Q, QuerySet

from monitoring.models import ScheduledCheck
from patients.models import Clinic, Patient
from reports.figures.conditions import (
    counted_checks,
    course_flags,
    outcome_case,
    outcome_is,
    stage_is,
    visit_counts,
    visit_is,
)
from reports.figures.definitions import Outcome, Stage, VisitState, months_shown
from reports.figures.selectors import ALL_NURSES, nurse_wanted


@dataclass(frozen=True)
class ChecksWanted:
    panel: str | None = None
    month: date | None = None  # the first day of a month; None: the months the overview shows
    outcome: Outcome | None = None  # None: every counted check, window open or closed
    nurse: str = ALL_NURSES  # "all", "none" or a user id as text


def _nurse_condition(nurse: str, prefix: str = "") -> Q:
    wanted = nurse_wanted(nurse)
    if wanted is ALL_NURSES:
        return Q()
    return Q(**{f"{prefix}named_nurse_id": wanted})  # None: no named nurse


def checks_behind(clinic: Clinic, wanted: ChecksWanted, *, today: date, as_of: date) -> QuerySet:
    """The clinic's counted checks matching `wanted`, with their outcome on `today`, by due
    date then patient. Without a month, the months the figures of `as_of` show. A check on
    another therapy's visit is listed once, under that check, as the figures count it."""
    months = [wanted.month] if wanted.month else months_shown(as_of)
    first, after = months[0], months[-1] + relativedelta(months=1)
    checks = ScheduledCheck.objects.filter(
        counted_checks(),
        _nurse_condition(wanted.nurse, "patient__"),
        shares_visit=False,
        patient__clinic_id=clinic.pk,
        due_date__gte=first,
        due_date__lt=after,
    )
    if wanted.panel:
        checks = checks.filter(panel=wanted.panel)
    if wanted.outcome:
        checks = checks.filter(outcome_is(wanted.outcome, today))
    return (
        checks.annotate(outcome=outcome_case(today))
        .select_related("patient")
        .order_by("due_date", "patient__family_name", "patient__given_name", "panel", "pk")
    )


def patients_in_stage(clinic: Clinic, stage: Stage) -> QuerySet:
    """The clinic's patients in `stage` now, by name."""
    return (
        Patient.objects.filter(clinic_id=clinic.pk)
        .annotate(**course_flags())
        .filter(stage_is(stage))
        .order_by("family_name", "given_name", "pk")
    )


def visits_in_state(clinic: Clinic, state: VisitState, *, today: date, month: date) -> QuerySet:
    """The visits (one patient's counted checks due on one day) of `month` (its first day: the
    figures' month) in `state` on `today`, as rows of values: the patient, the day and how
    many checks are still open."""
    first = month
    return (
        ScheduledCheck.objects.filter(
            counted_checks(),
            patient__clinic_id=clinic.pk,
            due_date__gte=first,
            due_date__lt=first + relativedelta(months=1),
        )
        .values(
            "patient_id",
            "patient__given_name",
            "patient__family_name",
            "patient__hospital_number",
            "due_date",
        )
        .annotate(checks=Count("id"), **visit_counts(today))
        .filter(visit_is(state))
        .order_by("due_date", "patient__family_name", "patient__given_name", "patient_id")
    )
