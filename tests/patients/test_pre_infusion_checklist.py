"""The pre-infusion checklist: a course is recorded as given only when its baseline checks are
complete, or a nurse or the clinic lead says why it was given without them. A course that
started before the patient's tracking start is onboarding history and is exempt."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from monitoring.models import ScheduledCheck
from patients.models import InfusionCourse
from patients.services import course_add, course_record_given, course_update
from tests.auth import sign_in, staff_of
from tests.builders import lead_of, report, with_course_one
from tests.factories import PatientFactory, UserFactory
from tests.forms import keyed

pytestmark = pytest.mark.django_db

OVERRIDE = "baseline_override_reason"


@pytest.fixture
def planned_today(patient):
    """Course 1 planned to start today: its baseline window opened 30 days ago."""
    with_course_one(patient, days_ago=0)
    return patient.courses.get()


def baselines(course):
    return ScheduledCheck.objects.active().filter(course=course, kind="pre_course")


def record_baselines(course, user):
    """The baseline samples of five days ago, recorded as results; the infection screen has no
    lab value to record, so it is marked done as a done-without-value record would."""
    patient = course.patient
    for panel, values in {
        "blood_count": {"platelets": "250"},
        "kidney": {"creatinine": "80"},
        "urine": {"urine_blood": "negative"},
        "liver": {"alt": ("20", "U/L")},
        "thyroid": {"tsh": "2"},
    }.items():
        report(patient, panel, values, entered_by=user, days_ago=5)
    baselines(course).filter(panel="infection_screen").update(
        completed_on=patient.clinic.today() - timedelta(days=5)
    )


def test_a_course_is_not_recorded_as_given_while_its_baselines_are_missing(planned_today, nurse_a):
    versions = planned_today.history.count()
    with pytest.raises(ValidationError) as refused:
        course_record_given(course=planned_today, recorded_by=nurse_a)
    message = refused.value.message_dict[OVERRIDE][0]
    assert "not all completed" in message and "Blood count" in message
    planned_today.refresh_from_db()
    assert planned_today.status == InfusionCourse.Status.PLANNED
    assert planned_today.history.count() == versions  # nothing half saved


def test_a_course_whose_baselines_are_complete_is_recorded_as_given(planned_today, staff_a):
    record_baselines(planned_today, staff_a)
    assert not baselines(planned_today).filter(completed_on=None).exists()

    course_record_given(course=planned_today, recorded_by=staff_a)

    planned_today.refresh_from_db()
    assert planned_today.status == InfusionCourse.Status.GIVEN
    assert planned_today.baseline_override_reason == ""
    latest = planned_today.history.first()
    assert (latest.history_user, latest.history_change_reason) == (staff_a, "Recorded as given.")


def test_a_nurse_may_give_it_without_baselines_with_a_reason_kept_with_their_name(
    planned_today, nurse_a
):
    course_record_given(
        course=planned_today,
        recorded_by=nurse_a,
        baseline_override_reason="Labs done at the referring hospital; copy seen.",
    )
    planned_today.refresh_from_db()
    assert planned_today.status == InfusionCourse.Status.GIVEN
    assert planned_today.baseline_override_by == nurse_a
    latest = planned_today.history.first()
    assert latest.history_user == nurse_a
    assert "referring hospital" in latest.history_change_reason


def test_clinic_staff_may_not_override_the_checklist(planned_today, staff_a):
    with pytest.raises(ValidationError) as refused:
        course_record_given(
            course=planned_today, recorded_by=staff_a, baseline_override_reason="In a hurry."
        )
    assert "Only a nurse or the clinic lead" in refused.value.message_dict[OVERRIDE][0]
    planned_today.refresh_from_db()
    assert planned_today.status == InfusionCourse.Status.PLANNED


def test_an_override_reason_of_only_spaces_is_refused(planned_today, nurse_a):
    with pytest.raises(ValidationError) as refused:
        course_record_given(
            course=planned_today, recorded_by=nurse_a, baseline_override_reason="   \t "
        )
    assert "only spaces" in refused.value.message_dict[OVERRIDE][0]
    planned_today.refresh_from_db()
    assert (planned_today.status, planned_today.baseline_override_reason) == ("planned", "")


def test_course_update_to_given_follows_the_checklist(planned_today, nurse_a):
    with pytest.raises(ValidationError) as refused:
        course_update(course=planned_today, reason="Given", changed_by=nurse_a, status="given")
    assert OVERRIDE in refused.value.message_dict


def test_course_add_as_given_after_the_tracking_start_needs_the_checklist(patient, nurse_a):
    # The factory tracks from 2000: a course of last month is not history.
    day_one = patient.clinic.today() - timedelta(days=30)
    with pytest.raises(ValidationError) as refused:
        course_add(
            patient=patient,
            first_infusion_date=day_one,
            daily_dose_mg=Decimal(12),
            status=InfusionCourse.Status.GIVEN,
            recorded_by=nurse_a,
        )
    assert "Blood count" in refused.value.message_dict[OVERRIDE][0]
    assert not patient.courses.exists()
    assert not patient.scheduled_checks.exists()  # the re-plan was rolled back with it

    course = course_add(
        patient=patient,
        first_infusion_date=day_one,
        daily_dose_mg=Decimal(12),
        status=InfusionCourse.Status.GIVEN,
        baseline_override_reason="Baselines in the paper notes.",
        recorded_by=nurse_a,
    )
    assert (course.status, course.baseline_override_by) == ("given", nurse_a)


def test_a_course_before_the_tracking_start_is_history_and_exempt(clinic_a, staff_a):
    patient = PatientFactory(clinic=clinic_a, tracked_from=clinic_a.today())
    course = course_add(
        patient=patient,
        first_infusion_date=date(2023, 11, 27),
        daily_dose_mg=Decimal(12),
        status=InfusionCourse.Status.GIVEN,
        recorded_by=staff_a,
    )
    assert course.status == InfusionCourse.Status.GIVEN
    assert course.baseline_override_reason == ""


# The screen.


def test_the_checklist_screen_lists_the_baselines_and_refuses_clinic_staff(
    client, planned_today, staff_a
):
    sign_in(client, staff_a)
    url = reverse("patients:course_given", args=[planned_today.pk])
    page = client.get(url).content.decode()
    assert page.count("baseline-check") == baselines(planned_today).count() == 6
    assert "Blood count" in page and "Infection screen" in page
    assert OVERRIDE not in page  # clinic staff are not offered the override

    response = client.post(url, keyed())
    assert response.status_code == 200
    assert "not all completed" in response.content.decode()
    planned_today.refresh_from_db()
    assert planned_today.status == InfusionCourse.Status.PLANNED


def test_a_nurse_records_the_override_on_the_screen(client, planned_today, nurse_a):
    sign_in(client, nurse_a)
    url = reverse("patients:course_given", args=[planned_today.pk])
    assert OVERRIDE in client.get(url).content.decode()

    spaces = client.post(url, keyed({OVERRIDE: "    "}))
    assert "only spaces" in spaces.content.decode()
    assert spaces.context["form"].errors[OVERRIDE]

    response = client.post(url, keyed({OVERRIDE: "Labs seen from the GP's record."}))
    assert response.status_code == 302
    planned_today.refresh_from_db()
    assert (planned_today.status, planned_today.baseline_override_by) == ("given", nurse_a)


def test_the_add_course_form_takes_the_override_from_a_lead(client, clinic_a, patient):
    lead = lead_of(clinic_a, "lead_a")
    sign_in(client, lead)
    url = reverse("patients:course_create", args=[patient.pk])
    data = {"first_infusion_date": "2025-02-03", "daily_dose_mg": "12", "status": "given"}
    refused = client.post(url, keyed(data))
    assert refused.status_code == 200 and "not all completed" in refused.content.decode()
    assert not patient.courses.exists()

    client.post(url, keyed({**data, OVERRIDE: "Given at the previous hospital."}))
    assert patient.courses.get().baseline_override_by == lead


def test_clinic_staff_with_a_nurse_role_too_may_override(planned_today, clinic_a):
    both = staff_of(clinic_a, UserFactory(username="both"), Role.CLINIC_STAFF, Role.NURSE)
    course_record_given(
        course=planned_today, recorded_by=both, baseline_override_reason="Seen the labs."
    )
    planned_today.refresh_from_db()
    assert planned_today.status == InfusionCourse.Status.GIVEN


def test_the_checklist_screen_takes_the_same_queries_however_many_baselines(
    client, clinic_a, nurse_a
):
    """Sign-in and session, the course with its patient and clinic, the permission, and one
    query for the baseline checks with their status: the same for course 1 (six baselines,
    with the infection screen) as for course 2 (five)."""
    first = PatientFactory(clinic=clinic_a)
    with_course_one(first, days_ago=0)
    second = PatientFactory(clinic=clinic_a)
    with_course_one(second, days_ago=400, given=True)
    course_add(
        patient=second,
        first_infusion_date=second.clinic.today(),
        daily_dose_mg=Decimal(12),
    )
    sign_in(client, nurse_a)
    counts = []
    for course in (first.courses.get(), second.courses.get(number=2)):
        url = reverse("patients:course_given", args=[course.pk])
        client.get(url)  # warm the session and the permission cache alike
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append((baselines(course).count(), len(queries)))
    (six, first_queries), (five, second_queries) = counts
    assert (six, five) == (6, 5)
    assert first_queries == second_queries
