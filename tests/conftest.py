import pytest

from tests.factories import ClinicFactory, PatientFactory, UserFactory


@pytest.fixture
def clinic_a(db):
    return ClinicFactory(code="clinic-a", name="Clinic A")


@pytest.fixture
def clinician(db):
    return UserFactory(username="dr_a")


@pytest.fixture
def patient(clinic_a):
    return PatientFactory(clinic=clinic_a, given_name="Ada", family_name="Patient")
