"""The patient's reminder e-mail never offers a window that has passed: an overdue test says
when it was due and asks for a booking; a test due soon quotes its window only while some of it
is ahead (issue 17: "Any day from 5 Aug 2026 to 4 Oct 2026 is fine", read in December)."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Notification, ScheduledCheck
from monitoring.outbox.messages import message_for
from tests.builders import with_course_one
from tests.portal.shown_dates import shown_dates

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


def row(check, kind):
    return Notification(
        kind=kind,
        delivery=Notification.Delivery.PATIENT_DAILY,
        patient=check.patient,
        scheduled_check=check,
        created_at=timezone.now(),
    )


def body_for(patient, rows):
    return message_for(Notification.Delivery.PATIENT_DAILY, patient, rows, uuid.uuid4()).body


def test_overdue_and_due_soon_lines_quote_no_past_window(patient, clinic_a):
    today = clinic_a.today()
    # Course 1 was 75 days ago and nothing was done: months 1 and 2 are overdue.
    with_course_one(patient, days_ago=75, given=True)
    checks = ScheduledCheck.objects.open().filter(patient=patient, panel="blood_count")
    overdue = checks.filter(overdue_after__lt=today).earliest("due_date")
    in_window, ahead = checks.filter(window_opens__gt=today).order_by("due_date")[:2]
    # The next test's window opened three days ago.
    in_window.window_opens = today - timedelta(days=3)
    in_window.save(update_fields=["window_opens"])
    late_due_soon = checks.filter(overdue_after__lt=today).latest("due_date")

    body = body_for(
        patient,
        [
            row(overdue, Kind.OVERDUE),
            # A due-soon reminder sent after the window closed reads as overdue.
            row(late_due_soon, Kind.DUE_SOON),
            row(in_window, Kind.DUE_SOON),
            row(ahead, Kind.DUE_SOON),
        ],
    )

    lines = [line for line in body.splitlines() if line.startswith("- ")]
    day = "%-d %b %Y"
    test = overdue.get_panel_display()
    assert lines == [
        f"- {test}: was due {overdue.due_date:{day}}. Please book it as soon as you can.",
        f"- {test}: was due {late_due_soon.due_date:{day}}. Please book it as soon as you can.",
        f"- {test}: due {in_window.due_date:{day}} (any day until "
        f"{in_window.overdue_after:{day}}).",
        f"- {test}: due {ahead.due_date:{day}} (any day from {ahead.window_opens:{day}} "
        f"to {ahead.overdue_after:{day}}).",
    ]
    for line in lines:
        if "any day" in line:
            assert all(found >= today for found in shown_dates(line.split("any day")[1])), line


def test_a_patient_with_a_portal_account_is_sent_to_its_reminders_page(
    settings, patient, patient_user, clinic_a
):
    settings.SITE_URL = "http://127.0.0.1:8123"
    with_course_one(patient, days_ago=75, given=True)
    check = ScheduledCheck.objects.open().filter(patient=patient).earliest("due_date")

    with_account = body_for(patient, [row(check, Kind.OVERDUE)])
    patient.user = None
    without = body_for(patient, [row(check, Kind.OVERDUE)])

    assert "in your portal: http://127.0.0.1:8123/portal/reminders/" in with_account
    assert "http" not in without and "by asking the clinic" in without
