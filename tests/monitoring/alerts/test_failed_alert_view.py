"""The screen for an alert that could not be delivered, through the test client: what it shows,
the note it needs, saving once, and who may use it."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Notification
from monitoring.outbox.store import notification_row
from tests.auth import sign_in
from tests.builders import nurse_of, platelets
from tests.forms import hidden_fields, keyed

pytestmark = pytest.mark.django_db

Status = Notification.Status
Step = Notification.FallbackStep


@pytest.fixture
def failed(patient, nurse_a, clinician, clinic_a):
    """A critical platelet count whose alert could not reach the named nurse (no address) and
    went to the group, where it was refused too."""
    named = nurse_of(clinic_a, "named", on_staff=False, first_name="Nell", last_name="Named")
    patient.named_nurse = named
    patient.save()
    result = platelets(patient, 23, entered_by=clinician, days_ago=1)
    first = Notification.objects.get(result=result, recipient_user=named)
    first.status, first.last_error = Status.FAILED, "The recipient has no email address."
    first.save()
    again = notification_row(
        kind=first.kind,
        delivery=first.delivery,
        patient_id=patient.pk,
        user_id=nurse_a.pk,
        result_id=result.pk,
        tier=first.tier,
        now=timezone.now(),
    )
    again.fallback_for, again.fallback_step = first, Step.NURSE_GROUP
    again.status, again.last_error = Status.FAILED, "The mail server refused the address (550)."
    again.save()
    return first, again


@pytest.fixture
def client_nurse_a(client, nurse_a):
    return sign_in(client, nurse_a)


def url_of(row):
    return reverse("monitoring:alert_handle", args=[row.pk])


def test_the_page_shows_whom_it_failed_to_reach_why_and_where_it_went_instead(
    client_nurse_a, failed
):
    first, _ = failed

    response = client_nurse_a.get(url_of(first))

    assert response.status_code == 200
    page = " ".join(response.content.decode().split())
    assert "Not delivered to</strong> Nell Named: The recipient has no email address." in page
    assert "Sent instead to the nurse group:" in page
    assert "Nora Nurse: failed (The mail server refused the address (550).)" in page
    assert "CRITICAL Platelets" in page and first.patient.hospital_number in page
    assert "Marking it handled marks these too" in page


def test_an_empty_note_is_refused_beside_the_field(client_nurse_a, failed):
    first, _ = failed

    response = client_nurse_a.post(url_of(first), keyed({"note": "  "}))

    assert response.status_code == 200
    assert "Say what you did instead" in " ".join(response.context["form"].errors["note"])
    assert Notification.objects.failed_unhandled().count() == 2


def test_saving_marks_the_alert_handled_once_even_when_posted_twice(
    client_nurse_a, nurse_a, failed
):
    first, again = failed
    form = hidden_fields(client_nurse_a.get(url_of(first)))
    data = {**form, "note": "Phoned the patient, FBC repeat tomorrow.", "next": "/patients/"}

    response = client_nurse_a.post(url_of(first), data)
    entries = LogEntry.objects.count()
    repeat = client_nurse_a.post(url_of(first), data)

    assert response.status_code == 302 and response["Location"] == "/patients/"
    assert repeat.status_code == 302 and repeat["Location"] == "/patients/"
    assert LogEntry.objects.count() == entries
    assert not Notification.objects.failed_unhandled().exists()
    again.refresh_from_db()
    assert (again.handled_by, again.handled_note) == (
        nurse_a,
        "Phoned the patient, FBC repeat tomorrow.",
    )
    shown = client_nurse_a.get(url_of(first)).content.decode()
    assert "Marked handled by Nora Nurse" in shown and "<textarea" not in shown


def test_an_unsafe_next_address_goes_to_the_worklist(client_nurse_a, failed):
    response = client_nurse_a.post(
        url_of(failed[0]), keyed({"note": "Told the lead.", "next": "https://evil.example/"})
    )
    assert response["Location"] == reverse("monitoring:worklist")


def test_another_clinics_alert_is_not_found(client, clinic_b, failed):
    sign_in(client, nurse_of(clinic_b, "nurse_b"))
    assert client.get(url_of(failed[0])).status_code == 404
    assert client.post(url_of(failed[0]), keyed({"note": "x"})).status_code == 404


def test_staff_without_the_acknowledge_permission_are_refused(client_a, failed):
    assert client_a.get(url_of(failed[0])).status_code == 403
    assert client_a.post(url_of(failed[0]), keyed({"note": "x"})).status_code == 403
    assert Notification.objects.failed_unhandled().count() == 2
