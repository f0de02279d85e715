"""Inputs a fault probe answered with a 500: each now gets a field error or a 400 page, and
nothing is stored."""

import pytest
from django.urls import reverse

from patients.models import InfusionCourse
from tests.auth import sign_in
from tests.builders import lead_of

pytestmark = pytest.mark.django_db


def course_form(**values):
    data = {"first_infusion_date": "2024-01-15", "daily_dose_mg": "12", "status": "planned"}
    data.update(values)
    return data


def test_a_course_dated_9999_12_31_is_a_field_error(client_a, patient):
    url = reverse("patients:course_create", args=[patient.pk])
    response = client_a.post(url, course_form(first_infusion_date="9999-12-31"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "first_infusion_date" in errors
    assert "1990" in errors["first_infusion_date"][0]
    assert not InfusionCourse.objects.filter(patient=patient).exists()


def test_course_days_of_99999999999_is_a_field_error(client_a, treated):
    # Overlapping the course before it, the overlap check used to count the new course's days.
    url = reverse("patients:course_create", args=[treated.pk])
    data = course_form(first_infusion_date="2024-01-16", days="99999999999", days_reason="trial")
    response = client_a.post(url, data)
    assert response.status_code == 200
    assert "days" in response.context["form"].errors
    assert InfusionCourse.objects.filter(patient=treated).count() == 1


def test_a_dose_beyond_its_digits_is_a_field_error(client_a, patient):
    url = reverse("patients:course_create", args=[patient.pk])
    response = client_a.post(url, course_form(daily_dose_mg="99999999999999999999"))
    assert response.status_code == 200
    assert "daily_dose_mg" in response.context["form"].errors


def test_the_audit_trail_to_9999_12_31_is_a_field_error(client, clinic_a):
    sign_in(client, lead_of(clinic_a, "lead_a"))
    response = client.get(reverse("audit:list"), {"date_to": "9999-12-31"})
    assert response.status_code == 200
    assert "date_to" in response.context["form"].errors
    response = client.get(reverse("audit:list"), {"date_from": "0001-01-01"})
    assert response.status_code == 200
    assert "date_from" in response.context["form"].errors


@pytest.mark.parametrize("query", ["q=%00", "q=a%00b", "page=%00", "q=%1b[31m"])
def test_a_control_character_in_a_query_string_is_a_400(client_a, patient, query):
    response = client_a.get(f"{reverse('patients:list')}?{query}")
    assert response.status_code == 400
    assert b"control character" in response.content


def test_a_nul_in_a_form_post_is_a_400_and_nothing_is_stored(client_a, clinic_a):
    from patients.models import Patient

    before = Patient.objects.count()
    response = client_a.post(
        reverse("patients:create"),
        {
            "clinic": clinic_a.pk,
            "hospital_number": "X1",
            "given_name": "A\x00",
            "family_name": "B",
            "date_of_birth": "1980-01-01",
            "sex": "F",
        },
    )
    assert response.status_code == 400
    assert b"given_name" in response.content
    assert Patient.objects.count() == before


def test_a_tab_in_a_multi_line_note_passes_the_guard(client_a, patient):
    # Tabs and newlines are text in a note; the guard refuses only the other control characters.
    response = client_a.post(
        reverse("monitoring:report_create", args=[patient.pk, "blood_count"]),
        {"sample_collected_on": "2024-03-15", "notes": "line one\r\n\tline two"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query",
    ["page=99999999999999999999999", "results=-1", "schedule=9999-12", "schedule=0-0"],
)
def test_patient_page_parameters_out_of_range_show_the_page(client_a, patient, query):
    response = client_a.get(f"{reverse('patients:detail', args=[patient.pk])}?{query}")
    assert response.status_code == 200


def test_worklist_page_numbers_out_of_range_show_the_page(client, clinic_a):
    from tests.builders import nurse_of

    sign_in(client, nurse_of(clinic_a, "nurse_x"))
    response = client.get(reverse("monitoring:worklist"), {"overdue_page": "9" * 30})
    assert response.status_code == 200


def test_a_birth_date_of_0001_01_01_is_a_field_error(client_a, clinic_a):
    response = client_a.post(
        reverse("patients:create"),
        {
            "clinic": clinic_a.pk,
            "hospital_number": "X2",
            "given_name": "A",
            "family_name": "B",
            "date_of_birth": "0001-01-01",
            "sex": "F",
        },
    )
    assert response.status_code == 200
    assert "1900" in response.context["form"].errors["date_of_birth"][0]
