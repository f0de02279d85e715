"""The admin as a clinic lead uses it: pages open, edits go through the same services as the
staff screens (validated, recorded with who and why, re-planned), a protocol change is queued
for a worker, and nothing can be deleted. Each test builds its own small clinic."""

from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from monitoring.models import MonitoringProtocol, Notification, ProtocolItem, ScheduledCheck
from monitoring.outbox.store import notification_row
from monitoring.schedule import protocols
from patients.models import Patient
from patients.services import course_add
from tests.auth import sign_in, staff_of
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(clinic_a):
    return staff_of(clinic_a, UserFactory(username="lead_a", is_staff=True), Role.CLINIC_LEAD)


@pytest.fixture
def lead_client(client, lead):
    return sign_in(client, lead)


@pytest.fixture
def treated(clinic_a):
    """A patient of clinic A with course 1 given in 2024: checks overdue, one completed."""
    patient = PatientFactory(clinic=clinic_a, family_name="Treated")
    course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=Decimal(12))
    first = patient.scheduled_checks.order_by("due_date").first()
    ScheduledCheck.objects.filter(pk=first.pk).update(completed_on=first.due_date)
    return patient


@pytest.fixture
def planned(clinic_a):
    """A patient of clinic A with course 1 planned for the coming weeks."""
    patient = PatientFactory(clinic=clinic_a, family_name="Planned")
    course_add(patient=patient, first_infusion_date=date(2026, 12, 7), daily_dose_mg=Decimal(12))
    return patient


def form_data(page) -> dict:
    """What the change form posts back unchanged: its fields and its inlines' forms."""
    form = page.context["adminform"].form
    data = _values(form, prefix="")
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name, field in management.fields.items():
            data[f"{management.prefix}-{name}"] = management.initial.get(name, field.initial)
        for item in formset.forms:
            data.update(_values(item, prefix=f"{item.prefix}-"))
    return data


def _values(form, *, prefix) -> dict:
    values = {}
    for name in form.fields:
        value = form[name].value()
        if value is not None and value is not False:
            values[f"{prefix}{name}"] = value
    return values


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
def test_lead_opens_every_list(lead_client, treated, url_name):
    assert lead_client.get(reverse(url_name)).status_code == 200


def test_patient_page_shows_courses_and_schedule_with_status(lead_client, treated):
    page = lead_client.get(reverse("admin:patients_patient_change", args=[treated.pk]))
    assert page.status_code == 200
    assert b"Schedule (live checks)" in page.content
    assert b"Overdue" in page.content and b"Completed" in page.content


def test_editing_a_patient_keeps_the_old_version_with_who_and_why(lead_client, lead, treated):
    url = reverse("admin:patients_patient_change", args=[treated.pk])
    data = form_data(lead_client.get(url))
    data["phone"] = "+44 20 7946 0000"
    refused = lead_client.post(url, data)
    assert refused.context["adminform"].form.errors["reason_for_change"]
    data["reason_for_change"] = "New number given at clinic"
    assert lead_client.post(url, data).status_code == 302
    newest, previous = treated.history.order_by("-history_id")[:2]
    assert newest.phone == "+44 20 7946 0000" and previous.phone == ""
    assert newest.history_change_reason == "New number given at clinic"
    assert newest.history_user == lead


def test_withdrawing_a_patient_in_the_admin_cancels_their_open_checks(lead_client, treated):
    url = reverse("admin:patients_patient_change", args=[treated.pk])
    data = form_data(lead_client.get(url))
    data.update(status=Patient.Status.WITHDRAWN, reason_for_change="Withdrew consent")
    assert lead_client.post(url, data).status_code == 302
    assert not ScheduledCheck.objects.active().filter(patient=treated, completed_on=None).exists()


def test_adding_a_patient_goes_through_patient_create(lead_client, lead, clinic_a):
    url = reverse("admin:patients_patient_add")
    data = form_data(lead_client.get(url))
    data.update(
        clinic=clinic_a.pk,
        hospital_number="  H-NEW-1 ",
        given_name="Nia",
        family_name="New",
        date_of_birth="1990-03-04",
        sex=Patient.Sex.FEMALE,
    )
    assert lead_client.post(url, data).status_code == 302
    patient = Patient.objects.get(hospital_number="H-NEW-1")  # stripped by the service
    assert patient.history.get().history_user == lead


def test_changing_a_course_needs_a_reason_and_replans(lead_client, lead, planned):
    course = planned.courses.get()
    url = reverse("admin:patients_infusioncourse_change", args=[course.pk])
    data = form_data(lead_client.get(url))
    data["first_infusion_date"] = "2027-01-04"
    refused = lead_client.post(url, data)
    assert "Say why this record is being changed." in refused.context["errors"][0]
    data["reason_for_change"] = "Infusion suite booked for January"
    assert lead_client.post(url, data).status_code == 302
    first_blood = ScheduledCheck.objects.active().get(
        patient=planned, panel="blood_count", month_offset=1
    )
    assert first_blood.due_date == date(2027, 2, 4)
    latest = course.history.latest()
    assert latest.history_change_reason == "Infusion suite booked for January"
    assert latest.history_user == lead


def test_adding_a_course_goes_through_course_add_and_plans_the_schedule(lead_client, clinic_a):
    patient = PatientFactory(clinic=clinic_a)
    url = reverse("admin:patients_infusioncourse_add")
    data = {
        "patient": patient.pk,
        "number": 1,
        "first_infusion_date": "2026-12-07",
        "days": 5,
        "daily_dose_mg": "12.0",
        "status": "planned",
    }
    assert lead_client.post(url, data).status_code == 302
    assert patient.courses.count() == 1
    assert ScheduledCheck.objects.active().filter(patient=patient).exists()


def test_a_course_overlapping_the_last_is_a_field_error_not_a_server_error(lead_client, treated):
    url = reverse("admin:patients_infusioncourse_add")
    data = {
        "patient": treated.pk,
        "number": 2,
        "first_infusion_date": "2024-02-02",  # during course 1 (31 Jan to 4 Feb 2024)
        "days": 3,
        "daily_dose_mg": "12.0",
        "status": "planned",
    }
    response = lead_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["first_infusion_date"]
    assert treated.courses.count() == 1


def test_a_refusal_by_the_service_after_the_form_passed_is_shown_on_the_form(lead_client, planned):
    course = planned.courses.get()
    url = reverse("admin:patients_infusioncourse_change", args=[course.pk])
    data = form_data(lead_client.get(url))
    data.update(first_infusion_date="2027-01-04", reason_for_change="Rebooked")
    refusal = ValidationError({"first_infusion_date": "Another course was recorded meanwhile."})
    with mock.patch("patients.admin.course_update", side_effect=refusal):
        response = lead_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["first_infusion_date"] == [
        "Another course was recorded meanwhile."
    ]
    course.refresh_from_db()
    assert course.first_infusion_date == date(2026, 12, 7)


def _protocol_page(client, protocol):
    url = reverse("admin:monitoring_monitoringprotocol_change", args=[protocol.pk])
    return url, form_data(client.get(url))


def test_saving_a_protocol_queues_its_replanning_for_a_worker(
    lead_client, planned, django_capture_on_commit_callbacks
):
    protocol = MonitoringProtocol.objects.get(slug="default-60m")
    assert planned.protocol == protocol
    before = set(ScheduledCheck.objects.active().filter(patient=planned).values_list("pk"))
    url, data = _protocol_page(lead_client, protocol)
    data.update(follow_up_months=48, reason_for_change="Follow-up shortened to the label's")
    with (
        mock.patch.object(protocols, "current_app") as celery,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = lead_client.post(url, data, follow=True)
    celery.send_task.assert_called_once_with(protocols.PROTOCOL_REPLAN, args=(protocol.pk,))
    assert "Re-planning the schedules of 1 patient(s) was queued" in response.content.decode()
    # Nothing is re-planned inside the request; the worker does it.
    after = set(ScheduledCheck.objects.active().filter(patient=planned).values_list("pk"))
    assert after == before
    latest = protocol.history.latest()
    assert latest.follow_up_months == 48
    assert latest.history_change_reason == "Follow-up shortened to the label's"


def test_with_the_broker_down_the_protocol_is_replanned_in_the_request(
    lead_client, planned, django_capture_on_commit_callbacks
):
    """Schedules left on the old rules would show wrong dates: if the task cannot be queued,
    the request re-plans them itself."""
    protocol = MonitoringProtocol.objects.get(slug="default-60m")
    url, data = _protocol_page(lead_client, protocol)
    data.update(follow_up_months=24, reason_for_change="Shorter follow-up agreed at MDT")
    open_before = ScheduledCheck.objects.active().filter(patient=planned).count()
    with (
        mock.patch.object(protocols, "current_app") as celery,
        django_capture_on_commit_callbacks(execute=True),
    ):
        celery.send_task.side_effect = ConnectionRefusedError("broker down")
        assert lead_client.post(url, data).status_code == 302
    assert ScheduledCheck.objects.active().filter(patient=planned).count() < open_before


def test_a_course_cannot_be_moved_to_another_patient(lead_client, planned):
    course = planned.courses.get()
    url = reverse("admin:patients_infusioncourse_change", args=[course.pk])
    page = lead_client.get(url)
    assert "patient" not in page.context["adminform"].form.fields


def test_the_replan_action_queues_without_replanning_in_the_request(
    lead_client, lead, planned, django_capture_on_commit_callbacks
):
    protocol = MonitoringProtocol.objects.get(slug="default-60m")
    url = reverse("admin:monitoring_monitoringprotocol_changelist")
    with (
        mock.patch.object(protocols, "current_app") as celery,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = lead_client.post(
            url, {"action": "replan", "_selected_action": [protocol.pk]}, follow=True
        )
    celery.send_task.assert_called_once_with(protocols.PROTOCOL_REPLAN, args=(protocol.pk,))
    assert "Re-planning the schedules of 1 patient(s) was queued" in response.content.decode()
    assert protocol.history.latest().history_user == lead


def test_an_item_change_without_a_reason_is_refused_on_the_form(lead_client):
    protocol = MonitoringProtocol.objects.get(slug="default-60m")
    url, data = _protocol_page(lead_client, protocol)
    item = ProtocolItem.objects.get(pk=data["items-0-id"])
    data["items-0-grace_after_days"] = item.grace_after_days + 7
    with mock.patch.object(protocols, "current_app") as celery:
        response = lead_client.post(url, data)
    # The form alone passes (its own fields did not change); the service asks for the reason.
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["reason_for_change"]
    assert not celery.send_task.called
    item.refresh_from_db()
    assert item.grace_after_days == int(data["items-0-grace_after_days"]) - 7


def test_the_replanning_task_replans_every_follower_and_twice_changes_nothing(planned, treated):
    from monitoring.schedule.tasks import protocol_replan
    from monitoring.tasks import protocol_replan as gathered

    assert gathered is protocol_replan and protocol_replan.name == protocols.PROTOCOL_REPLAN
    protocol = MonitoringProtocol.objects.get(slug="default-60m")
    MonitoringProtocol.objects.filter(pk=protocol.pk).update(follow_up_months=24)
    open_before = ScheduledCheck.objects.active().filter(patient=planned).count()
    first = protocol_replan.run(protocol.pk)
    assert first["patients"] == 2
    assert ScheduledCheck.objects.active().filter(patient=planned).count() < open_before
    stored = list(ScheduledCheck.objects.order_by("pk").values())
    assert protocol_replan.apply(args=(protocol.pk,)).get() == {"patients": 2, "created": 0}
    assert list(ScheduledCheck.objects.order_by("pk").values()) == stored


def test_no_delete_for_patients_courses_or_checks(lead_client, treated):
    for name, pk in [
        ("patients_patient", treated.pk),
        ("patients_infusioncourse", treated.courses.get().pk),
        ("monitoring_scheduledcheck", treated.scheduled_checks.first().pk),
    ]:
        assert lead_client.post(reverse(f"admin:{name}_delete", args=[pk])).status_code == 403


def test_the_lead_sees_the_outbox_read_only_and_the_clinics_alert_settings(
    lead_client, lead, treated
):
    row = notification_row(
        kind=Notification.Kind.OVERDUE,
        delivery=Notification.Delivery.AT_ONCE,
        patient_id=treated.pk,
        now=timezone.now(),
        user_id=lead.pk,
    )
    row.save()
    page = lead_client.get(reverse("admin:monitoring_notification_change", args=[row.pk]))
    assert b"View notification" in page.content and b'name="_save"' not in page.content
    clinic = lead_client.get(reverse("admin:patients_clinic_change", args=[treated.clinic_id]))
    assert b"critical_escalation_hours" in clinic.content and b"nurses" in clinic.content


def test_the_admin_shows_a_lead_only_their_own_clinics(lead_client, clinic_a, clinic_b):
    ours = PatientFactory(clinic=clinic_a, family_name="Ours")
    theirs = PatientFactory(clinic=clinic_b, family_name="Theirs")
    listing = lead_client.get(reverse("admin:patients_patient_changelist")).content.decode()
    assert "Ours" in listing and "Theirs" not in listing
    assert (
        lead_client.get(reverse("admin:patients_patient_change", args=[ours.pk])).status_code == 200
    )
    other = lead_client.get(reverse("admin:patients_patient_change", args=[theirs.pk]))
    assert other.status_code == 302  # the admin's "does not exist" redirect to its index
    clinics = lead_client.get(reverse("admin:patients_clinic_changelist")).content.decode()
    assert "Clinic A" in clinics and "Clinic B" not in clinics


def test_courses_of_another_clinic_are_not_listed(lead_client, treated, clinic_b):
    course_add(
        patient=PatientFactory(clinic=clinic_b, family_name="Elsewhere"),
        first_infusion_date=date(2024, 1, 31),
        daily_dose_mg=Decimal(12),
    )
    listing = lead_client.get(reverse("admin:patients_infusioncourse_changelist")).content.decode()
    assert "TREATED" in listing and "ELSEWHERE" not in listing
