"""Personas for the audit trail: clinic A's lead, nurse and staff, and clinic B's lead."""

import pytest

from tests.auth import sign_in
from tests.builders import lead_of


@pytest.fixture
def lead_a(clinic_a):
    return lead_of(clinic_a, "lead_a", first_name="Lea", last_name="Lead")


@pytest.fixture
def lead_b(clinic_b):
    return lead_of(clinic_b, "lead_b")


@pytest.fixture
def client_lead_a(client, lead_a):
    return sign_in(client, lead_a)
