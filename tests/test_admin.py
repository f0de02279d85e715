"""The admin as a clinic lead uses it: pages open, edits re-plan, nothing can be deleted."""

from datetime import date

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse

from demo.patients import demo_load
from monitoring.models import MonitoringProtocol, Notification, ScheduledCheck
from patients.models import InfusionCourse, Patient
from tests.auth import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo clinic, loaded once for the module (it takes seconds) inside a transaction that
    is rolled back after it; each test runs in a savepoint within."""
    with django_db_blocker.unblock(), transaction.atomic():
        demo_load(today=date(2026, 11, 21))
        yield
        transaction.set_rollback(True)


@pytest.fixture
def lead_client(demo, client):
    return sign_in(client, User.objects.get(username="lead"))


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:patients_patient_changelist",
        "admin:patients_infusioncourse_changelist",
        "admin:monitoring_monitoringprotocol_changelist",
        "admin:monitoring_scheduledcheck_changelist",
        "admin:monitoring_notification_changelist",
        "admin:monitoring_acknowledgement_changelist",
    ],
)
def test_lead_opens_every_list(lead_client, url_name):
    assert lead_client.get(reverse(url_name)).status_code == 200


def test_patient_page_shows_courses_and_schedule_with_status(lead_client):
    patient = Patient.objects.get(family_name="Rossi")
    page = lead_client.get(reverse("admin:patients_patient_change", args=[patient.pk]))
    assert page.status_code == 200
    assert b"Schedule (live checks)" in page.content
    assert b"Overdue" in page.content and b"Completed" in page.content


def test_editing_a_protocol_in_the_admin_replans_its_patients(lead_client):
    protocol = MonitoringProtocol.objects.get(slug="default-60m")
    patient = Patient.objects.get(family_name="Okafor")
    before = ScheduledCheck.objects.active().filter(patient=patient).count()
    url = reverse("admin:monitoring_monitoringprotocol_change", args=[protocol.pk])
    form = lead_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(_inline_management(lead_client.get(url)))
    data["follow_up_months"] = 48
    response = lead_client.post(url, data)
    assert response.status_code == 302
    after = ScheduledCheck.objects.active().filter(patient=patient).count()
    assert after < before


def _inline_management(page):
    data = {}
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name, field in management.fields.items():
            data[f"{management.prefix}-{name}"] = management.initial.get(name, field.initial)
        for form in formset.formset.forms:
            for name in form.fields:
                value = form[name].value()
                if value is not None and value is not False:
                    data[f"{form.prefix}-{name}"] = value
    return data


def test_changing_a_course_needs_a_reason_and_replans(lead_client):
    course = InfusionCourse.objects.get(patient__family_name="Okafor")
    url = reverse("admin:patients_infusioncourse_change", args=[course.pk])
    data = {
        "patient": course.patient_id,
        "number": 1,
        "first_infusion_date": "2027-01-04",
        "days": 5,
        "daily_dose_mg": "12.0",
        "status": "planned",
    }
    refused = lead_client.post(url, data)
    assert "Say why this record is being changed." in refused.context["errors"][0]
    data["reason_for_change"] = "Infusion suite booked for January"
    assert lead_client.post(url, data).status_code == 302
    first_blood = ScheduledCheck.objects.active().get(
        patient=course.patient, panel="blood_count", month_offset=1
    )
    assert first_blood.due_date == date(2027, 2, 4)
    assert course.history.first().history_change_reason == "Infusion suite booked for January"


def test_no_delete_for_patients_courses_or_checks(lead_client):
    patient = Patient.objects.first()
    for name, pk in [
        ("patients_patient", patient.pk),
        ("patients_infusioncourse", patient.courses.first().pk),
        ("monitoring_scheduledcheck", patient.scheduled_checks.first().pk),
    ]:
        assert lead_client.post(reverse(f"admin:{name}_delete", args=[pk])).status_code == 403


def test_a_second_demo_load_changes_nothing(demo):
    counts = (Patient.objects.count(), ScheduledCheck.objects.count())
    _, again = demo_load(today=date(2026, 11, 21))
    assert again is False
    assert (Patient.objects.count(), ScheduledCheck.objects.count()) == counts


def test_the_demo_clinic_has_a_nurse_group_a_lead_and_named_nurses(demo):
    clinic, _ = demo_load(today=date(2026, 11, 21))
    assert sorted(clinic.nurses.values_list("username", flat=True)) == ["nurse", "nurse2"]
    assert clinic.lead.username == "lead"
    named = dict(
        Patient.objects.filter(named_nurse__isnull=False).values_list(
            "family_name", "named_nurse__username"
        )
    )
    assert named == {"Rossi": "nurse", "Haddad": "nurse2"}


def test_the_lead_sees_the_outbox_read_only_and_the_clinics_alert_settings(lead_client):
    notification = Notification.objects.first()
    page = lead_client.get(reverse("admin:monitoring_notification_change", args=[notification.pk]))
    assert b"View notification" in page.content and b'name="_save"' not in page.content
    clinic = lead_client.get(
        reverse("admin:patients_clinic_change", args=[Patient.objects.first().clinic_id])
    )
    assert b"critical_escalation_hours" in clinic.content and b"nurses" in clinic.content


def test_the_admin_shows_a_lead_only_their_own_clinics(client, clinic_a, clinic_b):
    from accounts.roles import Role
    from tests.auth import staff_of
    from tests.factories import PatientFactory, UserFactory

    lead = staff_of(clinic_a, UserFactory(username="lead_a", is_staff=True), Role.CLINIC_LEAD)
    ours = PatientFactory(clinic=clinic_a, family_name="Ours")
    theirs = PatientFactory(clinic=clinic_b, family_name="Theirs")
    sign_in(client, lead)
    listing = client.get(reverse("admin:patients_patient_changelist")).content.decode()
    assert "Ours" in listing and "Theirs" not in listing
    assert client.get(reverse("admin:patients_patient_change", args=[ours.pk])).status_code == 200
    other = client.get(reverse("admin:patients_patient_change", args=[theirs.pk]))
    assert other.status_code == 302  # the admin's "does not exist" redirect to its index
    clinics = client.get(reverse("admin:patients_clinic_changelist")).content.decode()
    assert "Clinic A" in clinics and "Clinic B" not in clinics
