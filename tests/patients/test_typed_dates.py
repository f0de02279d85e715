"""Dates typed into forms and CSV files: ISO always, the clinic's own order only where it cannot
be misread; "03/02/2024" is refused everywhere with the two ISO dates it could mean."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from monitoring.domain.input_rules import DateOrder, typed_date
from monitoring.models import ResultImport
from monitoring.results.csv_import import import_apply, import_read, import_stage
from patients.models import Patient
from tests.auth import sign_in, staff_of
from tests.factories import PatientFactory, UserFactory
from tests.forms import keyed


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2024-02-03", DateOrder.DAY_FIRST, date(2024, 2, 3)),
        ("2024-02-03", DateOrder.MONTH_FIRST, date(2024, 2, 3)),
        ("2024-02-03", DateOrder.ISO_ONLY, date(2024, 2, 3)),
        ("13/02/2024", DateOrder.DAY_FIRST, date(2024, 2, 13)),
        ("02/13/2024", DateOrder.MONTH_FIRST, date(2024, 2, 13)),
        ("03/03/2024", DateOrder.DAY_FIRST, date(2024, 3, 3)),
        ("03.03.2024", DateOrder.MONTH_FIRST, date(2024, 3, 3)),
    ],
)
def test_iso_always_and_the_clinic_order_when_unambiguous(text, order, expected):
    assert typed_date(text, order) == (expected, "")


@pytest.mark.parametrize("order", [DateOrder.DAY_FIRST, DateOrder.MONTH_FIRST])
def test_an_ambiguous_date_is_refused_saying_how_to_write_it(order):
    day, problem = typed_date("03/02/2024", order)
    assert day is None
    assert problem == (
        "“03/02/2024” could be read two ways; write it as YYYY-MM-DD: "
        "2024-02-03 for 3 February or 2024-03-02 for 2 March."
    )


def test_an_iso_only_clinic_reads_no_slashes():
    assert typed_date("13/02/2024", DateOrder.ISO_ONLY) == (
        None,
        "“13/02/2024” is not a date; write it as YYYY-MM-DD.",
    )


def test_the_wrong_order_is_not_a_real_date():
    assert typed_date("02/13/2024", DateOrder.DAY_FIRST)[1] == "“02/13/2024” is not a real date."


def test_other_digits_are_refused():
    assert "digits 0-9" in typed_date("٢٠٢٤-٠٢-٠٣", DateOrder.DAY_FIRST)[1]


def _client_of(client, clinic, locale):
    clinic.date_locale = locale
    clinic.save()
    return sign_in(client, staff_of(clinic, UserFactory(username=f"staff_{locale}")))


def _patient_post(clinic, birth):
    return keyed(
        {
            "clinic": clinic.pk,
            "hospital_number": "T1",
            "given_name": "Tia",
            "family_name": "Typed",
            "date_of_birth": birth,
            "sex": "F",
        }
    )


@pytest.mark.django_db
@pytest.mark.parametrize("locale", ["en-gb", "en-us"])
def test_the_form_refuses_03_02_2024_in_either_order(client, clinic_a, locale):
    client = _client_of(client, clinic_a, locale)
    response = client.post(reverse("patients:create"), _patient_post(clinic_a, "03/02/2024"))
    assert response.status_code == 200
    (message,) = response.context["form"].errors["date_of_birth"]
    assert "2024-02-03 for 3 February or 2024-03-02 for 2 March" in message
    assert not Patient.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("locale", "typed", "expected"),
    [
        ("en-gb", "13/02/1980", date(1980, 2, 13)),
        ("en-us", "02/13/1980", date(1980, 2, 13)),
        ("en-iso", "1980-02-13", date(1980, 2, 13)),
        ("en-us", "1980-02-03", date(1980, 2, 3)),
    ],
)
def test_the_form_reads_the_clinic_order_where_unambiguous(
    client, clinic_a, locale, typed, expected
):
    client = _client_of(client, clinic_a, locale)
    response = client.post(reverse("patients:create"), _patient_post(clinic_a, typed))
    assert response.status_code == 302
    assert Patient.objects.get().date_of_birth == expected


@pytest.mark.django_db
def test_an_iso_clinic_refuses_slashes_on_the_form(client, clinic_a):
    client = _client_of(client, clinic_a, "en-iso")
    response = client.post(reverse("patients:create"), _patient_post(clinic_a, "13/02/1980"))
    assert "write it as YYYY-MM-DD" in response.context["form"].errors["date_of_birth"][0]


@pytest.mark.django_db
def test_the_result_form_refuses_an_ambiguous_sample_date(client, clinic_a):
    patient = PatientFactory(clinic=clinic_a)
    client = _client_of(client, clinic_a, "en-gb")
    response = client.post(
        reverse("monitoring:report_create", args=[patient.pk, "blood_count"]),
        {"sample_collected_on": "03/02/2024", "platelets": "245", "platelets_unit": "10^9/L"},
    )
    assert "could be read two ways" in response.context["form"].errors["sample_collected_on"][0]


# The CSV import

TODAY = date(2026, 11, 21)


def _csv(*dates: str) -> bytes:
    rows = [f"H100,{day},platelets,{200 + i},10^9/L" for i, day in enumerate(dates)]
    return ("hospital_number,sample_date,analyte,value,unit\n" + "\n".join(rows) + "\n").encode()


@pytest.fixture
def ada(clinic_a):
    return PatientFactory(clinic=clinic_a, hospital_number="H100", date_of_birth=date(1985, 6, 15))


@pytest.mark.django_db
def test_an_ambiguous_date_in_the_csv_is_a_row_error(ada):
    preview = import_read(clinic=ada.clinic, content=_csv("03/02/2024"), today=TODAY)
    assert [str(p) for p in preview.problems] == [
        "Row 2, sample_date: “03/02/2024” could be read two ways; write it as YYYY-MM-DD: "
        "2024-02-03 for 3 February or 2024-03-02 for 2 March."
    ]


@pytest.mark.django_db
def test_the_csv_follows_the_clinics_setting(ada):
    clinic = ada.clinic
    assert import_read(clinic=clinic, content=_csv("13/02/2024"), today=TODAY).rows[
        0
    ].sample_date == date(2024, 2, 13)
    clinic.csv_date_order = DateOrder.MONTH_FIRST
    clinic.save()
    preview = import_read(clinic=clinic, content=_csv("02/13/2024", "13/02/2024"), today=TODAY)
    assert preview.rows[0].sample_date == date(2024, 2, 13)
    assert [str(p) for p in preview.problems] == [
        "Row 3, sample_date: “13/02/2024” is not a real date."
    ]


@pytest.mark.django_db
def test_a_file_may_say_its_own_order_and_the_import_keeps_it(ada, staff_a):
    staged, preview = import_stage(
        clinic=ada.clinic,
        content=_csv("02/13/2024"),
        file_name="us.csv",
        uploaded_by=staff_a,
        today=TODAY,
        date_order=DateOrder.MONTH_FIRST,
    )
    assert preview.ok
    assert staged.date_order == DateOrder.MONTH_FIRST
    outcome = import_apply(result_import=staged, imported_by=staff_a, today=TODAY)
    assert outcome.results == 1
    assert ada.lab_results.get().sample_collected_on == date(2024, 2, 13)


@pytest.mark.django_db
def test_the_upload_form_offers_the_files_order(client_a, ada):
    upload = SimpleUploadedFile("us.csv", _csv("02/13/2024"), content_type="text/csv")
    response = client_a.post(
        reverse("monitoring:import_upload"),
        {"clinic": ada.clinic.pk, "file": upload, "date_order": "mdy"},
    )
    assert response.status_code == 302
    staged = ResultImport.objects.get()
    assert staged.date_order == "mdy"
    preview = client_a.get(response["Location"]).context["preview"]
    assert preview.ok
    assert preview.rows[0].sample_date == date(2024, 2, 13)
