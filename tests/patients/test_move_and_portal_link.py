"""Moving a patient to another clinic (administrators only, through patient_move, with a reason
kept in the history and the audit trail) and linking a portal account (a patient's own account
that opens no other record), on the admin and in the services."""

from datetime import date

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.roles import Role, grant_role
from monitoring.models import ScheduledCheck
from patients.models import Patient
from patients.services import patient_move, patient_update
from tests.auth import sign_in, staff_of
from tests.builders import nurse_of, with_course_one
from tests.factories import PatientFactory, UserFactory
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def lead(clinic_a):
    return staff_of(clinic_a, UserFactory(username="lead_a", is_staff=True), Role.CLINIC_LEAD)


@pytest.fixture
def moving(clinic_a):
    """A patient of clinic A with a named nurse of clinic A and a planned schedule."""
    nurse = nurse_of(clinic_a, "nurse_a")
    patient = PatientFactory(clinic=clinic_a, hospital_number="MOVE-1", named_nurse=nurse)
    return with_course_one(patient, on=date(2024, 1, 15))


def portal_account(username: str):
    user = UserFactory(username=username)
    grant_role(user, Role.PATIENT)
    return user


def move_url(patient) -> str:
    return reverse("admin:patients_patient_move", args=[patient.pk])


def test_a_superuser_moves_a_patient_with_a_reason_kept_with_who_and_when(
    client, root, moving, clinic_a, clinic_b
):
    sign_in(client, root)
    open_checks = ScheduledCheck.objects.active().filter(patient=moving).count()
    change_page = client.get(reverse("admin:patients_patient_change", args=[moving.pk]))
    assert move_url(moving) in change_page.content.decode()

    response = client.post(
        move_url(moving), {"clinic": clinic_b.pk, "reason": "Moved house to Leeds"}
    )

    assert response.status_code == 302
    moving.refresh_from_db()
    assert moving.clinic == clinic_b
    # The old clinic's nurse is not the new clinic's: its nurse group is alerted instead.
    assert moving.named_nurse is None
    assert ScheduledCheck.objects.active().filter(patient=moving).count() == open_checks
    latest = moving.history.latest()
    assert latest.history_user == root
    assert latest.history_change_reason == "Moved from Clinic A to Clinic B: Moved house to Leeds"
    entry = LogEntry.objects.get_for_object(moving).filter(action=LogEntry.Action.UPDATE).latest()
    assert entry.changes["clinic"] == [str(clinic_a.pk), str(clinic_b.pk)]
    assert entry.actor == root
    assert entry.additional_data == {"reason": latest.history_change_reason}
    assert entry.subject.clinic == clinic_b


def test_a_move_needs_a_reason_and_a_free_hospital_number(client, root, moving, clinic_b):
    sign_in(client, root)
    refused = client.post(move_url(moving), {"clinic": clinic_b.pk, "reason": ""})
    assert refused.status_code == 200 and refused.context["form"].errors["reason"]

    PatientFactory(clinic=clinic_b, hospital_number="move-1")
    clash = client.post(move_url(moving), {"clinic": clinic_b.pk, "reason": "Transferred"})
    assert clash.status_code == 200
    assert "already has a patient with this hospital number" in str(
        clash.context["form"].errors["clinic"]
    )
    moving.refresh_from_db()
    assert moving.clinic.code == "clinic-a" and moving.named_nurse is not None


def test_only_a_superuser_may_move_a_patient(client, lead, moving, clinic_b):
    lead.clinics.add(clinic_b)  # even a lead of both clinics
    sign_in(client, lead)
    assert client.get(move_url(moving)).status_code == 403
    post = client.post(move_url(moving), {"clinic": clinic_b.pk, "reason": "Because"})
    assert post.status_code == 403
    change_page = client.get(reverse("admin:patients_patient_change", args=[moving.pk]))
    assert "clinic" not in change_page.context["adminform"].form.fields
    with pytest.raises(PermissionDenied):
        patient_move(patient=moving, clinic=clinic_b, reason="Because", moved_by=lead)
    with pytest.raises(ValidationError) as refused:
        patient_update(patient=moving, reason="Because", changed_by=lead, clinic=clinic_b)
    assert "clinic" in refused.value.error_dict
    moving.refresh_from_db()
    assert moving.clinic.code == "clinic-a"


def test_a_portal_account_must_be_a_patients_own_and_open_no_other_record(
    clinic_a, patient, nurse_a
):
    other = PatientFactory(clinic=clinic_a)
    taken = portal_account("taken")
    Patient.objects.filter(pk=other.pk).update(user=taken)
    staff_with_patient_role = staff_of(clinic_a, portal_account("both"), Role.CLINIC_STAFF)

    for account, words in [
        (nurse_a, "patient role"),
        (staff_with_patient_role, "member of staff"),
        (taken, "another patient's record"),
    ]:
        with pytest.raises(ValidationError) as refused:
            patient_update(patient=patient, reason="Portal set up", user=account)
        assert words in " ".join(refused.value.message_dict["user"])
        patient.refresh_from_db()
        assert patient.user is None

    own = portal_account("own")
    patient_update(patient=patient, reason="Portal set up", user=own)
    assert Patient.objects.get(pk=patient.pk).user == own


def test_the_admin_offers_and_accepts_only_a_free_patient_account(client, lead, clinic_a):
    patient = PatientFactory(clinic=clinic_a, hospital_number="LINK-1")
    nurse = nurse_of(clinic_a, "nurse_link")
    free = portal_account("free_account")
    # An account this clinic's staff may see: once linked to one of its patients, now free.
    holder = PatientFactory(clinic=clinic_a)
    holder.user = free
    holder.save()
    holder.user = None
    holder.save()
    taken = portal_account("taken_account")
    PatientFactory(clinic=clinic_a, user=taken)
    sign_in(client, lead)
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    page = client.get(url)
    offered = set(page.context["adminform"].form.fields["user"].queryset)
    assert offered == {free}

    data = form_data(page)
    data["reason_for_change"] = "Portal account"
    for account in (nurse, taken, lead):
        response = client.post(url, {**data, "user": account.pk})
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["user"]
    assert client.post(url, {**data, "user": free.pk}).status_code == 302
    assert Patient.objects.get(pk=patient.pk).user == free
