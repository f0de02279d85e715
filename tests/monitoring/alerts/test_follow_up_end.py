"""The end of follow-up: a patient past it with nothing open becomes "monitoring complete" in
the daily scan, recorded with the system as actor, and is told once; anything still open keeps
them active; a new course opens monitoring again; check-ins after the end are the clinic's
choice."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.alerts.follow_up_end import SYSTEM_ACTOR, follow_up_end_scan
from monitoring.alerts.rules import open_checks_of_planned_patients
from monitoring.alerts.scans import clinics_alerting, scans_run
from monitoring.alerts.services import check_waive
from monitoring.models import MonitoringProtocol, Notification, ProtocolItem, ScheduledCheck
from monitoring.outbox.delivery import batch_deliver, due_batches
from patients.models import Patient
from patients.services import course_add
from tests.builders import nurse_of, platelets
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # 10:00 in London
TODAY = date(2026, 11, 21)
# Course 1 in January 2020, course 2 in February 2021: follow-up ended in February 2026.
COURSES = (date(2020, 1, 13), date(2021, 2, 15))

Kind = Notification.Kind


@pytest.fixture
def nurse(clinic_a):
    return nurse_of(clinic_a, "nurse_a", on_staff=False, email="nurse.a@example.org")


def patient_with_two_courses(clinic, *, tracked_from, **fields):
    patient = PatientFactory(
        clinic=clinic, tracked_from=tracked_from, email="ida@example.org", **fields
    )
    for first in COURSES:
        course_add(patient=patient, first_infusion_date=first, daily_dose_mg=Decimal(12))
    patient.refresh_from_db()
    return patient


@pytest.fixture
def finished(clinic_a, nurse):
    """Onboarded this year, after her follow-up ended: everything before is history."""
    return patient_with_two_courses(clinic_a, tracked_from=date(2026, 10, 1), given_name="Ida")


def test_the_end_of_follow_up_is_stored_from_the_plan(finished):
    assert finished.follow_up_ends == date(2026, 2, 17)  # 60 months after 17 Feb 2021


def test_a_patient_past_the_end_with_nothing_open_becomes_complete(finished, nurse):
    counts = scans_run(now=NOW)

    finished.refresh_from_db()
    assert finished.status == Patient.Status.MONITORING_COMPLETE
    assert not open_checks_of_planned_patients().filter(patient=finished).exists()
    # No alert to anyone, and no letter: her follow-up ended before the clinic tracked her,
    # so she heard of its end from the clinic that followed her then.
    assert counts.total == 0
    assert not Notification.objects.exists()


def test_the_change_is_in_the_audit_trail_by_the_system_and_in_the_history(finished):
    scans_run(now=NOW)

    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Patient),
        object_pk=str(finished.pk),
        action=LogEntry.Action.UPDATE,
    )
    assert entry.actor is None
    assert entry.actor_email == SYSTEM_ACTOR
    assert entry.changes["status"] == ["active", "monitoring_complete"]
    latest = finished.history.first()
    assert latest.status == Patient.Status.MONITORING_COMPLETE
    assert latest.history_change_reason == (
        "Follow-up ended on 17 Feb 2026 with no check or result left open."
    )


@pytest.fixture
def tracked_to_the_end(clinic_a, nurse):
    """Tracked since January 2026, before her follow-up ended in February: the last two
    months' checks were work, and they were done elsewhere (waived with the reason)."""
    patient = patient_with_two_courses(clinic_a, tracked_from=date(2026, 1, 1))
    for check in open_checks_of_planned_patients().filter(patient=patient):
        check_waive(
            check=check, reason="Tests done abroad; letter on file.", waived_by=nurse, now=NOW
        )
    return patient


def test_the_patient_is_told_once_what_still_needs_a_call(tracked_to_the_end, mailoutbox):
    counts = scans_run(now=NOW)
    scans_run(now=NOW + timedelta(days=1))
    for day in (0, 1, 2):
        for batch in due_batches(now=NOW + timedelta(days=day)):
            batch_deliver(batch=batch, now=NOW + timedelta(days=day))

    assert counts.total == counts.created["follow_up_end"] == 1
    assert Notification.objects.filter(kind=Kind.MONITORING_ENDED).count() == 1
    [message] = mailoutbox
    assert message.to == ["ida@example.org"]
    assert message.subject == "Your routine monitoring has ended"
    assert "ended on 17 Feb 2026" in message.body
    assert "unusual bruising" in message.body
    assert "blood in your urine" in message.body


def test_an_open_overdue_check_keeps_the_patient_active_until_it_is_handled(clinic_a, nurse):
    # Tracked since January 2026: the checks of the last two months were never done.
    patient = patient_with_two_courses(clinic_a, tracked_from=date(2026, 1, 1))
    scans_run(now=NOW)
    patient.refresh_from_db()
    assert patient.status == Patient.Status.ACTIVE

    for check in open_checks_of_planned_patients().filter(patient=patient):
        check_waive(
            check=check, reason="Tests done abroad; letter on file.", waived_by=nurse, now=NOW
        )
    scans_run(now=NOW + timedelta(days=1))

    patient.refresh_from_db()
    assert patient.status == Patient.Status.MONITORING_COMPLETE


def test_an_unacknowledged_flagged_result_keeps_the_patient_active(finished, nurse):
    platelets(finished, 120, entered_by=nurse, sample=date(2025, 12, 1))  # amber

    scans_run(now=NOW)

    finished.refresh_from_db()
    assert finished.status == Patient.Status.ACTIVE


def test_a_patient_still_in_follow_up_stays_active(clinic_a):
    patient = PatientFactory(clinic=clinic_a, tracked_from=TODAY)
    course_add(patient=patient, first_infusion_date=date(2025, 1, 6), daily_dose_mg=Decimal(12))

    scans_run(now=NOW)

    patient.refresh_from_db()
    assert patient.status == Patient.Status.ACTIVE


def test_a_new_course_opens_monitoring_again(finished, nurse):
    scans_run(now=NOW)

    course_add(
        patient=finished,
        first_infusion_date=TODAY + timedelta(days=30),
        daily_dose_mg=Decimal(12),
        recorded_by=nurse,
    )

    finished.refresh_from_db()
    assert finished.status == Patient.Status.ACTIVE
    assert finished.history.first().history_change_reason.startswith("Course 3 from")
    assert finished.follow_up_ends > TODAY + timedelta(days=365 * 5)


@pytest.fixture
def yearly_check_ins():
    """The clinic's choice, off by default: a blood count every year after the end."""
    protocol = MonitoringProtocol.objects.alemtuzumab().get(is_default=True)
    return ProtocolItem.objects.create(
        protocol=protocol,
        panel="blood_count",
        kind=ProtocolItem.Kind.AFTER_END,
        tests="CBC with differential",
        interval_months=12,
        window_before_days=30,
        grace_after_days=30,
    )


def test_no_check_ins_after_the_end_unless_the_clinic_adds_them(finished):
    assert not ScheduledCheck.objects.filter(patient=finished, kind="after_end").exists()


def test_yearly_check_ins_follow_a_complete_patient(clinic_a, yearly_check_ins):
    patient = patient_with_two_courses(clinic_a, tracked_from=date(2026, 10, 1))

    scans_run(now=NOW)

    patient.refresh_from_db()
    assert patient.status == Patient.Status.MONITORING_COMPLETE
    check_ins = ScheduledCheck.objects.filter(patient=patient, kind="after_end")
    assert [check.due_date for check in check_ins[:2]] == [date(2027, 2, 17), date(2028, 2, 17)]
    assert check_ins.count() == 10
    assert all(check.is_open for check in check_ins)


def test_completing_many_patients_takes_as_many_queries_as_one(clinic_a):
    def completing(count):
        for number in range(count):
            patient_with_two_courses(
                clinic_a, tracked_from=date(2026, 10, 1), hospital_number=f"N{count}-{number}"
            )
        complete = Patient.objects.filter(status=Patient.Status.MONITORING_COMPLETE)
        before = complete.count()
        with CaptureQueriesContext(connection) as captured:
            follow_up_end_scan(now=NOW, clinics=clinics_alerting(NOW))
        assert complete.count() - before == count
        return len(captured)

    assert completing(1) == completing(4)
