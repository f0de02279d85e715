"""The worklist's doses due in the next week: who, which dose, when, its gate and the next
step's link, for the nurse's clinics and filters, in the same queries for one dose or many."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring.domain import gates, therapies
from patients.models import TherapyDose
from patients.therapies.gates import dose_checklist_record, dose_record_given
from patients.therapies.services import episode_start
from tests.factories import PatientFactory

from .conftest import on_natalizumab

pytestmark = pytest.mark.django_db

WORKLIST = reverse("monitoring:worklist")
SAFE = {question.code: question.safe_answer for question in gates.CHECKLIST}


def due_doses(response):
    return response.context["worklist"].doses.doses


def test_an_infusion_this_week_is_listed_with_its_checklist_to_answer(
    client_nurse_a, clinic_a, nurse_a
):
    patient = on_natalizumab(clinic_a, by=nurse_a, given_name="Nina", family_name="Tysa")
    dose = TherapyDose.objects.get(episode__patient=patient)
    response = client_nurse_a.get(WORKLIST)
    [due] = due_doses(response)
    assert (due.dose, due.gate.met, due.needs_checklist) == (dose, False, True)
    content = response.content.decode()
    assert "Doses due in the next 7 days" in content
    assert "Pre-infusion checklist not yet answered." in content
    assert reverse("patients:dose_checklist", args=[dose.pk]) in content

    dose_checklist_record(dose=dose, answers=SAFE, answered_by=nurse_a)
    [due] = due_doses(client_nurse_a.get(WORKLIST))
    assert due.gate.met and due.action_url == reverse("patients:dose_given", args=[dose.pk])


def test_a_dose_beyond_the_week_another_clinics_and_a_given_one_are_not_listed(
    client_nurse_a, clinic_a, clinic_b, nurse_a
):
    later = PatientFactory(clinic=clinic_a)
    episode_start(
        patient=later,
        therapy=therapies.NATALIZUMAB,
        started_on=clinic_a.today(),
        first_dose_on=clinic_a.today() + timedelta(days=8),
        recorded_by=nurse_a,
    )
    on_natalizumab(clinic_b, by=nurse_a)
    given = on_natalizumab(clinic_a, by=nurse_a, days_ago=2)
    dose = dose_checklist_record(
        dose=TherapyDose.objects.get(episode__patient=given), answers=SAFE, answered_by=nurse_a
    )
    dose_record_given(dose=dose, given_on=clinic_a.today(), recorded_by=nurse_a)
    # The next infusion of `given` is 28 days on: beyond the week too.
    assert due_doses(client_nurse_a.get(WORKLIST)) == []
    assert "Doses due in the next 7 days" not in client_nurse_a.get(WORKLIST).content.decode()


def test_the_search_filter_narrows_the_doses_too(client_nurse_a, clinic_a, nurse_a):
    on_natalizumab(clinic_a, by=nurse_a, given_name="Nina", family_name="Tysa")
    on_natalizumab(clinic_a, by=nurse_a, given_name="Olga", family_name="Ocra")
    doses = due_doses(client_nurse_a.get(WORKLIST, {"q": "Ocra"}))
    assert [due.patient.family_name for due in doses] == ["Ocra"]


def test_one_dose_or_many_take_the_same_queries(client_nurse_a, clinic_a, nurse_a, settings):
    settings.WORKLIST_ROWS_SECONDS = 0  # the rows as read each time, not as kept

    def add(count):
        for _ in range(count):
            on_natalizumab(clinic_a, by=nurse_a)
            patient = PatientFactory(clinic=clinic_a)
            episode_start(
                patient=patient,
                therapy=therapies.CLADRIBINE,
                started_on=clinic_a.today(),
                recorded_by=nurse_a,
            )

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = client_nurse_a.get(WORKLIST)
        # The session's expiry is saved at most once a minute: the clock's, not the data's.
        kept = [q["sql"] for q in captured if 'UPDATE "django_session"' not in q["sql"]]
        return [sql for sql in kept if "SAVEPOINT" not in sql], response

    add(1)
    client_nurse_a.get(WORKLIST)
    few, _ = queries()
    add(6)
    many, response = queries()
    # The doses (with episode and patient) and, for cladribine, the latest lymphocytes.
    assert len(few) == len(many)
    assert len(due_doses(response)) == 14
