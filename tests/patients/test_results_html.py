"""The patient page's results, drawn by Jinja2 (patients.views.results_html): every value
escaped once, line breaks kept, and each result's actions as the user may take them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from monitoring.models import LabReport
from tests.auth import sign_in, staff_of
from tests.builders import acknowledge, nurse_of, platelets, treated_patient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def page(client, patient) -> str:
    return client.get(reverse("patients:detail", args=[patient.pk])).content.decode()


@pytest.fixture
def flagged(clinic_a):
    nurse = nurse_of(clinic_a, "nurse_results", first_name="Siân", last_name="O'Brien")
    patient = treated_patient(clinic_a, days_ago=40)
    result = platelets(patient, 45, entered_by=nurse, days_ago=1)
    return nurse, patient, result


def test_notes_and_names_are_escaped_once_and_keep_their_lines(client, flagged):
    nurse, patient, result = flagged
    LabReport.objects.filter(pk=result.report_id).update(notes="Haemolysed <b>twice</b>\nRepeat")
    acknowledge(result, nurse, note="Called & booked <Friday>")
    sign_in(client, nurse)
    shown = page(client, patient)
    assert "Haemolysed &lt;b&gt;twice&lt;/b&gt;<br>Repeat" in shown
    assert "Called &amp; booked &lt;Friday&gt;" in shown
    assert "by Siân O&#39;Brien," in shown
    assert "<b>twice" not in shown and "&amp;lt;" not in shown


def test_a_result_awaiting_a_nurse_offers_her_the_acknowledgement(client, flagged):
    nurse, patient, result = flagged
    sign_in(client, nurse)
    back = f"/patients/{patient.pk}/"
    acknowledge_url = reverse("monitoring:result_acknowledge", args=[result.pk])
    shown = page(client, patient)
    assert f'href="{acknowledge_url}?next={back}">Acknowledge' in shown
    for name in ("result_history", "result_correct", "result_error"):
        assert f'href="{reverse(f"monitoring:{name}", args=[result.pk])}"' in shown
    report_error = reverse("monitoring:report_error", args=[result.report_id])
    assert f'href="{report_error}">Report entered in error' in shown


def test_staff_who_may_not_acknowledge_see_it_awaits_a_nurse(client, flagged, clinic_a):
    _, patient, _ = flagged
    sign_in(client, staff_of(clinic_a, UserFactory(username="desk")))
    shown = page(client, patient)
    assert "awaiting a nurse" in shown and ">Acknowledge<" not in shown
