"""The patient list keeps its count a minute (settings.LIST_COUNT_SECONDS); its rows are read
fresh, so a patient added meanwhile is listed at once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.auth import sign_in
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

PATIENT_LIST = reverse("patients:list")


def patient_counts(client, **query) -> tuple[list, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(PATIENT_LIST, query)
    counts = [q for q in captured if 'COUNT(*) AS "__count" FROM "patients_patient"' in q["sql"]]
    return response, len(counts)


def test_the_count_is_kept_and_a_new_patient_is_listed_at_once(client, nurse_a, clinic_a, settings):
    settings.LIST_COUNT_SECONDS = 60
    sign_in(client, nurse_a)
    response, counted = patient_counts(client)
    assert counted == 1 and "No patients yet." in response.content.decode()

    added = PatientFactory(clinic=clinic_a, family_name="Newcomer")
    response, counted = patient_counts(client)

    assert counted == 0
    assert [patient.pk for patient in response.context["page"]] == [added.pk]


def test_each_search_has_its_own_count(client, nurse_a, clinic_a, settings):
    settings.LIST_COUNT_SECONDS = 60
    PatientFactory(clinic=clinic_a, family_name="Abbott")
    PatientFactory(clinic=clinic_a, family_name="Brown")
    sign_in(client, nurse_a)
    assert patient_counts(client)[0].context["page"].paginator.count == 2

    response, counted = patient_counts(client, q="Brown")

    assert counted == 1 and response.context["page"].paginator.count == 1
