"""Every create and change of a patient's record reaches the audit trail with who, when, from
where and the old and new values, through the real screens and services."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone

from audit.models import EntrySubject
from monitoring.alerts.services import check_waive
from monitoring.models import Acknowledgement, LabReport, ScheduledCheck
from monitoring.results.services import report_mark_in_error
from patients.models import InfusionCourse, Patient
from patients.services import course_cancel, course_update
from tests.auth import sign_in
from tests.builders import platelets, with_course_one
from tests.builders import report as build_report
from tests.factories import UserFactory
from tests.forms import keyed

pytestmark = pytest.mark.django_db

Action = LogEntry.Action
WARD_PC = "10.20.30.40"


def entries_about(obj: Model, action: int) -> list[LogEntry]:
    return list(
        LogEntry.objects.get_for_object(obj).filter(action=action).order_by("timestamp", "pk")
    )


def the_entry_about(obj: Model, action: int) -> LogEntry:
    (entry,) = entries_about(obj, action)
    return entry


def test_a_result_correction_is_recorded_with_old_and_new_values_and_no_view_can_delete_it(
    client_a, staff_a, patient
):
    result = platelets(patient, "45", entered_by=staff_a, days_ago=1)

    response = client_a.post(
        reverse("monitoring:result_correct", args=[result.pk]),
        keyed({"value": "210", "unit": "10^9/L", "reason": "Misread the printout"}),
        REMOTE_ADDR=WARD_PC,
    )

    assert response.status_code == 302
    # A correction is a new version of the same row (django-simple-history keeps the old one),
    # so the trail holds it as a change of that row.
    entry = the_entry_about(result, Action.UPDATE)
    assert entry.changes["value_text"] == ["45", "210"]
    assert [Decimal(value) for value in entry.changes["canonical_value"]] == [45, 210]
    assert entry.changes["tier"] == ["critical", "normal"]
    assert (entry.actor, entry.remote_addr) == (staff_a, WARD_PC)
    assert (entry.subject.patient, entry.subject.clinic) == (patient, patient.clinic)

    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    sign_in(client_a, admin)
    delete_url = reverse("admin:auditlog_logentry_delete", args=[entry.pk])
    assert client_a.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:auditlog_logentry_changelist")
    listed = client_a.get(changelist)
    assert listed.status_code == 200
    assert 'name="action"' not in listed.content.decode()  # no actions, so no bulk delete
    client_a.post(changelist, {"action": "delete_selected", "_selected_action": [entry.pk]})
    change_url = reverse("admin:auditlog_logentry_change", args=[entry.pk])
    assert client_a.post(change_url, {"object_repr": "edited"}).status_code == 403
    for url in (reverse("audit:list"), reverse("audit:patient", args=[patient.pk])):
        assert client_a.post(url, {"entry": entry.pk}).status_code == 405
        assert client_a.delete(url).status_code == 405
    assert LogEntry.objects.filter(pk=entry.pk, changes=entry.changes).exists()


def test_creating_a_patient_through_the_screen_is_recorded_with_its_values(
    client_a, staff_a, clinic_a
):
    client_a.post(
        reverse("patients:create"),
        keyed(
            {
                "clinic": clinic_a.pk,
                "hospital_number": "N123",
                "given_name": "Nia",
                "family_name": "New",
                "date_of_birth": "1991-04-02",
                "sex": "F",
            }
        ),
        REMOTE_ADDR=WARD_PC,
    )

    patient = Patient.objects.get(hospital_number="N123")
    entry = the_entry_about(patient, Action.CREATE)
    assert entry.changes["family_name"] == ["None", "New"]
    assert entry.changes["date_of_birth"] == ["None", "1991-04-02"]
    assert (entry.actor, entry.remote_addr) == (staff_a, WARD_PC)
    assert (entry.subject.patient, entry.subject.clinic) == (patient, clinic_a)
    # Bookkeeping columns and reverse relations are left out.
    assert not {"updated_at", "created_at", "courses", "id"} & entry.changes.keys()


def test_adding_and_moving_a_course_are_recorded(client_a, staff_a, patient):
    client_a.post(
        reverse("patients:course_create", args=[patient.pk]),
        keyed({"first_infusion_date": "2025-02-03", "daily_dose_mg": "12", "status": "planned"}),
    )
    course = InfusionCourse.objects.get(patient=patient)
    created = the_entry_about(course, Action.CREATE)
    assert created.changes["first_infusion_date"] == ["None", "2025-02-03"]
    assert created.actor == staff_a

    course_update(
        course=course,
        reason="Date typed wrong",
        first_infusion_date=course.first_infusion_date + timedelta(days=7),
    )

    moved = the_entry_about(course, Action.UPDATE)
    assert moved.changes["first_infusion_date"] == ["2025-02-03", "2025-02-10"]
    assert moved.subject.patient == patient


def test_planned_checks_are_not_recorded_one_by_one_but_their_moves_are(patient):
    with_course_one(patient, days_ago=75, given=True)
    checks = ScheduledCheck.objects.filter(patient=patient)
    assert checks.count() > 50
    assert not LogEntry.objects.get_for_model(ScheduledCheck).exists()

    course = patient.courses.get()
    course_update(
        course=course,
        reason="Started a week later",
        first_infusion_date=course.first_infusion_date + timedelta(days=7),
    )

    moved = LogEntry.objects.get_for_model(ScheduledCheck).filter(action=Action.UPDATE)
    open_checks = checks.open().count()
    assert moved.count() == open_checks
    some = moved.first()
    old_due, new_due = some.changes["due_date"]
    assert (date.fromisoformat(new_due) - date.fromisoformat(old_due)).days == 7
    assert EntrySubject.objects.filter(entry__in=moved, patient=patient).count() == open_checks


def test_cancelled_checks_are_recorded_with_the_reason(patient):
    with_course_one(patient, days_ago=75, given=True)
    course = patient.courses.get()
    open_before = ScheduledCheck.objects.filter(patient=patient).open().count()

    course_cancel(course=course, reason="Course never given")

    cancelled = LogEntry.objects.get_for_model(ScheduledCheck).filter(
        action=Action.UPDATE, changes__has_key="cancelled_at"
    )
    assert cancelled.count() == open_before
    assert {tuple(entry.changes["cancelled_reason"]) for entry in cancelled} == {
        ("", "No longer in the plan after a course or protocol change.")
    }


def test_acknowledging_a_result_through_the_screen_is_recorded(client, nurse_a, patient):
    result = platelets(patient, "45", entered_by=nurse_a, days_ago=1)
    sign_in(client, nurse_a)

    client.post(
        reverse("monitoring:result_acknowledge", args=[result.pk]),
        keyed({"action": "called_patient", "note": "Admitted to day unit."}),
        REMOTE_ADDR=WARD_PC,
    )

    acknowledgement = Acknowledgement.objects.get(result=result)
    entry = the_entry_about(acknowledgement, Action.CREATE)
    assert entry.changes["action"] == ["None", "called_patient"]
    assert entry.changes["note"] == ["None", "Admitted to day unit."]
    assert entry.changes["tier"] == ["None", "critical"]
    assert (entry.actor, entry.remote_addr) == (nurse_a, WARD_PC)
    assert entry.subject.patient == patient


def test_waiving_a_check_through_the_screen_is_recorded_with_old_and_new_values(
    client, nurse_a, patient
):
    with_course_one(patient, days_ago=75, given=True)
    check = ScheduledCheck.objects.filter(patient=patient).open().order_by("due_date").first()
    sign_in(client, nurse_a)

    client.post(
        reverse("monitoring:check_waive", args=[check.pk]),
        keyed({"reason": "Done at the district hospital."}),
        REMOTE_ADDR=WARD_PC,
    )

    entry = the_entry_about(check, Action.UPDATE)
    assert entry.changes["waived_reason"] == ["", "Done at the district hospital."]
    assert entry.changes["waived_by"] == ["None", str(nurse_a.pk)]
    assert entry.changes["waived_at"][0] == "None"
    assert (entry.actor, entry.remote_addr) == (nurse_a, WARD_PC)
    assert (entry.subject.patient, entry.subject.clinic) == (patient, patient.clinic)


def test_waiving_a_check_no_longer_open_records_nothing(nurse_a, patient):
    with_course_one(patient, days_ago=75, given=True)
    check = ScheduledCheck.objects.filter(patient=patient).open().first()
    check_waive(check=check, reason="Done elsewhere", waived_by=nurse_a, now=timezone.now())

    with pytest.raises(ValidationError):
        check_waive(check=check, reason="Again", waived_by=nurse_a, now=timezone.now())

    assert len(entries_about(check, Action.UPDATE)) == 1


def test_results_stored_in_bulk_and_the_check_they_complete_are_recorded(staff_a, patient):
    with_course_one(patient, days_ago=75, given=True)
    report = build_report(
        patient,
        "blood_count",
        {"platelets": "210", "haemoglobin": "135"},
        entered_by=staff_a,
        days_ago=1,
    )

    the_entry_about(report, Action.CREATE)
    for result in report.results.all():
        created = the_entry_about(result, Action.CREATE)
        assert created.changes["value_text"] == ["None", result.value_text]
        assert created.subject.patient == patient
    completed = ScheduledCheck.objects.get(completed_by=report)
    entry = the_entry_about(completed, Action.UPDATE)
    assert entry.changes["completed_by"] == ["None", str(report.pk)]

    report_mark_in_error(report=report, reason="Wrong patient", marked_by=staff_a)

    reopened = entries_about(completed, Action.UPDATE)[-1]
    assert reopened.changes["completed_by"] == [str(report.pk), "None"]
    assert the_entry_about(LabReport.objects.get(pk=report.pk), Action.UPDATE).changes[
        "entered_in_error_reason"
    ] == ["", "Wrong patient"]


def test_changes_outside_a_request_are_recorded_with_no_actor(patient):
    user = get_user_model().objects.create(username="script")
    result = platelets(patient, "150", entered_by=user, days_ago=1)

    entry = the_entry_about(result, Action.CREATE)

    assert (entry.actor, entry.remote_addr) == (None, None)
