"""The nurse worklist and the screens that act on it, through the test client: what is listed
and in which order, acknowledging, follow-up notes and waivers, scoping to the nurse's clinics,
and a query count that does not grow with the data."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Acknowledgement, Notification, ScheduledCheck
from patients.models import Patient
from tests.auth import sign_in
from tests.builders import nurse_of, platelets, treated_patient
from tests.forms import keyed

pytestmark = pytest.mark.django_db

WORKLIST = reverse("monitoring:worklist")


@pytest.fixture
def nurse_b(clinic_b):
    return nurse_of(clinic_b, "nurse_b")


@pytest.fixture
def client_nurse_a(client, nurse_a):
    return sign_in(client, nurse_a)


def hours_ago(hours: float):
    """When a result's flag was raised, for the tests of order and deadlines."""
    return timezone.now() - timedelta(hours=hours)


def overdue_of(patient):
    return list(
        ScheduledCheck.objects.open()
        .filter(patient=patient, overdue_after__lt=patient.clinic.today())
        .order_by("overdue_after", "pk")
    )


def failed_notification(result, user, error="550 mailbox unavailable"):
    """The alert about `result` to `user`, after every attempt to send it failed."""
    row = Notification.objects.get(result=result, recipient_user=user)
    row.status = Notification.Status.FAILED
    row.attempts = 6
    row.last_error = error
    row.save()
    return row


def listed(response, section):
    """The patient rows of a section (urgent, failed, overdue, due, amber)."""
    return response.context["worklist"].sections[section].rows


def checks_listed(response, section):
    return [check.pk for row in listed(response, section) for v in row.visits for check in v.checks]


def results_listed(response):
    return [
        result.pk
        for name in ("urgent", "failed", "overdue", "due", "amber")
        for row in listed(response, name)
        for result in row.results
    ]


def test_acknowledging_removes_the_result_and_records_who_when_what_and_why(
    client_nurse_a, nurse_a, patient
):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    url = reverse("monitoring:result_acknowledge", args=[result.pk])
    assert client_nurse_a.get(url).status_code == 200
    before = timezone.now()

    response = client_nurse_a.post(
        url,
        keyed(
            {"action": "called_patient", "note": "Admitted to day unit today.", "next": WORKLIST}
        ),
        follow=True,
    )

    assert response.redirect_chain == [(WORKLIST, 302)]
    assert "acknowledged" in response.content.decode()
    assert result.pk not in results_listed(response)
    ack = Acknowledgement.objects.get(result=result)
    assert (ack.acknowledged_by, ack.action, ack.note, ack.tier) == (
        nurse_a,
        "called_patient",
        "Admitted to day unit today.",
        "critical",
    )
    assert before <= ack.acknowledged_at <= timezone.now()


def test_acknowledging_without_a_note_is_refused_on_the_note_field(
    client_nurse_a, nurse_a, patient
):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    url = reverse("monitoring:result_acknowledge", args=[result.pk])

    response = client_nurse_a.post(url, keyed({"action": "called_patient", "note": "   "}))

    assert response.status_code == 200
    assert "Write a note" in " ".join(response.context["form"].errors["note"])
    assert 'id="id_note"' in response.content.decode()
    assert not Acknowledgement.objects.exists()


def test_a_second_acknowledgement_at_the_same_tier_is_refused_with_the_services_reason(
    client_nurse_a, nurse_a, patient
):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    url = reverse("monitoring:result_acknowledge", args=[result.pk])
    client_nurse_a.post(url, keyed({"action": "called_patient", "note": "Seen."}))

    again = client_nurse_a.post(url, keyed({"action": "called_patient", "note": "Seen twice."}))

    assert "already been acknowledged" in " ".join(again.context["form"].non_field_errors())
    assert Acknowledgement.objects.count() == 1


def test_only_a_local_next_address_is_followed(client_nurse_a, nurse_a, patient):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    url = reverse("monitoring:result_acknowledge", args=[result.pk])

    response = client_nurse_a.post(
        url,
        keyed({"action": "called_patient", "note": "Seen.", "next": "https://evil.example/phish"}),
    )

    assert response["Location"] == WORKLIST


def test_waiving_needs_a_reason_and_then_the_check_leaves_the_overdue_list(
    client_nurse_a, clinic_a
):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    check = overdue_of(patient)[-1]  # of the latest overdue visit, which the row shows
    assert check.pk in checks_listed(client_nurse_a.get(WORKLIST), "overdue")
    url = reverse("monitoring:check_waive", args=[check.pk])

    refused = client_nurse_a.post(url, keyed({"reason": ""}))

    assert refused.status_code == 200
    assert "Say why" in " ".join(refused.context["form"].errors["reason"])
    check.refresh_from_db()
    assert check.is_open

    done = client_nurse_a.post(
        url, keyed({"reason": "Done at the district hospital.", "next": WORKLIST})
    )

    assert done["Location"] == WORKLIST
    check.refresh_from_db()
    assert check.waived_reason == "Done at the district hospital."
    assert check.pk not in checks_listed(client_nurse_a.get(WORKLIST), "overdue")


def test_a_follow_up_note_without_an_action_is_refused(client_nurse_a, clinic_a):
    check = overdue_of(treated_patient(clinic_a, days_ago=75, given=True))[0]
    url = reverse("monitoring:check_follow_up", args=[check.pk])

    response = client_nurse_a.post(url, keyed({"action": "", "note": "Called."}))

    assert "Choose what was done" in " ".join(response.context["form"].errors["action"])
    assert not Acknowledgement.objects.exists()


def test_a_nurse_of_clinic_b_gets_404_for_clinic_a_and_sees_none_of_its_rows(
    client, nurse_a, nurse_b, clinic_a
):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    check = overdue_of(patient)[0]
    failed_notification(result, nurse_a)
    sign_in(client, nurse_b)

    for url, data in [
        (reverse("monitoring:result_acknowledge", args=[result.pk]), {"action": "reviewed"}),
        (reverse("monitoring:check_follow_up", args=[check.pk]), {"action": "reviewed"}),
        (reverse("monitoring:check_waive", args=[check.pk]), {"reason": "Not ours."}),
    ]:
        assert client.get(url).status_code == 404
        assert client.post(url, keyed({**data, "note": "Seen."})).status_code == 404

    response = client.get(WORKLIST)
    assert response.status_code == 200
    for section in ("urgent", "failed", "overdue", "due", "amber"):
        assert listed(response, section) == []
    assert patient.hospital_number not in response.content.decode()
    assert not Acknowledgement.objects.exists()
    check.refresh_from_db()
    assert check.is_open


def test_the_patient_page_offers_acknowledge_and_shows_the_acknowledgement(
    client_nurse_a, nurse_a, patient
):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    detail = reverse("patients:detail", args=[patient.pk])
    acknowledge = reverse("monitoring:result_acknowledge", args=[result.pk])
    assert acknowledge in client_nurse_a.get(detail).content.decode()

    response = client_nurse_a.post(
        acknowledge,
        keyed({"action": "repeat_ordered", "note": "Repeat FBC tomorrow.", "next": detail}),
    )

    assert response["Location"] == detail
    page = client_nurse_a.get(detail).content.decode()
    assert acknowledge not in page
    assert "Repeat FBC tomorrow." in page and "Nora Nurse" in page
    assert "Ordered a repeat test" in page


def test_the_patient_form_sets_a_named_nurse_of_the_clinic_and_reminders(
    client_a, nurse_a, nurse_b, clinic_a
):
    """Clinic staff add the patient, naming one of the clinic's nurses."""
    form = client_a.get(reverse("patients:create")).context["form"]
    assert list(form.fields["named_nurse"].queryset) == [nurse_a]
    data = {
        "clinic": clinic_a.pk,
        "hospital_number": "N200",
        "given_name": "Ola",
        "family_name": "Named",
        "date_of_birth": "1990-01-01",
        "sex": "F",
        "named_nurse": nurse_a.pk,
        "email_reminders": "on",
        "reminder_leads": "14,7,1",
    }

    refused = client_a.post(reverse("patients:create"), keyed({**data, "named_nurse": nurse_b.pk}))
    assert "named_nurse" in refused.context["form"].errors
    client_a.post(reverse("patients:create"), keyed(data))

    patient = Patient.objects.get(hospital_number="N200")
    assert (patient.named_nurse, patient.email_reminders, patient.reminder_leads) == (
        nurse_a,
        True,
        "14,7,1",
    )
    page = client_a.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert "Named nurse: Nora Nurse" in page


def test_the_worklist_link_is_in_the_navigation_for_signed_in_staff(client_nurse_a):
    page = client_nurse_a.get(reverse("patients:list")).content.decode()
    assert f'href="{WORKLIST}"' in page


def patients_in(response, section):
    return [row.patient.pk for row in listed(response, section)]
