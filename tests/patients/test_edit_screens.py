"""The staff edit screens: a patient's details, their status, moving and cancelling a course,
and the what-if preview. Each change goes through the same services as the admin, so it is in
the record's history with who and why; another clinic's nurse gets 404 on every one of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from monitoring.alerts.scans import scans_run
from monitoring.models import MonitoringProtocol, Notification, ScheduledCheck
from monitoring.outbox.delivery import batch_deliver, due_batches
from monitoring.schedule.preview import courses_preview
from patients.course_rules import CourseFacts, standard_days
from patients.models import InfusionCourse, Patient
from patients.services import patient_update
from tests.auth import sign_in, staff_of
from tests.builders import nurse_of, platelets, treated_patient
from tests.delivery_harness import SmtpServer, wait_for
from tests.factories import PatientFactory, UserFactory
from tests.forms import hidden_fields, keyed

pytestmark = pytest.mark.django_db

Status = Notification.Status


@pytest.fixture
def nurse_client(client, nurse_a):
    return sign_in(client, nurse_a)


@pytest.fixture
def treated(clinic_a):
    return treated_patient(clinic_a, days_ago=200, given=True, email="ada@example.org")


def edit_page(client, url):
    """The form's hidden fields (one-time key, opened version) as the page renders them."""
    page = client.get(url)
    assert page.status_code == 200
    return hidden_fields(page)


def test_editing_a_patient_is_in_the_history_with_who_and_why(nurse_client, nurse_a, treated):
    url = reverse("patients:edit", args=[treated.pk])
    data = {
        **edit_page(nurse_client, url),
        "email": "ada.new@example.org",
        "phone": "+44 20 7946 0000",
        "named_nurse": nurse_a.pk,
        "email_reminders": "on",
        "reminder_leads": "14,7,1",
        "tracked_from": treated.tracked_from.isoformat(),
        "protocol": treated.protocol_id,
        "reason": "Patient phoned with a new address",
    }
    response = nurse_client.post(url, data)
    assert response.status_code == 302
    treated.refresh_from_db()
    assert (treated.email, treated.named_nurse, treated.reminder_leads) == (
        "ada.new@example.org",
        nurse_a,
        "14,7,1",
    )
    latest = treated.history.first()
    assert latest.history_user == nurse_a
    assert latest.history_change_reason == "Patient phoned with a new address"
    assert latest.prev_record.email == "ada@example.org"  # the old version is kept


def test_changing_the_tracking_start_replans_and_is_recorded(nurse_client, nurse_a, treated):
    assert ScheduledCheck.objects.filter(patient=treated).open().exists()
    url = reverse("patients:edit", args=[treated.pk])
    today = treated.clinic.today()
    data = {
        **edit_page(nurse_client, url),
        "email": treated.email,
        "email_reminders": "on",
        "reminder_leads": treated.reminder_leads,
        "tracked_from": today.isoformat(),
        "protocol": treated.protocol_id,
        "reason": "Onboarded today from the spreadsheet",
    }
    assert nurse_client.post(url, data).status_code == 302
    treated.refresh_from_db()
    assert treated.tracked_from == today
    # Everything that fell overdue before today is history now, none of it work.
    overdue = ScheduledCheck.objects.filter(patient=treated, overdue_after__lt=today)
    assert overdue.exists() and not overdue.open().exists()
    latest = treated.history.first()
    assert (latest.history_user, latest.history_change_reason) == (
        nurse_a,
        "Onboarded today from the spreadsheet",
    )


def test_a_tracking_start_in_the_future_is_refused(nurse_client, treated):
    url = reverse("patients:edit", args=[treated.pk])
    data = {
        **edit_page(nurse_client, url),
        "email": treated.email,
        "email_reminders": "on",
        "reminder_leads": treated.reminder_leads,
        "tracked_from": (treated.clinic.today() + timedelta(days=1)).isoformat(),
        "protocol": treated.protocol_id,
        "reason": "Typo",
    }
    response = nurse_client.post(url, data)
    assert "cannot be in the future" in response.context["form"].errors["tracked_from"][0]
    treated.refresh_from_db()
    assert treated.tracked_from.year == 2000


def test_a_protocol_change_replans_the_schedule(nurse_client, treated):
    label = MonitoringProtocol.objects.exclude(pk=treated.protocol_id).get(slug__contains="48")
    treated.refresh_from_db()
    before = treated.follow_up_ends
    url = reverse("patients:edit", args=[treated.pk])
    data = {
        **edit_page(nurse_client, url),
        "email": treated.email,
        "email_reminders": "on",
        "reminder_leads": treated.reminder_leads,
        "tracked_from": treated.tracked_from.isoformat(),
        "protocol": label.pk,
        "reason": "Switched to the label's 48 months",
    }
    assert nurse_client.post(url, data).status_code == 302
    treated.refresh_from_db()
    assert treated.protocol == label
    assert treated.follow_up_ends < before


def test_the_named_nurse_is_chosen_only_among_the_clinics_nurses(
    nurse_client, nurse_a, clinic_a, clinic_b, treated
):
    other = nurse_of(clinic_b, "nurse_of_b")
    portal = UserFactory(username="portal_user")
    treated.user = portal
    treated.save(update_fields=["user"])
    get_user_model().objects.create_superuser("root", "root@example.org", "x")
    url = reverse("patients:edit", args=[treated.pk])
    page = nurse_client.get(url)
    offered = set(page.context["form"].fields["named_nurse"].queryset)
    assert offered == set(clinic_a.nurses.all()) == {nurse_a}

    data = {
        **hidden_fields(page),
        "email": treated.email,
        "named_nurse": other.pk,
        "email_reminders": "on",
        "reminder_leads": treated.reminder_leads,
        "tracked_from": treated.tracked_from.isoformat(),
        "protocol": treated.protocol_id,
        "reason": "Named nurse",
    }
    response = nurse_client.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].errors["named_nurse"]
    treated.refresh_from_db()
    assert treated.named_nurse is None


def test_the_admins_named_nurse_list_is_the_patients_clinics_nurses(client, clinic_a, treated):
    nurse = nurse_of(clinic_a, "nurse_in_group")
    nurse_of(PatientFactory().clinic, "nurse_elsewhere")
    treated.user = UserFactory(username="portal_account")
    treated.save(update_fields=["user"])
    root = get_user_model().objects.create_superuser("root", "root@example.org", "x")
    sign_in(client, root)
    page = client.get(reverse("admin:patients_patient_change", args=[treated.pk]))
    assert set(page.context["adminform"].form.fields["named_nurse"].queryset) == {nurse}


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("patients:edit", {"phone": "+44 20 7946 0001"}),
        ("patients:status", {"status": "withdrawn"}),
    ],
)
def test_a_reason_of_only_spaces_is_refused_beside_the_field(nurse_client, treated, name, data):
    url = reverse(name, args=[treated.pk])
    page = nurse_client.get(url)
    initial = {
        key: value
        for key, value in page.context["form"].initial.items()
        if value is not None and not hasattr(value, "pk")
    }
    versions = treated.history.count()
    response = nurse_client.post(url, {**initial, **hidden_fields(page), **data, "reason": "   "})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert treated.history.count() == versions


def test_an_edit_opened_before_someone_elses_save_is_refused(nurse_client, nurse_a, treated):
    url = reverse("patients:edit", args=[treated.pk])
    hidden = edit_page(nurse_client, url)
    patient_update(patient=treated, reason="Meanwhile", phone="+44 20 7946 0002")
    data = {
        **hidden,
        "email": treated.email,
        "phone": "+44 20 7946 0003",
        "email_reminders": "on",
        "reminder_leads": treated.reminder_leads,
        "tracked_from": treated.tracked_from.isoformat(),
        "protocol": treated.protocol_id,
        "reason": "Mine",
    }
    response = nurse_client.post(url, data)
    assert response.status_code == 200
    treated.refresh_from_db()
    assert treated.phone == "+44 20 7946 0002"


# Status.


def test_marking_a_patient_deceased_cancels_checks_and_unsent_notifications(
    nurse_client, nurse_a, treated
):
    scans_run(now=timezone.now())
    waiting = Notification.objects.filter(patient=treated, status=Status.QUEUED)
    assert waiting.exists()
    assert ScheduledCheck.objects.filter(patient=treated).open().exists()

    url = reverse("patients:status", args=[treated.pk])
    data = {**edit_page(nurse_client, url), "status": "deceased", "reason": "Died on 28 Nov"}
    assert nurse_client.post(url, data).status_code == 302

    treated.refresh_from_db()
    assert treated.status == Patient.Status.DECEASED
    assert not ScheduledCheck.objects.filter(patient=treated).open().exists()
    assert not Notification.objects.filter(patient=treated, status=Status.QUEUED).exists()
    cancelled = Notification.objects.filter(patient=treated, status=Status.CANCELLED)
    assert "Deceased" in cancelled.first().last_error
    # Each withdrawn notification is in the audit trail, with who.
    entries = LogEntry.objects.get_for_model(Notification).filter(
        object_id__in=cancelled.values("pk")
    )
    assert entries.count() == cancelled.count()
    assert {entry.actor for entry in entries} == {nurse_a}
    latest = treated.history.first()
    assert (latest.history_user, latest.history_change_reason) == (nurse_a, "Died on 28 Nov")
    # The record is kept and says so.
    page = nurse_client.get(reverse("patients:detail", args=[treated.pk])).content.decode()
    assert "Deceased: not monitored" in page


def test_back_to_active_plans_the_schedule_again(nurse_client, treated):
    url = reverse("patients:status", args=[treated.pk])
    nurse_client.post(
        url, {**edit_page(nurse_client, url), "status": "withdrawn", "reason": "Moved abroad"}
    )
    assert not ScheduledCheck.objects.filter(patient=treated).open().exists()
    nurse_client.post(
        url, {**edit_page(nurse_client, url), "status": "active", "reason": "Came back"}
    )
    treated.refresh_from_db()
    assert treated.status == Patient.Status.ACTIVE
    assert ScheduledCheck.objects.filter(patient=treated).open().exists()


def test_the_worklist_says_when_a_waiting_result_is_a_deceased_patients(
    nurse_client, nurse_a, treated
):
    platelets(treated, "45", entered_by=nurse_a, days_ago=1)
    url = reverse("patients:status", args=[treated.pk])
    nurse_client.post(url, {**edit_page(nurse_client, url), "status": "deceased", "reason": "Died"})
    page = nurse_client.get(reverse("monitoring:worklist")).content.decode()
    assert "Deceased: no longer monitored, no alerts sent" in page


@pytest.fixture
def smtp(settings):
    """The project's SMTP test server on loopback, and the real SMTP backend pointed at it."""
    server = SmtpServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    yield server
    server.stop()


def deliver_everything(now):
    for batch in due_batches(now=now):
        batch_deliver(batch=batch, now=now)


def test_a_patient_marked_deceased_gets_no_more_emails(nurse_client, nurse_a, clinic_a, smtp):
    # No quiet hours and a midnight digest: whatever the time the test runs, all is due now.
    clinic_a.quiet_hours_start = clinic_a.quiet_hours_end = clinic_a.digest_time = "00:00"
    clinic_a.save()
    alive = treated_patient(clinic_a, days_ago=200, given=True, email="alive@example.org")
    gone = treated_patient(clinic_a, days_ago=200, given=True, email="gone@example.org")
    scans_run(now=timezone.now())
    assert Notification.objects.filter(recipient_patient=gone, status=Status.QUEUED).exists()

    url = reverse("patients:status", args=[gone.pk])
    data = {**edit_page(nurse_client, url), "status": "deceased", "reason": "Died at home"}
    assert nurse_client.post(url, data).status_code == 302
    # A late lab result about them, and the next day's scans, after the change of status.
    platelets(gone, "30", entered_by=nurse_a, days_ago=2)
    later = timezone.now() + timedelta(days=1)
    scans_run(now=later)
    deliver_everything(later)

    # The other patient's reminder went out through the same delivery: the server is reached.
    wait_for(lambda: smtp.mailbox.to(alive.email), what="the living patient's e-mail")
    assert smtp.mailbox.to("gone@example.org") == []
    # Nor does any nurse hear about them.
    for message in smtp.mailbox.to(nurse_a.email):
        assert gone.hospital_number not in message.get_payload()
    assert not Notification.objects.filter(patient=gone, status=Status.SENT).exists()


# Courses.


def test_moving_a_course_replans_and_is_in_its_history(nurse_client, nurse_a, clinic_a):
    patient = treated_patient(clinic_a, days_ago=20)  # planned
    course = patient.courses.get()
    month_one = ScheduledCheck.objects.get(patient=patient, panel="blood_count", month_offset=1)
    url = reverse("patients:course_edit", args=[course.pk])
    moved_to = course.first_infusion_date + timedelta(days=14)
    data = {
        **edit_page(nurse_client, url),
        "first_infusion_date": moved_to.isoformat(),
        "days": course.days,
        "daily_dose_mg": "12",
        "reason": "Bed not available",
    }
    assert nurse_client.post(url, data).status_code == 302
    course.refresh_from_db()
    assert course.first_infusion_date == moved_to
    # The same check, moved with its anchor: one month after the new first day.
    month_one.refresh_from_db()
    assert month_one.due_date == moved_to + relativedelta(months=1)
    latest = course.history.first()
    assert (latest.history_user, latest.history_change_reason) == (nurse_a, "Bed not available")


def test_cancelling_a_course_needs_a_reason_and_keeps_it(nurse_client, nurse_a, clinic_a):
    patient = treated_patient(clinic_a, days_ago=-20)  # planned for three weeks ahead
    course = patient.courses.get()
    url = reverse("patients:course_cancel", args=[course.pk])
    hidden = edit_page(nurse_client, url)
    refused = nurse_client.post(url, {**hidden, "reason": "  "})
    assert refused.context["form"].errors["reason"]
    course.refresh_from_db()
    assert course.status == InfusionCourse.Status.PLANNED

    assert (
        nurse_client.post(url, {**edit_page(nurse_client, url), "reason": "Pregnant"}).status_code
        == 302
    )
    course.refresh_from_db()
    assert (course.status, course.cancelled_reason) == ("cancelled", "Pregnant")
    assert not ScheduledCheck.objects.filter(patient=patient).active().exists()
    latest = course.history.first()
    assert (latest.history_user, latest.history_change_reason) == (nurse_a, "Pregnant")


# The what-if preview.


def stored_state(patient):
    return (
        InfusionCourse.history.filter(patient_id=patient.pk).count(),
        Patient.history.filter(id=patient.pk).count(),
        list(
            ScheduledCheck.objects.filter(patient=patient).values_list(
                "pk", "due_date", "cancelled_at"
            )
        ),
        Notification.objects.filter(patient=patient).count(),
        LogEntry.objects.exclude(action=LogEntry.Action.ACCESS).count(),
    )


def test_the_what_if_preview_shows_the_plan_and_saves_nothing(nurse_client, treated):
    treated.refresh_from_db()
    before = stored_state(treated)
    course_one = treated.courses.get()
    first_day = course_one.first_infusion_date + timedelta(days=400)
    response = nurse_client.get(
        reverse("patients:schedule_preview", args=[treated.pk]),
        {"first_day": first_day.isoformat()},
    )
    assert response.status_code == 200
    preview = response.context["preview"]
    # The command's planning, for the same dates.
    expected = courses_preview(
        facts=[course_one.facts(), _fact(2, first_day)],
        protocol=treated.protocol,
        sex=treated.sex,
    )
    assert preview.new_end == expected.plan.end_of_follow_up > treated.follow_up_ends
    assert {check.panel for check in preview.baselines} >= {"blood_count", "thyroid"}
    assert "preview-check" in response.content.decode()
    assert stored_state(treated) == before
    assert treated.courses.count() == 1


def _fact(number, first_day):
    return CourseFacts(number=number, first_day=first_day, days=standard_days(number))


def test_the_what_if_preview_names_the_rule_a_date_breaks_and_bad_dates(nurse_client, treated):
    url = reverse("patients:schedule_preview", args=[treated.pk])
    early = treated.courses.get().first_infusion_date + timedelta(days=100)
    response = nurse_client.get(url, {"first_day": early.isoformat()})
    assert response.status_code == 200
    assert response.context["preview"].preview.problems
    overridden = nurse_client.get(url, {"first_day": early.isoformat(), "override": "Relapse"})
    assert overridden.context["preview"].preview.plan is not None
    bad = nurse_client.get(url, {"first_day": "2025-02-30"})
    assert bad.status_code == 200 and bad.context["form"].errors["first_day"]


# Another clinic.

NEW_SCREENS = [
    ("patients:edit", "patient"),
    ("patients:status", "patient"),
    ("patients:schedule_preview", "patient"),
    ("patients:course_edit", "course"),
    ("patients:course_cancel", "course"),
    ("patients:course_given", "course"),
]


@pytest.mark.parametrize(("name", "record"), NEW_SCREENS)
def test_a_nurse_of_another_clinic_gets_404_on_every_new_screen(
    client, clinic_b, treated, name, record
):
    nurse_b = staff_of(clinic_b, UserFactory(username="nurse_b"), Role.NURSE)
    sign_in(client, nurse_b)
    pk = treated.pk if record == "patient" else treated.courses.get().pk
    url = reverse(name, args=[pk])
    versions = (treated.history.count(), InfusionCourse.history.count())
    assert client.get(url).status_code == 404
    assert client.post(url, keyed({"reason": "x", "status": "deceased"})).status_code in (404, 405)
    assert (treated.history.count(), InfusionCourse.history.count()) == versions
