"""Dates in the clinic's format (Clinic.date_locale): chosen at sign-in, kept in the session, and
used on staff screens, in the patient portal and in what is sent for one clinic."""

from datetime import UTC, date, datetime

import pytest
from django.urls import reverse
from django.utils import translation

from monitoring.models import Notification
from monitoring.outbox.delivery import batch_deliver, due_batches
from portal.invitations import invitation_send
from tests.auth import sign_in
from tests.builders import lead_of, nurse_of, platelets, treated_patient
from tests.factories import ClinicFactory, UserFactory

pytestmark = pytest.mark.django_db

# What 21 November 2025 looks like in each format.
WRITTEN = {"en-gb": "21 Nov 2025", "en-us": "Nov. 21, 2025", "en-iso": "2025-11-21"}
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def clinic_writing(locale: str):
    return ClinicFactory(code=f"clinic-{locale}", name=f"Clinic {locale}", date_locale=locale)


def november_patient(clinic, entered_by):
    """Born, treated and tested on a 21 November, with a critical platelet count unacknowledged
    (so it is on the worklist)."""
    patient = treated_patient(
        clinic,
        on=date(2025, 11, 21),
        given=True,
        date_of_birth=date(1985, 11, 21),
        email="ada@example.org",
    )
    platelets(patient, "23", entered_by=entered_by, sample=date(2025, 11, 21))
    return patient


def nurse_in(clinic):
    return nurse_of(clinic, f"nurse-{clinic.code}", email="n@example.org")


@pytest.mark.parametrize("locale", ["en-us", "en-gb", "en-iso"])
def test_staff_see_the_clinics_date_format_on_the_patient_page_and_worklist(client, locale):
    clinic = clinic_writing(locale)
    nurse = nurse_in(clinic)
    patient = november_patient(clinic, nurse)
    sign_in(client, nurse)

    page = client.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    born = {"en-gb": "21 Nov 1985", "en-us": "Nov. 21, 1985", "en-iso": "1985-11-21"}[locale]
    assert f"born {born}" in page
    assert f"sample {WRITTEN[locale]}" in page

    worklist = client.get(reverse("monitoring:worklist")).content.decode()
    assert f"sample {WRITTEN[locale]}" in worklist
    others = [written for other, written in WRITTEN.items() if other != locale]
    assert not any(written in page + worklist for written in others)


@pytest.mark.parametrize("locale", ["en-us", "en-gb"])
def test_the_patient_sees_their_clinics_date_format_in_the_portal(client, locale):
    clinic = clinic_writing(locale)
    patient = november_patient(clinic, nurse_in(clinic))
    patient.user = UserFactory(username="ada")
    patient.save(update_fields=["user"])
    sign_in(client, patient.user, second_factor=False)

    schedule = client.get(reverse("portal:schedule")).content.decode()
    assert f"Course 1: {WRITTEN[locale]} to " in schedule


def test_a_uk_clinic_writes_times_on_the_24_hour_clock(client):
    clinic = clinic_writing("en-gb")
    nurse = nurse_in(clinic)
    november_patient(clinic, nurse)
    sign_in(client, nurse)
    worklist = client.get(reverse("monitoring:worklist")).content.decode()
    assert "p.m." not in worklist and "a.m." not in worklist


def test_the_format_is_kept_in_the_session_and_follows_a_change_of_the_clinic(client):
    clinic = clinic_writing("en-us")
    nurse = nurse_in(clinic)
    patient = november_patient(clinic, nurse)
    sign_in(client, nurse)
    page = client.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert "born Nov. 21, 1985" in page

    # Saving the clinic makes every session read its access afresh (patients.access_snapshot),
    # so the nurse need not sign in again.
    clinic.date_locale = "en-gb"
    clinic.save(update_fields=["date_locale"])
    page = client.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert "born 21 Nov 1985" in page


def test_a_request_does_not_leave_its_clinics_format_active(client):
    clinic = clinic_writing("en-us")
    nurse = nurse_in(clinic)
    sign_in(client, nurse)
    client.get(reverse("monitoring:worklist"))
    assert translation.get_language() == "en-gb"


def test_the_sign_in_page_uses_the_default_format_and_says_its_language(client):
    page = client.get(reverse("login")).content.decode()
    assert '<html lang="en-gb">' in page


def test_a_us_clinics_nurse_is_e_mailed_dates_in_its_format(mailoutbox):
    clinic = clinic_writing("en-us")
    nurse = nurse_in(clinic)
    patient = november_patient(clinic, nurse)
    Notification.objects.filter(patient=patient).update(not_before=NOW, created_at=NOW)
    for batch in due_batches(now=NOW):
        batch_deliver(batch=batch, now=NOW)
    (email,) = [m for m in mailoutbox if m.to == [nurse.email]]
    assert "sample of Nov. 21, 2025" in email.body


def test_the_invitation_e_mail_gives_its_expiry_in_the_patients_clinics_format(mailoutbox):
    clinic = clinic_writing("en-us")
    patient = november_patient(clinic, nurse_in(clinic))
    lead = lead_of(clinic, "lead")
    # The sender's own session may be in another format: the e-mail is the patient's clinic's.
    with translation.override("en-iso"):
        invitation_send(patient=patient, invited_by=lead, now=NOW)
    (email,) = mailoutbox
    # Seven days later, on the clinic's (London) clock.
    assert "until Nov. 28, 2026, 10 a.m." in email.body
