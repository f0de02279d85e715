"""Each alerting rule is written twice in monitoring/alerts/rules.py: as a database condition and
as its Python twin. These tests put the two side by side on every state a row can be in and
require the same answer, so the scans (SQL) and the worklist and portal (Python) cannot drift."""

from datetime import UTC, date, datetime, timedelta

import pytest

from monitoring.alerts import rules
from monitoring.models import LabResult, ScheduledCheck
from monitoring.results.services import (
    report_mark_in_error,
    result_correct,
    result_mark_in_error,
)
from tests.builders import acknowledge, platelets, with_course_one

pytestmark = pytest.mark.django_db

COURSE_ONE = date(2024, 1, 15)
TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _platelets(patient, sample: date, value: str, user) -> LabResult:
    return platelets(patient, value, entered_by=user, sample=sample, today=TODAY)


def _python_says_awaiting(result: LabResult) -> bool:
    return rules.needs_acknowledgement(
        tier=result.tier,
        entered_in_error=result.is_entered_in_error or result.report.is_entered_in_error,
        acknowledged_tiers={ack.tier for ack in result.acknowledgements.all()},
    )


def test_needs_acknowledgement_agrees_with_the_stored_condition_on_every_state(treated, clinician):
    """Normal, low, amber, red and critical; acknowledged at the tier; acknowledged, then
    corrected to another tier and back; entered in error; on a report entered in error."""
    day = date(2026, 3, 2)
    made = {}
    for name, value in [
        ("normal", "250"),
        ("low", "140"),  # below the range: low, amber by the < 150 rule
        ("amber", "145"),
        ("red", "90"),
        ("critical", "40"),
        ("acknowledged", "90"),
        ("corrected", "90"),
        ("corrected_back", "90"),
        ("in_error", "40"),
        ("report_in_error", "40"),
    ]:
        made[name] = _platelets(treated, day, value, clinician)
        day += timedelta(days=3)
    acknowledge(made["acknowledged"], clinician)
    acknowledge(made["corrected"], clinician)
    result_correct(
        result=made["corrected"], value="40", unit="10^9/L", reason="Typo", corrected_by=clinician
    )
    acknowledge(made["corrected_back"], clinician)
    corrected = result_correct(
        result=made["corrected_back"],
        value="40",
        unit="10^9/L",
        reason="Typo",
        corrected_by=clinician,
    )
    result_correct(
        result=corrected, value="90", unit="10^9/L", reason="Typo again", corrected_by=clinician
    )
    result_mark_in_error(result=made["in_error"], reason="Wrong patient", marked_by=clinician)
    report_mark_in_error(
        report=made["report_in_error"].report, reason="Wrong patient", marked_by=clinician
    )

    results = list(
        LabResult.objects.filter(patient=treated)
        .select_related("report")
        .prefetch_related("acknowledgements")
    )
    by_sql = set(
        LabResult.objects.filter(rules.awaiting_acknowledgement(), patient=treated).values_list(
            "pk", flat=True
        )
    )
    by_python = {result.pk for result in results if _python_says_awaiting(result)}
    assert by_sql == by_python
    # Not a vacuous agreement: some states wait and some do not.
    assert by_sql and len(by_sql) < len(results)


@pytest.mark.parametrize("overdue_days", [0, 1, 14, 30])
def test_overdue_and_escalated_checks_agree_in_sql_and_python(treated, overdue_days):
    """Every check of a two-year schedule, on every day around its overdue date."""
    clinic_ids = [treated.clinic_id]
    checks = list(ScheduledCheck.objects.filter(patient=treated))
    assert len(checks) > 20
    overdue_dates = sorted({check.overdue_after for check in checks})
    days = {day + timedelta(days=shift) for day in overdue_dates[:6] for shift in (-1, 0, 1, 2)}
    days |= {overdue_dates[3] + timedelta(days=overdue_days + shift) for shift in (-1, 0, 1)}
    seen_both = set()
    for today in sorted(days):
        queryset = ScheduledCheck.objects.filter(patient=treated)
        overdue_sql = set(
            queryset.filter(rules.check_overdue(clinic_ids=clinic_ids, today=today)).values_list(
                "pk", flat=True
            )
        )
        overdue_python = {
            c.pk
            for c in checks
            if rules.check_is_overdue(overdue_after=c.overdue_after, today=today)
        }
        assert overdue_sql == overdue_python, today
        escalated_sql = set(
            queryset.filter(
                rules.check_escalated(clinic_ids=clinic_ids, today=today, overdue_days=overdue_days)
            ).values_list("pk", flat=True)
        )
        escalated_python = {
            c.pk
            for c in checks
            if rules.check_is_escalated(
                overdue_after=c.overdue_after, today=today, overdue_days=overdue_days
            )
        }
        assert escalated_sql == escalated_python, today
        seen_both.add((bool(overdue_sql), bool(escalated_sql)))
    assert (True, True) in seen_both and (False, False) in seen_both


@pytest.mark.parametrize(("critical_hours", "red_hours"), [(4, 24), (1, 1), (0, 48)])
def test_escalated_results_agree_in_sql_and_python(treated, clinician, critical_hours, red_hours):
    """Every tier, with the tier reached at times around each deadline, and one result from
    before the tier's clock was kept (no tier_since)."""
    day = date(2026, 3, 2)
    offsets_hours = [None, 0, 1, 3, 4, 5, 23, 24, 25, 47, 48, 49]
    results = []
    for value in ("250", "145", "90", "40"):  # normal, amber, red, critical
        for offset in offsets_hours:
            result = _platelets(treated, day, value, clinician)
            tier_since = None if offset is None else NOW - timedelta(hours=offset)
            LabResult.objects.filter(pk=result.pk).update(tier_since=tier_since)
            results.append(result.pk)
            day += timedelta(days=1)
    for now in (NOW, NOW + timedelta(minutes=30), NOW - timedelta(hours=2)):
        sql = set(
            LabResult.objects.filter(
                rules.result_escalated(
                    clinic_ids=[treated.clinic_id],
                    now=now,
                    critical_hours=critical_hours,
                    red_hours=red_hours,
                ),
                pk__in=results,
            ).values_list("pk", flat=True)
        )
        python = {
            row.pk
            for row in LabResult.objects.filter(pk__in=results)
            if rules.result_is_escalated(
                tier=row.tier,
                tier_since=row.tier_since,
                now=now,
                critical_hours=critical_hours,
                red_hours=red_hours,
            )
        }
        assert sql == python, now
        assert sql, "some results are past the deadline"
        assert len(sql) < len(results), "and some are not"


def test_conditions_are_scoped_to_the_clinics_named(treated, patient_b):
    """A clinic's rule never reaches another clinic's rows."""
    with_course_one(patient_b, on=COURSE_ONE)
    far_future = date(2030, 1, 1)
    matched = ScheduledCheck.objects.filter(
        rules.check_overdue(clinic_ids=[treated.clinic_id], today=far_future)
    )
    assert matched.exists()
    assert set(matched.values_list("patient_id", flat=True)) == {treated.pk}
    assert not ScheduledCheck.objects.filter(rules.any_of([])).exists()
