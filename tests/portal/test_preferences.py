"""The patient's reminder choices: saved on their record, with the change in its history
naming the patient and why."""

import pytest
from django.urls import reverse

from tests.forms import keyed

pytestmark = pytest.mark.django_db

REMINDERS = reverse("portal:reminders")


def test_a_change_of_reminders_is_saved_with_history(patient_client, patient, patient_user):
    assert patient_client.get(REMINDERS).context["form"].initial == {
        "email_reminders": True,
        "reminder_leads": "7,1",
    }

    response = patient_client.post(REMINDERS, keyed({"reminder_leads": "14,7,1"}))  # box unticked

    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.email_reminders, patient.reminder_leads) == (False, "14,7,1")
    latest = patient.history.first()
    assert latest.history_user == patient_user
    assert latest.history_change_reason == (
        "Reminder preferences changed by the patient in the portal."
    )
    assert latest.prev_record.email_reminders is True


def test_an_unknown_choice_is_refused_and_nothing_changes(patient_client, patient):
    versions = patient.history.count()

    response = patient_client.post(
        REMINDERS, keyed({"email_reminders": "on", "reminder_leads": "2"})
    )

    assert response.status_code == 200 and response.context["form"].errors["reminder_leads"]
    patient.refresh_from_db()
    assert patient.reminder_leads == "7,1" and patient.history.count() == versions


def test_saving_the_same_choices_adds_no_history(patient_client, patient):
    versions = patient.history.count()

    patient_client.post(REMINDERS, keyed({"email_reminders": "on", "reminder_leads": "7,1"}))

    assert patient.history.count() == versions
