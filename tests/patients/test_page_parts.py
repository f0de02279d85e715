"""The patient page's body (header, overdue checks, therapies, courses, charts, results and
schedule) is kept drawn until the record changes or the clinic's day turns, and every change,
made anywhere, shows on the next request (patients.page_parts)."""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import generations
from monitoring.alerts.services import check_waive
from monitoring.domain import gates, therapies
from monitoring.models import FlagRule, Panel, ProtocolItem, ScheduledCheck
from monitoring.results.services import report_mark_in_error
from monitoring.schedule.protocols import protocol_replan, protocol_schedules_reconcile
from patients.models import Clinic, TherapyDose
from patients.services import course_add, patient_update
from patients.therapies.gates import dose_checklist_record, dose_record_given
from patients.therapies.services import episode_start
from tests.auth import sign_in
from tests.builders import acknowledge, nurse_of, platelets, treated_patient

pytestmark = pytest.mark.django_db


def page(client, patient, **query):
    return client.get(reverse("patients:detail", args=[patient.pk]), query).content.decode()


def courses_read(client, patient) -> int:
    """How many queries a page request spent reading the courses (the body being drawn)."""
    with CaptureQueriesContext(connection) as captured:
        page(client, patient)
    return sum('FROM "patients_infusioncourse"' in q["sql"] for q in captured)


def results_drawn(client, patient) -> int:
    """How many queries a page request spent on the results (LabResult reads)."""
    with CaptureQueriesContext(connection) as captured:
        page(client, patient)
    return sum('FROM "monitoring_labresult"' in q["sql"] for q in captured)


@pytest.fixture
def seen(client, clinic_a):
    nurse = nurse_of(clinic_a, "nurse_parts")
    patient = treated_patient(clinic_a, on=date(2026, 1, 12))
    result = platelets(patient, 80, entered_by=nurse, days_ago=2)
    sign_in(client, nurse)
    assert "Acknowledge" in page(client, patient)
    return client, nurse, patient, result


def test_the_results_are_drawn_once_until_the_record_changes(seen):
    client, nurse, patient, _ = seen
    assert results_drawn(client, patient) == 0  # kept from the fixture's request
    platelets(patient, 45, entered_by=nurse, days_ago=1)
    assert results_drawn(client, patient) > 0
    assert "critical" in page(client, patient)
    assert results_drawn(client, patient) == 0


def test_an_acknowledgement_shows_at_once(seen):
    client, nurse, patient, result = seen
    acknowledge(result, nurse, note="Repeat count booked for Friday.")
    shown = page(client, patient)
    assert "Repeat count booked for Friday." in shown


def test_a_report_entered_in_error_shows_at_once(seen):
    client, nurse, patient, result = seen
    report_mark_in_error(report=result.report, reason="Wrong patient's sample", marked_by=nurse)
    assert "Entered in error: Wrong patient's sample" in html.unescape(page(client, patient))


def test_a_flag_rule_changed_by_a_lead_redraws_the_charts(seen):
    client, _, patient, _ = seen
    rule = FlagRule.objects.filter(analyte__code="platelets", tier="red", is_active=True).first()
    assert f"red {rule.threshold.normalize():f}" in page(client, patient)
    rule.threshold = 77
    rule.save()
    assert "red 77<" in page(client, patient)


def test_each_user_sees_their_own_buttons(seen, staff_a):
    """Clinic staff may not acknowledge: the part the nurse's request kept is not theirs."""
    client, _, patient, _ = seen
    staff = sign_in(Client(), staff_a)
    assert "awaiting a nurse" in page(staff, patient)
    assert "awaiting a nurse" not in page(client, patient)


def test_every_request_still_records_the_read(seen):
    client, _, patient, _ = seen
    reads = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(patient.pk))
    before = reads.count()
    page(client, patient)
    page(client, patient)
    assert reads.count() == before + 2


def test_a_results_page_is_kept_apart_from_the_others(seen):
    client, _, patient, _ = seen
    assert results_drawn(client, patient) == 0
    with CaptureQueriesContext(connection) as captured:
        page(client, patient, results=2)  # another page of reports: drawn, not page 1's
    assert any('FROM "monitoring_labresult"' in q["sql"] for q in captured)


def test_without_a_cache_the_page_is_drawn_every_time(seen, settings):
    """A cache that cannot be reached (Redis on a port where nothing listens) costs only the
    drawing: nothing kept is trusted."""
    client, nurse, patient, _ = seen
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    assert results_drawn(client, patient) > 0
    platelets(patient, 45, entered_by=nurse, days_ago=1)
    assert "critical" in page(client, patient)
    assert results_drawn(client, patient) > 0


def test_parts_never_outlive_a_patient_of_the_same_id(seen):
    """A database restored or rebuilt under the same ids: the row's creation time differs."""
    client, _, patient, _ = seen
    type(patient).objects.filter(pk=patient.pk).update(created_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert results_drawn(client, patient) > 0


def test_a_waived_check_shows_at_once_in_the_schedule(seen):
    client, nurse, patient, _ = seen
    today = patient.clinic.today()
    check = (
        ScheduledCheck.objects.open()
        .filter(patient=patient, due_date__gt=today)
        .order_by("due_date")
        .first()
    )
    waived = f'title="{check.get_panel_display()}: waived"'
    assert waived not in page(client, patient)

    check_waive(check=check, reason="Done at another hospital", waived_by=nurse, now=timezone.now())

    assert waived in page(client, patient)


def test_the_schedule_is_drawn_again_when_the_clinics_day_turns(seen, monkeypatch):
    """The statuses and "this month" are today's: a part kept yesterday is not served."""
    client, _, patient, _ = seen
    later = patient.clinic.today() + timedelta(days=40)
    this_month = '<span class="badge text-bg-primary">this month</span>'
    assert f"{later:%B %Y} {this_month}" not in page(client, patient)

    monkeypatch.setattr(Clinic, "today", lambda self, now=None: later)

    assert f"{later:%B %Y} {this_month}" in page(client, patient)


def test_a_kept_page_reads_neither_courses_nor_checks(seen):
    client, _, patient, _ = seen
    with CaptureQueriesContext(connection) as captured:
        shown = page(client, patient)
    read = " ".join(q["sql"] for q in captured)
    assert 'FROM "patients_infusioncourse"' not in read
    assert 'FROM "monitoring_scheduledcheck"' not in read
    assert "Infusion courses" in shown and 'id="timeline"' in shown


def test_a_course_added_shows_at_once(seen):
    client, _, patient, _ = seen
    course_two = '<span class="visually-hidden"> course 2</span>'
    assert course_two not in page(client, patient)
    course_add(
        patient=patient,
        first_infusion_date=date(2027, 2, 8),
        daily_dose_mg=12,
        status="planned",
    )
    assert courses_read(client, patient) == 1
    assert course_two in page(client, patient)


def test_an_edit_of_the_patient_shows_at_once(seen):
    client, nurse, patient, _ = seen
    patient_update(patient=patient, reason="Typo in the name", changed_by=nurse, given_name="Zoë")
    assert ", Zoë</h1>" in page(client, patient)


def test_the_named_nurse_renamed_shows_at_once(seen):
    """A rename is the nurse's account, not the patient's record: the page is keyed on it."""
    client, nurse, patient, _ = seen
    patient_update(patient=patient, reason="Named nurse", changed_by=nurse, named_nurse=nurse)
    assert "Named nurse: " in page(client, patient)
    nurse.first_name, nurse.last_name = "Aoife", "Ní Bhriain"
    nurse.save()
    assert "Named nurse: Aoife Ní Bhriain" in page(client, patient)


def test_an_infusion_recorded_as_given_shows_at_once(seen):
    """Doses are written by the therapy services, not the results': their audit entries tell
    the kept page too (the page once kept showing one planned infusion after it was given)."""
    client, nurse, patient, _ = seen
    today = patient.clinic.today()
    episode_start(
        patient=patient, therapy=therapies.NATALIZUMAB, started_on=today, recorded_by=nurse
    )
    assert "Natalizumab (Tysabri)" in page(client, patient)
    dose = TherapyDose.objects.get(episode__patient=patient)
    answers = {question.code: question.safe_answer for question in gates.CHECKLIST}
    dose_checklist_record(dose=dose, answers=answers, answered_by=nurse)
    assert "Pre-infusion checklist not yet answered." not in page(client, patient)
    dose.refresh_from_db()
    dose_record_given(dose=dose, given_on=today, recorded_by=nurse)
    shown = page(client, patient)
    assert shown.count('class="therapy-dose') == 2  # infusion 1 given, infusion 2 planned


def test_checks_planned_by_a_protocol_change_show_at_once(seen):
    """A lead's change to a protocol re-plans its patients in bulk: the checks it creates have
    no audit entry each, so the re-plan tells the kept page itself."""
    client, _, patient, _ = seen
    ecg_check = 'title="ECG: '  # a check in the schedule's months
    assert ecg_check not in page(client, patient)
    item = ProtocolItem(
        panel=Panel.ECG,
        tests="ECG",
        interval_months=1,
        window_before_days=7,
        grace_after_days=14,
    )
    protocol_replan(protocol=patient.protocol, reason="Monthly ECG", items=[item])
    protocol_schedules_reconcile(patient.protocol_id)
    assert ecg_check in page(client, patient)


def test_a_page_kept_by_another_release_is_drawn_again(seen, monkeypatch):
    """A deploy that changes the page's templates shows the new page at once."""
    client, _, patient, _ = seen
    assert courses_read(client, patient) == 0
    monkeypatch.setattr(generations, "code_stamp", lambda: "the next release")
    assert courses_read(client, patient) == 1
    assert courses_read(client, patient) == 0
