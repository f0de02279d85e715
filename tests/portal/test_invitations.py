"""Inviting a patient to the portal and accepting: one e-mail with a one-time link, a password
the validators accept, the account linked to the record with the patient role; used, replaced,
expired and unknown links refused with a page that says why; staff scoped to their clinics."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from patients.models import Patient
from portal.models import Invitation, secret_hash
from tests.auth import sign_in
from tests.factories import PatientFactory, UserFactory
from tests.forms import keyed

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "lantern-orchard-violet-42"


def invite_url(patient):
    return reverse("patients:invite", kwargs={"pk": patient.pk})


@pytest.fixture
def invitee(clinic_a):
    return PatientFactory(
        clinic=clinic_a, given_name="Ines", family_name="Invited", email="Ines@Example.org"
    )


def invite(client, patient):
    response = client.post(invite_url(patient), keyed())
    assert response.status_code == 302, response.content.decode()[:2000]
    return link_path(mail.outbox[-1].body)


def link_path(body: str) -> str:
    url = re.search(r"https?://\S+/portal/invitation/\S+/", body).group(0)
    return urlsplit(url).path


def accept(client, path, password=GOOD_PASSWORD, again=None):
    return client.post(path, {"password": password, "password_again": again or password})


def test_staff_invite_sends_one_email_with_a_one_time_link(client_a, staff_a, invitee):
    path = invite(client_a, invitee)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["Ines@Example.org"]
    assert "Ines" in message.body and "ines@example.org" in message.body
    invitation = Invitation.objects.get(patient=invitee)
    assert invitation.invited_by == staff_a
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    # Only the hash of the secret is stored.
    secret = path.rstrip("/").rsplit("/", 1)[1]
    assert invitation.token_hash == secret_hash(secret) != secret


def test_accepting_sets_the_password_links_the_record_grants_the_role_and_signs_in(
    client_a, client, invitee
):
    path = invite(client_a, invitee)
    client.logout()

    assert client.get(path).status_code == 200
    response = accept(client, path)

    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    user = get_user_model().objects.get(username="ines@example.org")
    assert user.check_password(GOOD_PASSWORD)
    assert not user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == [Role.PATIENT.label]
    invitee.refresh_from_db()
    assert invitee.user == user
    assert invitee.history.first().history_change_reason.startswith("Portal account opened")
    invitation = Invitation.objects.get(patient=invitee)
    assert invitation.used_at is not None and invitation.user == user
    # Signed in: the portal shows their own page.
    assert client.get(reverse("portal:home")).context["patient"] == invitee


def test_a_used_link_is_refused(client_a, client, invitee):
    path = invite(client_a, invitee)
    client.logout()
    accept(client, path)
    client.logout()

    response = client.get(path)
    again = accept(client, path, password="another-long-password-77")

    assert response.status_code == again.status_code == 410
    assert "already been used" in response.content.decode()
    assert get_user_model().objects.filter(username="ines@example.org").count() == 1


def test_an_expired_link_is_refused(client_a, client, invitee):
    path = invite(client_a, invitee)
    client.logout()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = accept(client, path)

    assert response.status_code == 410
    assert "expired" in response.content.decode()
    invitee.refresh_from_db()
    assert invitee.user is None


def test_inviting_again_makes_the_earlier_link_useless(client_a, client, invitee):
    first = invite(client_a, invitee)
    second = invite(client_a, invitee)
    client.logout()

    refused = client.get(first)
    assert refused.status_code == 410
    assert "newer invitation" in refused.content.decode()
    assert accept(client, second).status_code == 302


def test_an_unknown_link_is_a_clear_404(client):
    response = client.get(reverse("portal:invitation_accept", kwargs={"token": "not-a-token"}))

    assert response.status_code == 404
    assert "not valid" in response.content.decode()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "too short"),
        ("password1234", "too common"),
        ("ines@example.org", "too similar"),
    ],
)
def test_a_weak_password_is_refused_with_the_validators_message_on_the_field(
    client_a, client, invitee, password, message
):
    path = invite(client_a, invitee)
    client.logout()

    response = accept(client, path, password=password)

    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors["password"])
    assert not get_user_model().objects.filter(username="ines@example.org").exists()


def test_different_passwords_are_refused_on_the_second_field(client_a, client, invitee):
    path = invite(client_a, invitee)
    client.logout()

    response = accept(client, path, again="lantern-orchard-violet-43")

    assert response.context["form"].errors["password_again"]


def test_a_patient_without_an_email_address_cannot_be_invited(client_a, clinic_a):
    patient = PatientFactory(clinic=clinic_a, email="")

    response = client_a.post(invite_url(patient), keyed())

    assert response.status_code == 200
    assert "“E-mail” field" in response.content.decode()
    assert not Invitation.objects.exists() and not mail.outbox


def test_a_patient_who_has_an_account_cannot_be_invited_again(client_a, patient, patient_user):
    response = client_a.post(invite_url(patient), keyed())

    assert "already has a portal account" in response.content.decode()
    assert not mail.outbox


def test_an_address_already_used_by_another_account_is_refused(client_a, invitee):
    UserFactory(username="ines@example.org")

    response = client_a.post(invite_url(invitee), keyed())

    assert "Another account already signs in as" in response.content.decode()
    assert not mail.outbox


def test_another_clinics_staff_cannot_invite_patient_b(client_a, patient_b):
    assert client_a.get(invite_url(patient_b)).status_code == 404
    assert client_a.post(invite_url(patient_b), keyed()).status_code == 404
    assert not Invitation.objects.exists() and not mail.outbox


def test_a_nurse_can_invite(client, nurse_a, invitee):
    sign_in(client, nurse_a)

    invite(client, invitee)

    assert Invitation.objects.get(patient=invitee).invited_by == nurse_a


def test_a_patient_cannot_reach_the_invite_screen(patient_client, invitee):
    assert patient_client.post(invite_url(invitee), keyed()).status_code == 404
    assert not mail.outbox


def test_the_patient_page_offers_the_invitation_until_there_is_an_account(
    client_a, invitee, patient, patient_user
):
    page = client_a.get(reverse("patients:detail", kwargs={"pk": invitee.pk})).content.decode()
    linked = client_a.get(reverse("patients:detail", kwargs={"pk": patient.pk})).content.decode()

    assert invite_url(invitee) in page
    assert invite_url(patient) not in linked and "Has a portal account" in linked


def test_a_withdrawn_patient_cannot_be_invited(client_a, invitee):
    Patient.objects.filter(pk=invitee.pk).update(status=Patient.Status.WITHDRAWN)

    response = client_a.post(invite_url(invitee), keyed())

    assert "only patients in monitoring" in response.content.decode()
