"""Personas for the portal tests: a patient of clinic A with a portal account, and a nurse of
clinic A in its nurse group."""

import pytest

from accounts.roles import Role, grant_role
from tests.auth import sign_in
from tests.factories import UserFactory


@pytest.fixture
def patient_user(patient):
    """`patient` (clinic A) with a portal account, as accepting an invitation leaves it."""
    user = UserFactory(username="ada@example.org", email="ada@example.org")
    grant_role(user, Role.PATIENT)
    patient.user = user
    patient.email = user.email
    patient.save(update_fields=["user", "email"])
    return user


@pytest.fixture
def patient_client(client, patient_user):
    return sign_in(client, patient_user, second_factor=False)
