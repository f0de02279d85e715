"""The therapy screens: start and stop a therapy, plan and cancel a dose, the natalizumab
checklist and a dose recorded as given through its gate. Each refusal appears beside the field
it is about, another clinic's nurse gets 404, and only a clinician may override a gate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring.domain import gates, therapies
from patients.models import TherapyDose, TherapyEpisode
from patients.therapies.gates import dose_checklist_record, dose_record_given
from patients.therapies.services import dose_plan, episode_start
from tests.auth import sign_in
from tests.builders import nurse_of
from tests.factories import PatientFactory
from tests.forms import hidden_fields, keyed

from .conftest import on_natalizumab

pytestmark = pytest.mark.django_db

SAFE = {question.code: question.safe_answer for question in gates.CHECKLIST}


def page_post(client, url, data):
    """Post `data` as the page would: its one-time key and opened version as rendered."""
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, {**hidden_fields(page), **data})


def planned(patient) -> TherapyDose:
    return TherapyDose.objects.get(episode__patient=patient, status="planned")


def test_a_nurse_starts_natalizumab_with_infusion_one_planned(client_nurse_a, clinic_a):
    patient = PatientFactory(clinic=clinic_a)
    today = clinic_a.today()
    url = reverse("patients:therapy_start", args=[patient.pk])
    response = page_post(
        client_nurse_a,
        url,
        {
            "therapy": therapies.NATALIZUMAB,
            "started_on": today.isoformat(),
            "first_dose_on": (today + timedelta(days=3)).isoformat(),
        },
    )
    assert response.status_code == 302
    episode = TherapyEpisode.objects.get(patient=patient)
    assert episode.therapy == therapies.NATALIZUMAB and episode.protocol.is_default
    assert [(d.number, d.planned_on) for d in episode.doses.all()] == [
        (1, today + timedelta(days=3))
    ]


def test_alemtuzumab_is_not_offered_and_a_posted_one_is_refused_on_the_therapy(
    client_nurse_a, patient
):
    url = reverse("patients:therapy_start", args=[patient.pk])
    page = client_nurse_a.get(url)
    assert 'value="alemtuzumab"' not in page.content.decode()
    response = page_post(
        client_nurse_a,
        url,
        {"therapy": therapies.ALEMTUZUMAB, "started_on": patient.clinic.today().isoformat()},
    )
    assert response.status_code == 200 and "therapy" in response.context["form"].errors
    assert not TherapyEpisode.objects.filter(patient=patient).exists()


def test_a_protocol_of_another_therapy_is_refused_on_the_protocol(client_nurse_a, patient):
    from monitoring.models import MonitoringProtocol

    other = MonitoringProtocol.objects.default_for(therapies.FINGOLIMOD)
    response = page_post(
        client_nurse_a,
        reverse("patients:therapy_start", args=[patient.pk]),
        {
            "therapy": therapies.TERIFLUNOMIDE,
            "started_on": patient.clinic.today().isoformat(),
            "protocol": other.pk,
        },
    )
    assert "protocol" in response.context["form"].errors
    assert not TherapyEpisode.objects.filter(patient=patient).exists()


def test_siponimod_without_a_genotype_is_refused_on_the_override_then_started_with_a_reason(
    client_nurse_a, nurse_a, patient
):
    url = reverse("patients:therapy_start", args=[patient.pk])
    data = {"therapy": therapies.SIPONIMOD, "started_on": patient.clinic.today().isoformat()}
    page = client_nurse_a.get(url)
    assert 'name="gate_override_reason"' not in page.content.decode()  # shown once refused
    refused = client_nurse_a.post(url, {**hidden_fields(page), **data})
    errors = refused.context["form"].errors
    assert "CYP2C9" in errors["gate_override_reason"][0]
    assert 'name="gate_override_reason"' in refused.content.decode()
    assert not TherapyEpisode.objects.filter(patient=patient).exists()

    reason = "Genotype sent; the neurologist starts at the lower dose meanwhile."
    response = page_post(client_nurse_a, url, {**data, "gate_override_reason": reason})
    assert response.status_code == 302
    episode = TherapyEpisode.objects.get(patient=patient)
    assert (episode.start_override_reason, episode.start_override_by) == (reason, nurse_a)


def test_clinic_staff_cannot_override_a_start_gate(client_a, patient):
    response = page_post(
        client_a,
        reverse("patients:therapy_start", args=[patient.pk]),
        {
            "therapy": therapies.SIPONIMOD,
            "started_on": patient.clinic.today().isoformat(),
            "gate_override_reason": "The neurologist said so.",
        },
    )
    assert (
        "Only a nurse or the clinic lead"
        in response.context["form"].errors["gate_override_reason"][0]
    )
    assert not TherapyEpisode.objects.filter(patient=patient).exists()


def test_stopping_a_therapy_cancels_its_planned_infusion(client_nurse_a, natalizumab_patient):
    episode = natalizumab_patient.episodes.get()
    url = reverse("patients:therapy_stop", args=[episode.pk])
    today = natalizumab_patient.clinic.today()
    refused = page_post(
        client_nurse_a, url, {"stopped_on": today.isoformat(), "stop_reason": "other"}
    )
    assert "stop_note" in refused.context["form"].errors
    episode.refresh_from_db()
    assert episode.stopped_on is None

    response = page_post(
        client_nurse_a,
        url,
        {"stopped_on": today.isoformat(), "stop_reason": "pregnancy", "stop_note": "Planning."},
    )
    assert response.status_code == 302
    episode.refresh_from_db()
    assert (episode.stopped_on, episode.stop_reason) == (today, "pregnancy")
    assert set(episode.doses.values_list("status", flat=True)) == {"cancelled"}


def test_planning_and_cancelling_a_dose(client_nurse_a, natalizumab_patient):
    episode = natalizumab_patient.episodes.get()
    today = natalizumab_patient.clinic.today()
    early = page_post(
        client_nurse_a,
        reverse("patients:dose_plan", args=[episode.pk]),
        {"planned_on": (today - timedelta(days=30)).isoformat()},
    )
    assert "planned_on" in early.context["form"].errors
    response = page_post(
        client_nurse_a,
        reverse("patients:dose_plan", args=[episode.pk]),
        {"planned_on": (today + timedelta(days=28)).isoformat()},
    )
    assert response.status_code == 302
    second = episode.doses.get(number=2)

    url = reverse("patients:dose_cancel", args=[second.pk])
    blank = page_post(client_nurse_a, url, {"cancelled_reason": "   "})
    assert "cancelled_reason" in blank.context["form"].errors
    page_post(client_nurse_a, url, {"cancelled_reason": "Moved to another hospital."})
    second.refresh_from_db()
    assert (second.status, second.cancelled_reason) == ("cancelled", "Moved to another hospital.")


def test_the_checklist_is_saved_and_leads_to_recording_the_infusion(
    client_nurse_a, nurse_a, natalizumab_patient
):
    dose = planned(natalizumab_patient)
    url = reverse("patients:dose_checklist", args=[dose.pk])
    missing = page_post(client_nurse_a, url, {k: v for k, v in SAFE.items() if k != "infection"})
    assert missing.context["form"].errors["infection"] == ["Answer yes or no."]
    dose.refresh_from_db()
    assert dose.checklist_answers == {}

    response = page_post(client_nurse_a, url, SAFE)
    assert response["Location"] == reverse("patients:dose_given", args=[dose.pk])
    dose.refresh_from_db()
    assert dose.checklist_answers == SAFE and dose.checklist_answered_by == nurse_a


def test_an_infusion_without_its_checklist_is_refused_on_the_override(
    client_nurse_a, natalizumab_patient
):
    dose = planned(natalizumab_patient)
    url = reverse("patients:dose_given", args=[dose.pk])
    page = client_nurse_a.get(url)
    assert "Pre-infusion checklist not yet answered." in page.content.decode()
    response = client_nurse_a.post(
        url, {**hidden_fields(page), "given_on": natalizumab_patient.clinic.today().isoformat()}
    )
    assert "not yet answered" in response.context["form"].errors["gate_override_reason"][0]
    dose.refresh_from_db()
    assert dose.status == "planned"


def test_an_infusion_given_after_its_checklist_plans_the_next_28_days_later(
    client_nurse_a, nurse_a, natalizumab_patient
):
    dose = planned(natalizumab_patient)
    dose = dose_checklist_record(dose=dose, answers=SAFE, answered_by=nurse_a)
    today = natalizumab_patient.clinic.today()
    response = page_post(
        client_nurse_a,
        reverse("patients:dose_given", args=[dose.pk]),
        {"given_on": today.isoformat()},
    )
    assert response.status_code == 302
    dose.refresh_from_db()
    assert (dose.status, dose.given_on, dose.given_recorded_by) == ("given", today, nurse_a)
    following = planned(natalizumab_patient)
    assert (following.number, following.planned_on) == (2, today + timedelta(days=28))


def test_clinic_staff_cannot_give_an_infusion_past_its_gate(client_a, natalizumab_patient):
    dose = planned(natalizumab_patient)
    response = page_post(
        client_a,
        reverse("patients:dose_given", args=[dose.pk]),
        {
            "given_on": natalizumab_patient.clinic.today().isoformat(),
            "gate_override_reason": "The patient is fine.",
        },
    )
    errors = response.context["form"].errors["gate_override_reason"]
    assert "Only a nurse or the clinic lead" in errors[0]
    dose.refresh_from_db()
    assert dose.status == "planned" and dose.gate_override_reason == ""


def test_a_nurse_may_give_an_infusion_past_its_gate_with_a_reason(
    client_nurse_a, nurse_a, natalizumab_patient
):
    dose = planned(natalizumab_patient)
    reason = "Checklist asked by phone; the prescriber agreed."
    page_post(
        client_nurse_a,
        reverse("patients:dose_given", args=[dose.pk]),
        {
            "given_on": natalizumab_patient.clinic.today().isoformat(),
            "gate_override_reason": reason,
        },
    )
    dose.refresh_from_db()
    assert (dose.status, dose.gate_override_reason, dose.gate_override_by) == (
        "given",
        reason,
        nurse_a,
    )


def test_the_same_infusion_posted_twice_is_stored_once(
    client_nurse_a, nurse_a, natalizumab_patient
):
    dose = dose_checklist_record(
        dose=planned(natalizumab_patient), answers=SAFE, answered_by=nurse_a
    )
    url = reverse("patients:dose_given", args=[dose.pk])
    page = client_nurse_a.get(url)
    data = {**hidden_fields(page), "given_on": natalizumab_patient.clinic.today().isoformat()}
    first, second = client_nurse_a.post(url, data), client_nurse_a.post(url, data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert TherapyDose.objects.filter(episode__patient=natalizumab_patient).count() == 2


def test_another_clinics_nurse_gets_404_on_every_screen(clinic_a, clinic_b, nurse_a):
    patient = on_natalizumab(clinic_a, by=nurse_a)
    episode, dose = patient.episodes.get(), planned(patient)
    other = Client()
    sign_in(other, nurse_of(clinic_b, "nurse_b"))
    urls = [
        reverse("patients:therapy_start", args=[patient.pk]),
        reverse("patients:therapy_stop", args=[episode.pk]),
        reverse("patients:dose_plan", args=[episode.pk]),
        *(
            reverse(name, args=[dose.pk])
            for name in ("patients:dose_cancel", "patients:dose_checklist", "patients:dose_given")
        ),
    ]
    for url in urls:
        assert other.get(url).status_code == 404, url
        assert other.post(url, keyed({"given_on": "2026-01-01"})).status_code == 404, url
    dose.refresh_from_db()
    assert dose.status == "planned"


def test_the_patient_page_lists_the_therapies_with_the_planned_infusions_gate(
    client_nurse_a, natalizumab_patient
):
    dose = planned(natalizumab_patient)
    page = client_nurse_a.get(reverse("patients:detail", args=[natalizumab_patient.pk]))
    content = page.content.decode()
    assert "Natalizumab (Tysabri)" in content
    assert "Pre-infusion checklist not yet answered." in content
    assert reverse("patients:dose_checklist", args=[dose.pk]) in content
    assert reverse("patients:dose_given", args=[dose.pk]) in content


def test_the_patient_page_reads_the_doses_in_the_same_queries_for_one_or_many(
    client_nurse_a, nurse_a, clinic_a, settings
):
    settings.PAGE_PARTS_SECONDS = 0  # the page drawn each time: its reads are what is counted
    patient = PatientFactory(clinic=clinic_a)
    today = clinic_a.today()
    episode_start(
        patient=patient, therapy=therapies.CLADRIBINE, started_on=today, recorded_by=nurse_a
    )
    natalizumab = episode_start(
        patient=patient, therapy=therapies.NATALIZUMAB, started_on=today, recorded_by=nurse_a
    )
    url = reverse("patients:detail", args=[patient.pk])

    def queries():
        client_nurse_a.get(url)  # the session's expiry saved first, if it is due
        with CaptureQueriesContext(connection) as captured:
            response = client_nurse_a.get(url)
        return [q["sql"] for q in captured if 'UPDATE "django_session"' not in q["sql"]], response

    few, _ = queries()
    for weeks in range(1, 7):
        dose_plan(episode=natalizumab, planned_on=today + timedelta(weeks=4 * weeks))
    many, response = queries()
    # The episodes (with protocols), their doses, and the latest lymphocytes for cladribine's
    # gate: three, however many doses.
    assert len(few) == len(many)
    rows = {row.therapy: row for row in response.context["therapies"]}
    assert len(rows[therapies.NATALIZUMAB].doses) == 7
    assert rows[therapies.CLADRIBINE].doses[0].gate.met  # year 1 needs no count


def test_an_alemtuzumab_patients_therapy_points_to_its_courses(client_nurse_a, treated):
    # Read from the courses the page has already: tests/test_staff_screens.py's count of the
    # page's queries is unchanged for a patient on alemtuzumab alone.
    page = client_nurse_a.get(reverse("patients:detail", args=[treated.pk]))
    [row] = page.context["therapies"]
    assert row.courses and row.therapy == therapies.ALEMTUZUMAB
    assert "Its infusion courses are listed under" in page.content.decode()


def test_years_of_infusions_fold_all_but_the_last_three_given(client_nurse_a, nurse_a, clinic_a):
    # Five years of natalizumab is some sixty infusions: the page shows the last three given
    # and the planned one, and folds the rest under one line.
    patient = on_natalizumab(clinic_a, by=nurse_a, days_ago=200)
    start = clinic_a.today() - timedelta(days=200)
    for number in range(1, 7):
        dose = planned(patient)
        dose_checklist_record(dose=dose, answers=SAFE, answered_by=nurse_a)
        dose.refresh_from_db()
        dose_record_given(
            dose=dose, given_on=start + timedelta(days=28 * (number - 1)), recorded_by=nurse_a
        )
    page = client_nurse_a.get(reverse("patients:detail", args=[patient.pk]))
    (row,) = page.context["therapies"]
    assert [item.dose.number for item in row.earlier] == [1, 2, 3]
    assert [item.dose.number for item in row.doses] == [4, 5, 6, 7]
    assert row.doses[-1].dose.status == TherapyDose.Status.PLANNED
    assert "3 earlier infusions" in page.content.decode()


def test_a_patient_on_another_therapy_only_is_not_shown_an_alemtuzumab_follow_up(
    client_nurse_a, natalizumab_patient
):
    header = client_nurse_a.get(reverse("patients:detail", args=[natalizumab_patient.pk]))
    text = header.content.decode()
    assert "no alemtuzumab follow-up: see Therapies" in text
    assert "end of follow-up not planned yet" not in text
