from datetime import date

import pytest

from accounts.roles import Role
from tests.auth import sign_in, staff_of
from tests.builders import with_course_one
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


@pytest.fixture
def treated(patient):
    """`patient` with course 1 (planned) from 15 January 2024, so that the tests that record
    results in 2024 and 2025 find its checks there to complete."""
    return with_course_one(patient, on=date(2024, 1, 15))


@pytest.fixture
def staff_a(clinic_a):
    """Clinic staff of clinic A, signed in by the tests that use `client_a`."""
    return staff_of(clinic_a, UserFactory(username="staff_a"), Role.CLINIC_STAFF)


@pytest.fixture
def nurse_a(clinic_a):
    """A nurse of clinic A: on its staff and in its nurse group."""
    user = staff_of(
        clinic_a, UserFactory(username="nurse_a", first_name="Nora", last_name="Nurse"), Role.NURSE
    )
    clinic_a.nurses.add(user)
    return user


@pytest.fixture
def client_a(client, staff_a):
    return sign_in(client, staff_a)


@pytest.fixture
def clinic_b(db):
    return ClinicFactory(code="clinic-b", name="Clinic B")


@pytest.fixture
def patient_b(clinic_b):
    return PatientFactory(clinic=clinic_b, given_name="Bea", family_name="Other")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """What one test keeps in the cache (the worklist's due section) never reaches the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
