from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError

from patients.models import Clinic, Patient
from patients.services import patient_create

pytestmark = pytest.mark.django_db


def test_clinic_today_is_its_local_date_not_utc():
    berlin = Clinic(name="Berlin", code="berlin", time_zone="Europe/Berlin")
    auckland = Clinic(name="Auckland", code="akl", time_zone="Pacific/Auckland")
    late_evening_utc = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # the night clocks change
    assert berlin.today(late_evening_utc) == date(2026, 3, 29)
    assert auckland.today(datetime(2026, 4, 4, 12, 30, tzinfo=UTC)) == date(2026, 4, 5)


def test_an_unknown_time_zone_is_refused_by_name():
    clinic = Clinic(name="Nowhere", code="nowhere", time_zone="Mars/Olympus")
    with pytest.raises(ValidationError) as refusal:
        clinic.full_clean()
    assert "“Mars/Olympus” is not a known time zone" in refusal.value.message_dict["time_zone"][0]


def test_new_patients_follow_the_default_protocol(clinic_a):
    patient = patient_create(
        clinic=clinic_a,
        hospital_number=" H1 ",
        given_name="Ada",
        family_name="Lovelace",
        date_of_birth=date(1990, 1, 1),
        sex=Patient.Sex.FEMALE,
    )
    assert patient.protocol.slug == "default-60m"
    assert patient.hospital_number == "H1"


def test_a_hospital_number_is_unique_within_a_clinic(clinic_a, patient):
    with pytest.raises(ValidationError) as refusal:
        patient_create(
            clinic=clinic_a,
            hospital_number=patient.hospital_number,
            given_name="B",
            family_name="C",
            date_of_birth=date(1990, 1, 1),
            sex=Patient.Sex.MALE,
        )
    assert "already the hospital number of" in refusal.value.message_dict["hospital_number"][0]


def test_a_date_of_birth_in_the_future_is_refused(clinic_a):
    with pytest.raises(ValidationError) as refusal:
        patient_create(
            clinic=clinic_a,
            hospital_number="H2",
            given_name="B",
            family_name="C",
            date_of_birth=date(2999, 1, 1),
            sex=Patient.Sex.MALE,
        )
    assert refusal.value.message_dict["date_of_birth"] == ["The date of birth is in the future."]
