from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from monitoring.domain import therapies
from patients.therapies.services import episode_start
from tests.auth import sign_in
from tests.factories import PatientFactory


@pytest.fixture
def client_nurse_a(nurse_a):
    return sign_in(Client(), nurse_a)


def on_natalizumab(clinic, *, by, days_ago: int = 0, **fields):
    """A patient of `clinic` who started natalizumab `days_ago` days ago, infusion 1 planned
    for the start."""
    patient = PatientFactory(clinic=clinic, **fields)
    episode_start(
        patient=patient,
        therapy=therapies.NATALIZUMAB,
        started_on=clinic.today() - timedelta(days=days_ago),
        recorded_by=by,
    )
    return patient


@pytest.fixture
def natalizumab_patient(clinic_a, nurse_a):
    return on_natalizumab(clinic_a, by=nurse_a, given_name="Nina", family_name="Tysa")
