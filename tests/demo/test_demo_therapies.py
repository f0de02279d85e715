"""The demo's clinic of other therapies: a patient on each therapy, started, dosed and
stopped through the services, loaded once per module (it takes several seconds) inside a
transaction rolled back at the end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.db import transaction

from demo import patients as demo_patients
from demo.patients import demo_populate
from demo.therapies import THERAPY_CLINIC_CODE, THERAPY_PATIENTS, demo_therapies_populate
from monitoring.domain import therapies
from monitoring.models import ScheduledCheck
from patients.models import Clinic, Patient, TherapyDose, TherapyEpisode
from patients.therapies.gates import dose_gate

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Loaded:
    clinic: Clinic
    today: date


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        # The demo's users and its alemtuzumab clinic, without its thirty patients.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(demo_patients, "PATIENTS", [])
            demo_populate()
        clinic, added = demo_therapies_populate()
        assert len(added) == len(THERAPY_PATIENTS)
        yield Loaded(clinic, clinic.today())
        transaction.set_rollback(True)


def _episode(family: str) -> TherapyEpisode:
    return TherapyEpisode.objects.exclude(therapy=therapies.ALEMTUZUMAB).get(
        patient__family_name=family, patient__clinic__code=THERAPY_CLINIC_CODE
    )


def test_every_therapy_has_a_patient_and_the_demo_staff_work_there(demo):
    running = set(
        TherapyEpisode.objects.filter(patient__clinic=demo.clinic).values_list("therapy", flat=True)
    )
    assert running == set(therapies.THERAPIES)  # alemtuzumab through its courses
    staff = set(demo.clinic.staff.values_list("username", flat=True))
    assert {"lead", "staff", "nurse", "nurse2"} <= staff
    assert demo.clinic.lead.username == "lead"
    others = Patient.objects.filter(clinic=demo.clinic).exclude(
        episodes__therapy=therapies.ALEMTUZUMAB
    )
    assert all(patient.other_therapies for patient in others)


def test_doses_are_given_for_the_therapies_given_in_the_clinic(demo):
    given = TherapyDose.objects.filter(
        episode__patient__clinic=demo.clinic, status=TherapyDose.Status.GIVEN
    )
    by_therapy = {t: given.filter(episode__therapy=t).count() for t in therapies.THERAPIES}
    assert by_therapy[therapies.NATALIZUMAB] >= 6
    assert by_therapy[therapies.OCRELIZUMAB] >= 3
    assert by_therapy[therapies.CLADRIBINE] == 1
    for dose in given.filter(episode__therapy=therapies.NATALIZUMAB):
        assert dose.checklist_answered_by is not None  # asked at the chair before each


def test_a_natalizumab_infusion_this_week_waits_for_its_checklist(demo):
    dose = _episode("Alvarez").doses.get(status=TherapyDose.Status.PLANNED)
    assert demo.today < dose.planned_on <= demo.today + timedelta(days=7)
    assert dose.checklist_answers == {}
    assert not dose_gate(dose).met


def test_cladribine_year_two_is_due_with_lymphocytes_below_the_gate(demo):
    dose = _episode("Yilmaz").doses.get(status=TherapyDose.Status.PLANNED)
    assert dose.number == 2
    assert dose.planned_on - demo.today <= timedelta(days=7)
    decision = dose_gate(dose)
    assert not decision.met
    assert "0.7" in decision.summary


def test_a_stopped_therapy_has_its_after_stopping_checks_and_no_future_doses(demo):
    episode = _episode("Lindgren")
    assert episode.stopped_on is not None and episode.stop_reason
    after = ScheduledCheck.objects.filter(episode=episode, kind="after_stop", cancelled_at=None)
    assert after.exists()
    assert not episode.doses.filter(status=TherapyDose.Status.PLANNED).exists()


def test_a_patient_in_alemtuzumab_follow_up_started_ocrelizumab(demo):
    episode = _episode("Weber")
    patient = episode.patient
    assert episode.therapy == therapies.OCRELIZUMAB
    assert patient.courses.filter(status="given").count() == 2
    last = patient.courses.order_by("number").last().last_infusion_date
    assert last < episode.started_on
    live = patient.scheduled_checks.filter(cancelled_at=None, due_date__gte=demo.today)
    assert live.filter(episode=None).exists() and live.filter(episode=episode).exists()


def test_a_second_load_changes_nothing(demo):
    counts = (Patient.objects.count(), TherapyDose.objects.count(), ScheduledCheck.objects.count())
    assert demo_therapies_populate()[1] == []
    assert counts == (
        Patient.objects.count(),
        TherapyDose.objects.count(),
        ScheduledCheck.objects.count(),
    )
