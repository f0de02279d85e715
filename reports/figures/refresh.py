"""Computing a clinic's figures and storing them whole (the scan runs it every hour, a lead
may run it at once, and monitoring_report runs it before it reports).

Three grouped queries per clinic, whatever its size: the checks of the last 24 months by
month, test, named nurse, therapy (their protocol's, a join), on another therapy's visit or
not, and outcome; this month's checks by visit; the patients by status and
courses. The clinic's figures row is locked first, so two refreshes of a clinic run one after
the other and the second leaves the same numbers."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from monitoring.domain.therapies import ALEMTUZUMAB
from monitoring.models import ScheduledCheck
from patients.models import Clinic, Patient
from reports.models import AdherenceMonth, ClinicFigures

from .conditions import counted_checks, course_flags, outcome_case, visit_counts
from .definitions import Stage, VisitState, months_shown, stage_of, visit_state


def figures_refresh(*, clinic: Clinic, now: datetime | None = None) -> ClinicFigures:
    now = now or timezone.now()
    today = clinic.today(now)
    months = months_shown(today)
    after_last = months[-1] + relativedelta(months=1)
    with transaction.atomic():
        figures, _ = ClinicFigures.objects.get_or_create(
            clinic=clinic, defaults={"as_of": today, "refreshed_at": now}
        )
        figures = ClinicFigures.objects.select_for_update().get(pk=figures.pk)
        checks = ScheduledCheck.objects.filter(counted_checks(), patient__clinic_id=clinic.pk)

        tally: dict[tuple, Counter] = {}
        grouped = (
            checks.filter(due_date__gte=months[0], due_date__lt=after_last)
            .annotate(month=TruncMonth("due_date"), outcome=outcome_case(today))
            .values_list(
                "month",
                "panel",
                "patient__named_nurse_id",
                "protocol_item__protocol__therapy",
                "shares_visit",
                "outcome",
            )
            .annotate(n=Count("id"))
            .order_by()
        )
        for month, panel, nurse_id, therapy, shares_visit, outcome, n in grouped:
            month = month.date() if isinstance(month, datetime) else month
            # Counted checks are planned from a protocol item (urgent ones are left out), so
            # the therapy is always there; alemtuzumab is the protocols' own default.
            key = (month, panel, nurse_id, therapy or ALEMTUZUMAB, shares_visit)
            tally.setdefault(key, Counter())[outcome] += n
        AdherenceMonth.objects.filter(clinic=clinic).delete()
        AdherenceMonth.objects.bulk_create(
            AdherenceMonth(
                clinic=clinic,
                month=month,
                panel=panel,
                nurse_id=nurse_id,
                therapy=therapy,
                shares_visit=shares_visit,
                on_time=counts["on_time"],
                late=counts["late"],
                missed=counts["missed"],
                waived=counts["waived"],
                open=counts["open"],
            )
            for (month, panel, nurse_id, therapy, shares_visit), counts in sorted(
                tally.items(), key=_row_order
            )
        )

        visits = Counter(_visit_states(checks, today=today, months=(months[-1], after_last)))
        stages = _stages(clinic)
        figures.as_of = today
        figures.refreshed_at = now
        for stage in Stage:
            setattr(figures, stage.value, stages[stage])
        for state in VisitState:
            setattr(figures, f"visits_{state.value}", visits[state])
        figures.save()
    return figures


def _row_order(item) -> tuple:
    (month, panel, nurse_id, therapy, shares_visit), _ = item
    return (month, panel, nurse_id or 0, therapy, shares_visit)


def _visit_states(checks, *, today, months):
    visits = (
        checks.filter(due_date__gte=months[0], due_date__lt=months[1])
        .values_list("patient_id", "due_date")
        .annotate(**visit_counts(today))
        .order_by()
    )
    for _patient, _due, open_checks, overdue, window_open in visits:
        yield visit_state(open_checks=open_checks, overdue=overdue, window_open=window_open)


def _stages(clinic: Clinic) -> Counter:
    stages: Counter = Counter()
    groups = (
        Patient.objects.filter(clinic=clinic)
        .annotate(**course_flags())
        .values_list("status", "has_given_course", "has_planned_course", "other_therapies")
        .annotate(n=Count("id"))
        .order_by()
    )
    for status, given, planned, others, n in groups:
        stage = stage_of(
            status=status,
            has_given_course=given,
            has_planned_course=planned,
            other_therapies=others,
        )
        stages[stage] += n
    return stages
