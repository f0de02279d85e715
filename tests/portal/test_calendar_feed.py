"""The private calendar feed: valid iCalendar with one all-day event per open check, titles
that say only what kind of test, dates that are the clinic's due dates, a stable UID per check
so a moved check moves its event, and 404 for an unknown, revoked or replaced address."""

from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from audit.models import EntrySubject
from monitoring.models import ScheduledCheck
from patients.services import course_update
from portal.calendar_feed import calendar_feed_create
from portal.plain_words import CALENDAR_SUMMARIES
from tests.builders import two_courses, with_course_one
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.forms import keyed

pytestmark = pytest.mark.django_db

CALENDAR = reverse("portal:calendar")


def make_feed(patient_client) -> str:
    """Make a feed through the portal page; the address it shows once, as a path."""
    patient_client.post(CALENDAR, keyed({"action": "create"}))
    page = patient_client.get(CALENDAR)
    return urlsplit(page.context["https_url"]).path


def events_of(response):
    calendar = Calendar.from_ical(response.content)
    return calendar, {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_the_feed_of_a_two_course_patient_is_valid_icalendar_with_one_event_per_open_check(
    patient_client, patient, clinic_a
):
    two_courses(patient, first=clinic_a.today() - timedelta(days=200))
    ScheduledCheck.objects.filter(patient=patient, due_date__lt=clinic_a.today()).update(
        completed_on=clinic_a.today()
    )
    path = make_feed(patient_client)

    response = Client().get(path)  # a calendar app: not signed in

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    calendar, events = events_of(response)
    open_checks = {
        f"check-{check.pk}@localhost": check
        for check in ScheduledCheck.objects.open().filter(patient=patient)
    }
    assert len(events) == len(open_checks) > 100
    assert set(events) == set(open_checks)
    assert {str(event["SUMMARY"]) for event in events.values()} <= set(CALENDAR_SUMMARIES)
    for uid, event in events.items():
        assert event.decoded("DTSTART") == open_checks[uid].due_date
        assert event.decoded("DTEND") == open_checks[uid].due_date + timedelta(days=1)
        assert "DTSTAMP" in event
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/London"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    assert "X-PUBLISHED-TTL:PT6H" in response.content.decode()


def test_the_feed_carries_no_health_details(patient_client, patient, clinic_a):
    two_courses(patient, first=clinic_a.today() - timedelta(days=30))
    body = Client().get(make_feed(patient_client)).content.decode()

    for detail in (
        "platelet", "TSH", "creatinine", "urinalysis", "Blood count", "Thyroid (TSH)",
        "alemtuzumab", "Lemtrada", patient.family_name, patient.hospital_number,
    ):  # fmt: skip
        assert detail not in body
    assert clinic_a.name in body and "/portal/" in body


def test_a_moved_schedule_moves_the_event_and_keeps_its_uid(patient_client, patient, clinic_a):
    two_courses(patient, first=date(2026, 1, 15))
    path = make_feed(patient_client)
    # A monthly check a year in: it moves with course 1 and stays inside the follow-up.
    check = ScheduledCheck.objects.get(
        patient=patient, kind="recurring", panel="blood_count", month_offset=12
    )
    uid = f"check-{check.pk}@localhost"
    _, before = events_of(Client().get(path))

    course_one = patient.courses.get(number=1)
    course_update(
        course=course_one, reason="Started a week late", first_infusion_date=date(2026, 1, 22)
    )

    _, after = events_of(Client().get(path))
    check.refresh_from_db()
    assert before[uid].decoded("DTSTART") != after[uid].decoded("DTSTART") == check.due_date


def test_a_revoked_feed_is_404(patient_client, patient, clinic_a):
    two_courses(patient, first=date(2026, 1, 15))
    path = make_feed(patient_client)
    assert Client().get(path).status_code == 200

    patient_client.post(CALENDAR, keyed({"action": "revoke"}))

    assert Client().get(path).status_code == 404
    assert patient_client.get(CALENDAR).context["feed"] is None


def test_a_new_address_replaces_the_old_one(patient_client, patient):
    old = make_feed(patient_client)
    new = make_feed(patient_client)

    assert old != new
    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 200


def test_an_unknown_address_is_404(client):
    path = reverse("portal:calendar_feed", kwargs={"token": "x" * 43})

    assert client.get(path).status_code == 404


def test_the_address_is_shown_once_and_only_its_hash_is_kept(patient_client, patient):
    patient_client.post(CALENDAR, keyed({"action": "create"}))
    first = patient_client.get(CALENDAR)
    second = patient_client.get(CALENDAR)

    secret = urlsplit(first.context["https_url"]).path.rsplit("/", 1)[1].removesuffix(".ics")
    assert first.context["webcal_url"].startswith("webcal://localhost:8000/portal/calendar/")
    assert "https_url" not in second.context and second.context["feed"] is not None
    assert secret not in second.content.decode()
    assert secret not in patient.calendar_feeds.get().token_hash


def test_a_switched_off_account_switches_the_feed_off(patient_client, patient, patient_user):
    path = make_feed(patient_client)
    patient_user.is_active = False
    patient_user.save(update_fields=["is_active"])

    assert Client().get(path).status_code == 404


def test_events_are_the_clinics_dates_in_its_own_time_zone(clinic_b):
    auckland = ClinicFactory(code="auckland", time_zone="Pacific/Auckland")
    patient = PatientFactory(clinic=auckland, user=UserFactory(username="kiri@example.org"))
    two_courses(patient, first=date(2026, 3, 31))
    _, secret = calendar_feed_create(patient=patient, now=patient.created_at)

    calendar, events = events_of(Client().get(reverse("portal:calendar_feed", args=[secret])))

    assert str(calendar["X-WR-TIMEZONE"]) == "Pacific/Auckland"
    due = {f"check-{c.pk}@localhost": c.due_date for c in patient.scheduled_checks.all()}
    assert {uid: event.decoded("DTSTART") for uid, event in events.items()} == due


def test_the_feed_query_count_does_not_grow_with_the_schedule(clinic_a, django_assert_num_queries):
    small = PatientFactory(clinic=clinic_a, user=UserFactory(username="small"))
    with_course_one(small, on=date(2026, 9, 1))
    large = PatientFactory(clinic=clinic_a, user=UserFactory(username="large"))
    two_courses(large, first=date(2024, 1, 15))
    client = Client()

    for patient, events in ((small, 5), (large, 200)):
        _, secret = calendar_feed_create(patient=patient, now=patient.created_at)
        # savepoint and release (ATOMIC_REQUESTS), the feed with its patient, clinic and
        # account, the audit trail's access entry and its link to the patient, the open checks
        with django_assert_num_queries(6):
            response = client.get(reverse("portal:calendar_feed", args=[secret]))
        assert len(events_of(response)[1]) > events


def test_each_fetch_of_the_feed_is_recorded_without_a_user(patient_client, patient):
    path = make_feed(patient_client)

    Client().get(path)

    access = LogEntry.Action.ACCESS
    entry = EntrySubject.objects.get(patient=patient, entry__action=access).entry
    assert entry.actor is None and entry.additional_data == {"viewed": "calendar feed"}
