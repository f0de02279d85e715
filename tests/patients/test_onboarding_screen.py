"""The onboarding screen through the test client: upload, a preview naming every problem,
recording once, and another clinic's staged file out of reach."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.roles import Role
from patients.models import Clinic, InfusionCourse, Onboarding, Patient
from tests.auth import sign_in, staff_of
from tests.factories import UserFactory
from tests.forms import keyed

pytestmark = pytest.mark.django_db

GOOD = (
    b"hospital_number,given_name,family_name,date_of_birth,sex,course_1_first_day,"
    b"course_1_dose_mg\nONB-1,Ola,Onboard,1990-05-06,F,2022-03-07,12\n"
)
BAD = (
    b"hospital_number,given_name,family_name,date_of_birth,sex,course_1_first_day,"
    b"course_1_dose_mg\nONB-1,Ola,Onboard,1990-05-06,F,2022-03-07,1000\n"
)


def upload(client, content: bytes, **fields):
    """As the page posts it: the user's only clinic is a hidden field."""
    clinic = Clinic.objects.get(code="clinic-a")
    return client.post(
        reverse("patients:onboarding_upload"),
        {"clinic": clinic.pk, "file": SimpleUploadedFile("clinic.csv", content), **fields},
    )


def test_staff_preview_then_record_a_file(client_a, clinic_a):
    response = upload(client_a, GOOD)
    staged = Onboarding.objects.get()
    assert response["Location"] == reverse("patients:onboarding_preview", args=[staged.pk])
    assert not Patient.objects.exists()  # a preview stores nothing but the file
    page = client_a.get(response["Location"])
    assert "1 patient will be created and 0 updated, with 1 course added." in page.content.decode()
    response = client_a.post(response["Location"], keyed(), follow=True)
    assert "Onboarded: 1 patients created" in response.content.decode()
    patient = Patient.objects.get()
    assert patient.tracked_from == clinic_a.today()
    assert patient.courses.get().status == InfusionCourse.Status.GIVEN
    assert Onboarding.objects.get().status == Onboarding.Status.RECORDED


def test_the_preview_names_each_problem_and_recording_it_saves_nothing(client_a):
    upload(client_a, BAD)
    url = reverse("patients:onboarding_preview", args=[Onboarding.objects.get().pk])
    page = client_a.get(url).content.decode()
    assert "1 problem: nothing will be recorded" in page
    assert "Row 2, course_1_dose_mg: A daily dose of 1000 mg is not plausible" in page
    response = client_a.post(url, keyed())
    assert response.status_code == 200
    assert "Nothing was recorded: the file has 1 problem." in response.content.decode()
    assert not Patient.objects.exists()


def test_a_tracking_date_in_the_future_is_refused_on_the_screen(client_a, clinic_a):
    tomorrow = clinic_a.today() + timedelta(days=1)
    upload(client_a, GOOD, tracking_from=tomorrow.isoformat())
    url = reverse("patients:onboarding_preview", args=[Onboarding.objects.get().pk])
    assert "is in the future" in client_a.get(url).content.decode()


def test_a_file_that_is_not_text_is_refused_at_upload(client_a):
    response = upload(client_a, b"PK\x03\x04 a workbook")
    assert "is a spreadsheet workbook, not a CSV file" in response.content.decode()
    assert not Onboarding.objects.exists()


def test_another_clinics_staged_file_is_a_404(client, clinic_a, clinic_b, client_a):
    upload(client_a, GOOD)
    staged = Onboarding.objects.get()
    other = staff_of(clinic_b, UserFactory(username="staff_b"), Role.CLINIC_STAFF)
    sign_in(client, other)
    url = reverse("patients:onboarding_preview", args=[staged.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, keyed()).status_code == 404
    assert not Patient.objects.exists()


def test_a_nurse_may_not_onboard(client, clinic_a):
    nurse = staff_of(clinic_a, UserFactory(username="nurse_only"), Role.NURSE)
    sign_in(client, nurse)
    assert client.get(reverse("patients:onboarding_upload")).status_code == 403


def test_the_patient_list_links_to_the_screen_for_staff(client_a):
    page = client_a.get(reverse("patients:list")).content.decode()
    assert reverse("patients:onboarding_upload") in page


def test_a_file_larger_than_the_screen_records_is_sent_to_the_command(client_a, settings):
    settings.ONBOARDING_SCREEN_MAX_PATIENTS = 1
    two = GOOD + b"ONB-2,Per,Onboard,1991-05-06,M,2022-03-07,12\n"
    upload(client_a, two)
    url = reverse("patients:onboarding_preview", args=[Onboarding.objects.get().pk])
    page = client_a.get(url).content.decode()
    assert "This file has 2 patients; this screen records up to 1 at a time" in page
    assert "Record 2 patients" not in page
    response = client_a.post(url, keyed())
    assert "manage.py onboard_patients" in response.content.decode()
    assert not Patient.objects.exists()
