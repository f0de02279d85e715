"""Input limits: free text has a length, no control characters and no spreadsheet formula;
numbers are written with 0-9; dates and integers stay in range at the form and at the service."""

# Look-alike characters are what these tests are about.
# ruff: noqa: RUF001

import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from monitoring.domain.input_rules import control_characters, formula_start
from monitoring.models import LabReport
from monitoring.results.csv_import import import_read
from monitoring.results.entry import ResultInput
from monitoring.results.services import report_record
from patients.models import InfusionCourse, Patient
from patients.services import course_add, patient_create
from patients.validators import NOTE_MAX_LENGTH
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x")', "+SUM(A1)", "-2+3", "@cmd", "\tx", "\r=1"]
)
def test_formulas_are_recognised(text):
    assert formula_start(text) is not None


@pytest.mark.parametrize("text", ["-5", "+3.2", "+44 20 7946 0000", "St Mary's lab", "5-7 days"])
def test_plain_numbers_phone_numbers_and_words_are_not_formulas(text):
    assert formula_start(text) is None


def test_tabs_and_line_breaks_are_text_only_in_multi_line_fields():
    assert control_characters("a\tb\r\nc", multi_line=True) == []
    assert control_characters("a\tb", multi_line=False) == ["U+0009"]
    assert control_characters("a\x00b\x1b", multi_line=True) == ["U+0000", "U+001B"]


def report_form(**values):
    data = {
        "sample_collected_on": "2024-03-15",
        "submission_key": str(uuid.uuid4()),
        "platelets": "245",
        "platelets_unit": "10^9/L",
    }
    data.update(values)
    return data


def _post_report(client, patient, **values):
    url = reverse("monitoring:report_create", args=[patient.pk, "blood_count"])
    return client.post(url, report_form(**values))


def test_a_formula_in_the_lab_name_is_a_field_error(client_a, patient):
    response = _post_report(client_a, patient, lab_name='=HYPERLINK("http://evil")')
    assert response.status_code == 200
    assert "formula" in response.context["form"].errors["lab_name"][0]
    assert not LabReport.objects.exists()


def test_report_notes_have_a_length_limit(client_a, patient):
    response = _post_report(client_a, patient, notes="x" * (NOTE_MAX_LENGTH + 1))
    assert response.status_code == 200
    assert str(NOTE_MAX_LENGTH) in response.context["form"].errors["notes"][0]


def test_arabic_indic_digits_in_a_result_are_refused_with_the_plain_form(client_a, patient):
    response = _post_report(client_a, patient, platelets="٢٤٥")
    assert response.status_code == 200
    message = response.context["form"].errors["platelets"][0]
    assert "digits 0-9" in message
    assert "245" in message
    assert not LabReport.objects.exists()


def test_full_width_digits_in_course_days_are_refused(client_a, patient):
    url = reverse("patients:course_create", args=[patient.pk])
    response = client_a.post(
        url,
        {
            "first_infusion_date": "2024-01-15",
            "daily_dose_mg": "１２",
            "days": "٥",
            "status": "planned",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "digits 0-9" in errors["days"][0]
    assert "digits 0-9" in errors["daily_dose_mg"][0]


def _patient_post(clinic, **values):
    data = {
        "clinic": clinic.pk,
        "hospital_number": "L1",
        "given_name": "Lia",
        "family_name": "Limits",
        "date_of_birth": "1980-01-01",
        "sex": "F",
    }
    data.update(values)
    return data


def test_a_tab_in_a_name_is_a_field_error(client_a, clinic_a):
    response = client_a.post(
        reverse("patients:create"), _patient_post(clinic_a, given_name="L\tia")
    )
    assert "U+0009" in response.context["form"].errors["given_name"][0]


def test_a_formula_in_a_name_is_a_field_error(client_a, clinic_a):
    response = client_a.post(
        reverse("patients:create"), _patient_post(clinic_a, family_name="=1+1")
    )
    assert "formula" in response.context["form"].errors["family_name"][0]
    assert not Patient.objects.exists()


def test_a_birth_in_the_future_or_before_1900_is_refused_by_the_service(clinic_a):
    for born in (date(1899, 12, 31), date(2999, 1, 1)):
        with pytest.raises(ValidationError) as refusal:
            patient_create(
                clinic=clinic_a,
                hospital_number="S1",
                given_name="A",
                family_name="B",
                date_of_birth=born,
                sex="F",
            )
        assert "date_of_birth" in refusal.value.message_dict


def test_the_service_refuses_a_course_far_in_the_future_or_too_long(treated):
    # 16 January overlaps course 1, so the overlap check meets the course's length.
    for first, days in ((date(9999, 12, 31), 3), (date(2024, 1, 16), 99999999999)):
        with pytest.raises(ValidationError):
            course_add(
                patient=treated,
                first_infusion_date=first,
                daily_dose_mg=Decimal(12),
                days=days,
                days_reason="trial",
            )
    assert InfusionCourse.objects.filter(patient=treated).count() == 1


def test_the_service_refuses_a_formula_and_overlong_notes(patient, staff_a):
    entry = ResultInput(analyte=_platelets(), value="245", unit="10^9/L")
    for extra, field in (({"lab_name": "@SUM(1)"}, "lab_name"), ({"notes": "x" * 2001}, "notes")):
        with pytest.raises(ValidationError) as refusal:
            report_record(
                patient=patient,
                panel="blood_count",
                sample_collected_on=date(2024, 3, 15),
                entries=[entry],
                entered_by=staff_a,
                **extra,
            )
        assert field in refusal.value.message_dict
    assert not LabReport.objects.exists()


def _platelets():
    from monitoring.models import Analyte

    return Analyte.objects.get(code="platelets")


def test_a_sample_before_1990_is_refused(client_a, patient):
    response = _post_report(client_a, patient, sample_collected_on="1989-12-31")
    assert "1990" in response.context["form"].errors["sample_collected_on"][0]


def test_a_formula_lab_name_in_the_csv_is_a_row_error(clinic_a):
    PatientFactory(clinic=clinic_a, hospital_number="H100")
    content = (
        b"hospital_number,sample_date,analyte,value,unit,lab_name\n"
        b"H100,2026-03-02,platelets,245,10^9/L,=cmd|' /C calc'!A0\n"
    )
    preview = import_read(clinic=clinic_a, content=content, today=date(2026, 11, 21))
    (problem,) = preview.problems
    assert problem.column == "lab_name"
    assert "formula" in problem.message


def test_a_formula_in_a_follow_up_note_is_a_field_error(client, clinic_a, treated):
    from tests.auth import sign_in
    from tests.builders import nurse_of

    sign_in(client, nurse_of(clinic_a, "nurse_f"))
    check = treated.scheduled_checks.order_by("due_date").first()
    response = client.post(
        reverse("monitoring:check_follow_up", args=[check.pk]),
        {"action": "called_patient", "note": "=HYPERLINK(1)"},
    )
    assert response.status_code == 200
    assert "formula" in response.context["form"].errors["note"][0]
