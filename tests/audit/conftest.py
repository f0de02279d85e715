"""Personas for the audit trail: clinic A's lead, nurse and staff, and clinic B's lead."""

import pytest

from accounts.roles import Role
from tests.auth import sign_in, staff_of
from tests.factories import UserFactory


@pytest.fixture
def lead_a(clinic_a):
    return staff_of(
        clinic_a,
        UserFactory(username="lead_a", first_name="Lea", last_name="Lead"),
        Role.CLINIC_LEAD,
    )


@pytest.fixture
def lead_b(clinic_b):
    return staff_of(clinic_b, UserFactory(username="lead_b"), Role.CLINIC_LEAD)


@pytest.fixture
def client_lead_a(client, lead_a):
    return sign_in(client, lead_a)
