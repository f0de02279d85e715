"""Storing the plan: schedule_reconcile against the real database (PostgreSQL in CI)."""

import os
import threading
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.domain.check_status import CheckStatus
from monitoring.models import MonitoringProtocol, ScheduledCheck
from monitoring.schedule.services import patient_plan, schedule_reconcile
from patients.models import Patient
from patients.services import course_add, course_cancel, course_update, patient_update
from tests.factories import CourseFactory, PatientFactory

pytestmark = pytest.mark.django_db


def live_checks(patient):
    return ScheduledCheck.objects.active().filter(patient=patient)


def stored_state(patient):
    return sorted(
        ScheduledCheck.objects.filter(patient=patient).values_list(
            "pk", "due_date", "window_opens", "overdue_after", "cancelled_at", "completed_on"
        )
    )


def test_database_is_postgresql_when_database_url_says_so():
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        assert connection.vendor == "postgresql"
    else:
        assert connection.vendor == "sqlite"


def test_first_reconcile_stores_every_planned_check(patient):
    CourseFactory(patient=patient)
    result = schedule_reconcile(patient=patient)
    plan = patient_plan(patient=patient)
    assert result.created == len(plan.checks) == live_checks(patient).count()
    assert result.end_of_follow_up == date(2029, 2, 4)
    stored = set(live_checks(patient).values_list("panel", "due_date"))
    assert stored == {(check.panel, check.due) for check in plan.checks}


def test_reconcile_twice_changes_nothing(patient):
    CourseFactory(patient=patient)
    schedule_reconcile(patient=patient)
    before = stored_state(patient)
    again = schedule_reconcile(patient=patient)
    assert (again.created, again.moved, again.cancelled) == (0, 0, 0)
    assert stored_state(patient) == before


def test_moving_course_one_moves_open_checks_but_not_completed_or_waived_ones(patient, clinician):
    course = course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=12)
    first_blood = live_checks(patient).get(panel="blood_count", month_offset=1)
    second_blood = live_checks(patient).get(panel="blood_count", month_offset=2)
    third_blood = live_checks(patient).get(panel="blood_count", month_offset=3)
    ScheduledCheck.objects.filter(pk=first_blood.pk).update(completed_on=date(2024, 2, 27))
    ScheduledCheck.objects.filter(pk=second_blood.pk).update(
        waived_at=first_blood.created_at, waived_reason="In hospital; tested there"
    )

    course_update(
        course=course,
        reason="Started a week later",
        changed_by=clinician,
        first_infusion_date=date(2024, 2, 7),
    )

    first_blood.refresh_from_db()
    second_blood.refresh_from_db()
    third_blood.refresh_from_db()
    assert first_blood.due_date == date(2024, 2, 29)  # completed: untouched
    assert second_blood.due_date == date(2024, 3, 31)  # waived: untouched
    assert third_blood.due_date == date(2024, 5, 7)  # open: moved with the anchor
    assert third_blood.overdue_after == date(2024, 5, 14)


def test_adding_course_two_extends_and_cancelling_it_plans_back(patient, clinician):
    course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=12)
    one_course = live_checks(patient).count()
    second = course_add(patient=patient, first_infusion_date=date(2025, 2, 3), daily_dose_mg=12)
    two_courses = live_checks(patient).count()
    assert two_courses > one_course
    assert live_checks(patient).filter(course=second).count() == 5  # pre-course panels

    course_cancel(course=second, reason="Stable disease; not needed", cancelled_by=clinician)

    assert live_checks(patient).count() == one_course
    cancelled = ScheduledCheck.objects.filter(patient=patient, cancelled_at__isnull=False)
    assert cancelled.count() == two_courses - one_course  # kept, not deleted
    assert set(cancelled.values_list("cancelled_reason", flat=True)) == {
        "No longer in the plan after a course or protocol change."
    }


def test_a_cancelled_check_whose_slot_returns_gets_a_new_row_and_keeps_its_history(patient):
    course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=12)
    second = course_add(patient=patient, first_infusion_date=date(2025, 2, 3), daily_dose_mg=12)
    last_due = live_checks(patient).order_by("-due_date").first()
    course_cancel(course=second, reason="Postponed")
    course_add(patient=patient, first_infusion_date=date(2025, 3, 3), daily_dose_mg=12)
    assert ScheduledCheck.objects.get(pk=last_due.pk).cancelled_at is not None
    assert (
        live_checks(patient)
        .filter(protocol_item=last_due.protocol_item, month_offset=last_due.month_offset)
        .exists()
    )


def test_switching_to_the_label_protocol_shortens_follow_up_and_keeps_completed_checks(
    patient, clinician
):
    course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=12)
    done = live_checks(patient).get(panel="thyroid", month_offset=3)
    ScheduledCheck.objects.filter(pk=done.pk).update(completed_on=date(2024, 4, 29))

    label = MonitoringProtocol.objects.get(slug="label-48m")
    patient_update(
        patient=patient, reason="Clinic uses the label", changed_by=clinician, protocol=label
    )

    assert live_checks(patient).filter(pk=done.pk).exists()
    last_new = live_checks(patient).filter(protocol_item__protocol=label).latest("due_date")
    assert last_new.due_date <= date(2028, 2, 4)
    assert (
        not live_checks(patient)
        .filter(protocol_item__protocol__slug="default-60m")
        .exclude(pk=done.pk)
        .exists()
    )


def test_a_withdrawn_patient_has_open_checks_cancelled_with_the_reason(patient, clinician):
    course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=12)
    patient_update(
        patient=patient,
        reason="Moved abroad",
        changed_by=clinician,
        status=Patient.Status.WITHDRAWN,
    )
    assert not live_checks(patient).exists()
    reasons = set(
        ScheduledCheck.objects.filter(patient=patient).values_list("cancelled_reason", flat=True)
    )
    assert reasons == {"Patient status changed to “Withdrawn”."}


def reconcile_queries(patient):
    """(inserts, other queries) that one reconcile of this patient runs."""
    with CaptureQueriesContext(connection) as captured:
        schedule_reconcile(patient=patient)
    # On PostgreSQL the new checks go in with one COPY (monitoring/bulk_insert.py).
    inserts = sum(q["sql"].lstrip().upper().startswith(("INSERT", "COPY")) for q in captured)
    return inserts, len(captured) - inserts


def test_reconcile_takes_the_same_number_of_queries_however_many_checks(clinic_a):
    small = PatientFactory(
        clinic=clinic_a, protocol=MonitoringProtocol.objects.get(slug="label-48m")
    )
    CourseFactory(patient=small)
    large = PatientFactory(clinic=clinic_a)
    CourseFactory(patient=large)
    CourseFactory(patient=large, number=2, days=3, first_infusion_date=date(2025, 2, 3))
    CourseFactory(patient=large, number=3, days=3, first_infusion_date=date(2026, 3, 2))

    small_inserts, small_others = reconcile_queries(small)
    large_inserts, large_others = reconcile_queries(large)

    assert live_checks(large).count() > 1.5 * live_checks(small).count()
    # savepoint, lock the patient (joined to its protocol), courses, protocol items, live
    # checks, the end of follow-up (new on a first plan), release savepoint
    assert small_others == large_others == 7
    if connection.vendor == "postgresql":
        assert small_inserts == large_inserts == 1
    else:
        # SQLite caps a statement at 999 parameters, so Django splits the insert in batches.
        # Still batches of dozens of rows, never one insert per check.
        assert small_inserts <= large_inserts < live_checks(large).count() / 40


def test_moving_every_check_is_still_one_update(patient):
    course = CourseFactory(patient=patient)
    schedule_reconcile(patient=patient)
    course.first_infusion_date += timedelta(days=10)
    course.save()
    with CaptureQueriesContext(connection) as captured:
        result = schedule_reconcile(patient=patient)
    assert result.moved == live_checks(patient).count()
    updates = [
        q
        for q in captured
        if q["sql"].lstrip().upper().startswith('UPDATE "MONITORING_SCHEDULEDCHECK"')
    ]
    assert len(updates) == 1 or connection.vendor == "sqlite"  # SQLite batches by its limit


def test_sql_status_agrees_with_the_python_status(patient):
    CourseFactory(patient=patient)
    schedule_reconcile(patient=patient)
    checks = list(live_checks(patient).order_by("due_date")[:6])
    ScheduledCheck.objects.filter(pk=checks[0].pk).update(completed_on=date(2024, 1, 20))
    ScheduledCheck.objects.filter(pk=checks[1].pk).update(completed_on=date(2024, 4, 1))
    ScheduledCheck.objects.filter(pk=checks[2].pk).update(waived_at=checks[2].created_at)
    ScheduledCheck.objects.filter(pk=checks[3].pk).update(cancelled_at=checks[3].created_at)
    for today in (date(2024, 1, 1), date(2024, 2, 25), date(2024, 3, 9), date(2026, 1, 1)):
        annotated = ScheduledCheck.objects.filter(patient=patient).with_status(today)
        for check in annotated:
            assert check.status == check.status_on(today), (check, today)
    statuses = {
        c.status
        for c in ScheduledCheck.objects.filter(patient=patient).with_status(date(2024, 3, 9))
    }
    assert {
        CheckStatus.COMPLETED,
        CheckStatus.COMPLETED_LATE,
        CheckStatus.WAIVED,
        CheckStatus.CANCELLED,
        CheckStatus.OVERDUE,
        CheckStatus.UPCOMING,
    } <= statuses


@pytest.mark.postgres
# Serialized like every transactional test, so the flush after it keeps the seeded data.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_reconciles_at_once_store_each_check_once(clinic_a):
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent writers need PostgreSQL; SQLite serialises the whole database.")
    patient = PatientFactory(clinic=clinic_a)
    CourseFactory(patient=patient)
    barrier = threading.Barrier(2)
    errors = []

    def reconcile():
        try:
            barrier.wait()
            schedule_reconcile(patient=patient)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=reconcile) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert live_checks(patient).count() == len(patient_plan(patient=patient).checks)
