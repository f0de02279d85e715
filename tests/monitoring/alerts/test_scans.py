"""The alert scans against the real database: who is told about what, once, and when it
escalates to the clinic lead."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.alerts.scans import clinics_alerting, escalation_scan, scans_run
from monitoring.alerts.services import result_acknowledge
from monitoring.models import Notification, ScheduledCheck
from patients.models import Patient
from tests.builders import lead_of, nurse_of, platelets, treated_patient

pytestmark = pytest.mark.django_db

# Saturday 21 November 2026, 10:00 in London (GMT).
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 21)
COURSE_ONE = date(2026, 9, 1)
SAMPLE = date(2026, 11, 20)  # the day before NOW
EMAIL = "patient@example.org"  # so the patient is reminded too

Kind = Notification.Kind
Delivery = Notification.Delivery


@pytest.fixture
def nurses(clinic_a):
    return (
        nurse_of(clinic_a, "nurse_a1", on_staff=False),
        nurse_of(clinic_a, "nurse_a2", on_staff=False),
    )


@pytest.fixture
def lead(clinic_a):
    return lead_of(clinic_a, "lead_a", on_staff=False, escalates=True)


def overdue_checks(patient):
    return set(
        ScheduledCheck.objects.open()
        .filter(patient=patient, overdue_after__lt=TODAY)
        .values_list("pk", flat=True)
    )


def rows(**filters):
    return Notification.objects.filter(**filters)


def test_each_overdue_check_gets_a_digest_row_per_clinic_nurse_and_one_for_the_patient(
    clinic_a, nurses
):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    expected = overdue_checks(patient)
    assert expected  # October's monthly checks, among others, closed on 8 November

    scans_run(now=NOW)

    for nurse in nurses:
        told = rows(kind=Kind.OVERDUE, recipient_user=nurse)
        assert set(told.values_list("scheduled_check_id", flat=True)) == expected
        assert set(told.values_list("delivery", flat=True)) == {Delivery.NURSE_DIGEST}
    reminded = rows(kind=Kind.OVERDUE, recipient_patient=patient)
    assert set(reminded.values_list("scheduled_check_id", flat=True)) == expected
    assert set(reminded.values_list("delivery", flat=True)) == {Delivery.PATIENT_DAILY}


def test_a_named_nurse_is_told_instead_of_the_nurse_group(clinic_a, nurses):
    named, other = nurses
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL, named_nurse=named)
    scans_run(now=NOW)
    assert rows(kind=Kind.OVERDUE, recipient_user=named).count() == len(overdue_checks(patient))
    assert not rows(kind=Kind.OVERDUE, recipient_user=other).exists()


def test_a_patient_who_turned_reminders_off_gets_none(clinic_a, nurses):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL, email_reminders=False)
    scans_run(now=NOW)
    assert not rows(recipient_patient=patient).exists()
    assert rows(kind=Kind.OVERDUE, recipient_user=nurses[0]).exists()


def test_running_the_scans_again_creates_nothing_new(clinic_a, nurses, lead):
    treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    first = scans_run(now=NOW)
    count = Notification.objects.count()
    second = scans_run(now=NOW + timedelta(minutes=15))
    assert first.total == count > 0
    assert second.total == 0
    assert Notification.objects.count() == count


def test_a_check_that_is_only_due_is_not_overdue(clinic_a, nurses):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    november = ScheduledCheck.objects.get(
        patient=patient, panel="blood_count", due_date=date(2026, 11, 1)
    )
    scans_run(now=datetime(2026, 11, 8, 12, 0, tzinfo=UTC))  # its last day in the window
    assert not rows(scheduled_check=november, kind=Kind.OVERDUE).exists()
    scans_run(now=datetime(2026, 11, 9, 0, 30, tzinfo=UTC))
    assert rows(scheduled_check=november, kind=Kind.OVERDUE).count() == 3  # 2 nurses, patient


def due_soon(patient):
    return {
        (row.scheduled_check.due_date, row.scheduled_check.panel, row.lead_days)
        for row in rows(kind=Kind.DUE_SOON, recipient_patient=patient).select_related(
            "scheduled_check"
        )
    }


def test_reminders_come_at_the_lead_times_the_patient_chose(clinic_a, nurses):
    # Course 1 on 28 Nov 2026 puts the first monthly checks on 28 Dec; the pre-course checks
    # are due on 28 Nov.
    patient = treated_patient(clinic_a, email=EMAIL, on=date(2026, 11, 28))
    scans_run(now=datetime(2026, 11, 20, 9, 0, tzinfo=UTC))  # 8 days before: nothing yet
    assert due_soon(patient) == set()
    scans_run(now=datetime(2026, 11, 21, 9, 0, tzinfo=UTC))  # 7 days before
    assert {lead for *_, lead in due_soon(patient)} == {7}
    scans_run(now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC))  # 1 day before
    assert {lead for *_, lead in due_soon(patient)} == {7, 1}
    assert {due for due, *_ in due_soon(patient)} == {date(2026, 11, 28)}


def test_a_patient_who_chose_fourteen_days_is_reminded_fourteen_days_before(clinic_a, nurses):
    patient = treated_patient(
        clinic_a,
        email=EMAIL,
        on=date(2026, 12, 5),
        reminder_leads=Patient.ReminderLeads.FOURTEEN_SEVEN_ONE,
    )
    scans_run(now=NOW)  # 14 days before 5 December
    assert {lead for *_, lead in due_soon(patient)} == {14}


def test_a_critical_result_alerts_the_nurses_at_once_as_it_is_saved(clinic_a, nurses, clinician):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    result = platelets(patient, 45, entered_by=clinician, sample=SAMPLE)
    told = rows(kind=Kind.ABNORMAL_RESULT, result=result)
    assert set(told.values_list("recipient_user", "tier", "delivery")) == {
        (nurse.pk, "critical", Delivery.AT_ONCE) for nurse in nurses
    }


def test_an_amber_result_waits_for_the_daily_digest(clinic_a, nurses, clinician):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    result = platelets(patient, 140, entered_by=clinician, sample=SAMPLE)
    assert result.tier == "amber"
    assert set(rows(result=result).values_list("delivery", flat=True)) == {Delivery.NURSE_DIGEST}


def test_a_normal_result_alerts_nobody(clinic_a, nurses, clinician):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    platelets(patient, 250, entered_by=clinician, sample=SAMPLE)
    assert not rows(kind=Kind.ABNORMAL_RESULT).exists()


def test_the_scan_catches_a_result_saved_while_the_clinic_had_no_nurses(clinic_a, clinician):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    result = platelets(patient, 45, entered_by=clinician, sample=SAMPLE)
    assert not rows(result=result).exists()
    nurse = nurse_of(clinic_a, "new_nurse", on_staff=False)
    scans_run(now=NOW)
    assert rows(kind=Kind.ABNORMAL_RESULT, result=result, recipient_user=nurse).count() == 1


def escalations(**filters):
    return rows(kind=Kind.ESCALATION, **filters)


def test_a_critical_result_escalates_to_the_lead_after_four_hours(
    clinic_a, nurses, lead, clinician
):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    waiting = platelets(
        patient, 45, entered_by=clinician, sample=SAMPLE, tier_since=NOW - timedelta(hours=3.9)
    )
    other = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL, hospital_number="H-LATE")
    late = platelets(
        other, 40, entered_by=clinician, sample=SAMPLE, tier_since=NOW - timedelta(hours=4.1)
    )
    escalation_scan(now=NOW, clinics=clinics_alerting(NOW))
    assert not escalations(result=waiting).exists()
    assert list(escalations(result=late).values_list("recipient_user", "delivery")) == [
        (lead.pk, Delivery.AT_ONCE)
    ]


def test_a_red_result_escalates_after_twenty_four_hours(clinic_a, nurses, lead, clinician):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    red = platelets(
        patient, 90, entered_by=clinician, sample=SAMPLE, tier_since=NOW - timedelta(hours=23)
    )
    assert red.tier == "red"
    scans_run(now=NOW)
    assert not escalations(result=red).exists()
    scans_run(now=NOW + timedelta(hours=1, minutes=1))
    assert escalations(result=red, recipient_user=lead).count() == 1


def test_the_clinic_sets_its_own_escalation_deadline(clinic_a, nurses, lead, clinician):
    clinic_a.critical_escalation_hours = 1
    clinic_a.save()
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    critical = platelets(
        patient, 45, entered_by=clinician, sample=SAMPLE, tier_since=NOW - timedelta(hours=1.5)
    )
    scans_run(now=NOW)
    assert escalations(result=critical).count() == 1


def test_an_acknowledged_result_never_escalates(clinic_a, nurses, lead, clinician):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    critical = platelets(
        patient, 45, entered_by=clinician, sample=SAMPLE, tier_since=NOW - timedelta(hours=1)
    )
    result_acknowledge(
        result=critical,
        action="called_patient",
        note="Called; sent to A&E for a repeat count.",
        acknowledged_by=nurses[0],
        now=NOW,
    )
    scans_run(now=NOW + timedelta(hours=48))
    assert not escalations(result=critical).exists()


def test_a_clinic_without_a_lead_escalates_to_its_nurse_group(clinic_a, nurses, clinician):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    critical = platelets(
        patient, 45, entered_by=clinician, sample=SAMPLE, tier_since=NOW - timedelta(hours=5)
    )
    scans_run(now=NOW)
    assert set(escalations(result=critical).values_list("recipient_user", flat=True)) == {
        nurse.pk for nurse in nurses
    }


def test_a_check_overdue_for_fourteen_days_escalates_and_not_before(clinic_a, nurses, lead):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    october = ScheduledCheck.objects.get(
        patient=patient, panel="blood_count", due_date=date(2026, 10, 1)
    )  # overdue from 9 October; 14 days later is 23 October
    scans_run(now=datetime(2026, 10, 22, 12, 0, tzinfo=UTC))
    assert not escalations(scheduled_check=october).exists()
    scans_run(now=datetime(2026, 10, 23, 12, 0, tzinfo=UTC))
    assert list(escalations(scheduled_check=october).values_list("recipient_user", flat=True)) == [
        lead.pk
    ]


def test_a_waived_check_neither_alerts_nor_escalates(clinic_a, nurses, lead):
    patient = treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    ScheduledCheck.objects.filter(patient=patient).update(
        waived_at=NOW, waived_reason="In hospital; tests done there."
    )
    scans_run(now=NOW)
    assert not rows(scheduled_check__patient=patient).exists()


def scan_queries(now) -> tuple[int, int]:
    """(selects, inserts) of one run of every scan."""
    with CaptureQueriesContext(connection) as queries:
        scans_run(now=now)
    verbs = [query["sql"].lstrip().split()[0].upper() for query in queries]
    return verbs.count("SELECT"), verbs.count("INSERT")


def test_the_scans_query_count_does_not_grow_with_patients(clinic_a, nurses, lead, clinic_b):
    treated_patient(clinic_a, on=COURSE_ONE, email=EMAIL)
    small = scan_queries(NOW)
    for number in range(8):
        treated_patient(
            clinic_a if number % 2 else clinic_b,
            on=COURSE_ONE,
            email=EMAIL,
            hospital_number=f"MORE{number}",
        )
    large = scan_queries(NOW + timedelta(days=40))
    assert Notification.objects.filter(created_at__gt=NOW).exists()
    # Selects: clinics, nurse groups, patients whose follow-up has ended, overdue checks, 4
    # reminder lead times, unacknowledged results, late results, late symptom reports,
    # long-overdue checks.
    assert small[0] == large[0] == 12
    if connection.vendor == "postgresql":
        # At most one insert per scan (4). SQLite splits a large insert at its limit of bound
        # variables, so only PostgreSQL's is fixed.
        assert small[1] <= large[1] <= 4
