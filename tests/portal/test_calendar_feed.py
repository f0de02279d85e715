"""The private calendar feed: valid iCalendar with one all-day event per visit day (never two
on one day, none before today: overdue visits are one event today), titles that say only what
kind of test, a stable UID per visit day, the patient's optional reminder alarm, windows quoted
only while ahead, and 404 for an unknown, revoked or replaced address."""

import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from audit.models import EntrySubject
from monitoring.models import ScheduledCheck
from portal.calendar_feed import calendar_feed_create, calendar_ical, feed_checks
from portal.plain_words import calendar_summary
from tests.builders import two_courses, with_course_one
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.forms import keyed
from tests.portal.shown_dates import shown_dates

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


TITLE = re.compile(
    r"^(Monitoring tests?: (blood|urine|thyroid)((, | and )(urine|thyroid))*(, and a check)?"
    r"|Monitoring check)$"
)


def test_the_feed_has_one_event_per_visit_day_and_none_before_today(
    patient_client, patient, clinic_a
):
    today = clinic_a.today()
    two_courses(patient, first=today - timedelta(days=200))
    ScheduledCheck.objects.filter(patient=patient, due_date__lt=today).update(completed_on=today)
    path = make_feed(patient_client)

    response = Client().get(path)  # a calendar app: not signed in

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    calendar, events = events_of(response)
    open_checks = ScheduledCheck.objects.open().filter(patient=patient)
    by_day = {}
    for check in open_checks:
        by_day.setdefault(check.due_date, []).append(check.panel)
    starts = [event.decoded("DTSTART") for event in events.values()]
    # Several checks share each date (blood count, kidney, urine...): one event for them all.
    assert len(open_checks) > len(by_day) > 50
    assert len(starts) == len(set(starts)) == len(by_day)
    assert set(starts) == set(by_day) and min(starts) >= today
    for uid, event in events.items():
        day = event.decoded("DTSTART")
        assert uid == f"visit-{patient.calendar_feeds.get().pk}-{day.isoformat()}@localhost"
        assert str(event["SUMMARY"]) == calendar_summary(by_day[day])
        assert TITLE.match(str(event["SUMMARY"])), event["SUMMARY"]
        assert event.decoded("DTEND") == day + timedelta(days=1)
        assert "DTSTAMP" in event and "VALARM" not in event.to_ical().decode()
    titles = {str(event["SUMMARY"]) for event in events.values()}
    assert "Monitoring tests: blood and urine" in titles
    assert "Monitoring tests: blood, urine and thyroid" in titles
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/London"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    assert "X-PUBLISHED-TTL:PT6H" in response.content.decode()


def test_overdue_visits_are_one_event_today_that_asks_for_a_booking(
    patient_client, patient, clinic_a
):
    today = clinic_a.today()
    # Course 1 was 75 days ago and nothing was done: months 1 and 2 are overdue.
    with_course_one(patient, days_ago=75, given=True)
    overdue = ScheduledCheck.objects.open().filter(patient=patient, overdue_after__lt=today)
    assert overdue.values("due_date").distinct().count() >= 2
    path = make_feed(patient_client)

    _, events = events_of(Client().get(path))

    todays = [event for event in events.values() if event.decoded("DTSTART") == today]
    [event] = todays
    assert str(event["UID"]) == f"visit-{patient.calendar_feeds.get().pk}-overdue@localhost"
    assert str(event["SUMMARY"]).startswith("Overdue monitoring tests: blood")
    assert str(event["SUMMARY"]).endswith("please book as soon as you can")
    first_due = min(check.due_date for check in overdue)
    description = str(event["DESCRIPTION"])
    assert f"It was due {first_due:%-d %b %Y}. Please book it as soon as you can." in description
    assert "Any day" not in description
    assert all(event.decoded("DTSTART") >= today for event in events.values())

    # Tomorrow the same event moves to the new today: the same UID, a later change.
    later = Client().get(path)
    assert str(events_of(later)[1][str(event["UID"])]["SUMMARY"]) == str(event["SUMMARY"])


def test_a_window_is_quoted_only_while_it_is_ahead(clinic_a):
    today = clinic_a.today()
    patient = PatientFactory(clinic=clinic_a, user=UserFactory(username="win"))
    # The first monthly tests are due about now: their window opened a few days ago.
    with_course_one(patient, days_ago=30, given=True)
    feed, _ = calendar_feed_create(patient=patient, now=patient.created_at)
    checks = feed_checks(patient)

    body = calendar_ical(
        feed=feed, clinic=clinic_a, checks=checks, portal_url="https://x/portal/", today=today
    )

    calendar = Calendar.from_ical(body)
    for event in calendar.walk("VEVENT"):
        day = event.decoded("DTSTART")
        description = str(event["DESCRIPTION"])
        dates = shown_dates(description)
        if "It was due" not in description:
            # Never a date of the window that has passed.
            assert all(found >= today for found in dates), description
        if day > today + timedelta(days=30):
            assert "Any day from" in description


def test_the_reminder_alarm_is_the_patients_choice_and_survives_a_new_link(
    patient_client, patient, clinic_a
):
    with_course_one(patient, days_ago=75, given=True)
    path = make_feed(patient_client)
    assert "BEGIN:VALARM" not in Client().get(path).content.decode()

    patient_client.post(CALENDAR, keyed({"action": "alarm", "reminder_alarm": "on"}))

    _, events = events_of(Client().get(path))
    today = clinic_a.today()
    for event in events.values():
        alarms = event.walk("VALARM")
        if event.decoded("DTSTART") == today:
            # The overdue visit: no "tomorrow" to remind of.
            assert alarms == []
            continue
        [alarm] = alarms
        # 09:00 the day before the all-day event's start.
        assert alarm.decoded("TRIGGER") == -timedelta(hours=15)
        assert str(alarm["ACTION"]) == "DISPLAY"
    page = patient_client.get(CALENDAR)
    assert page.context["alarm_form"].initial == {"reminder_alarm": True}

    new_path = make_feed(patient_client)
    assert "BEGIN:VALARM" in Client().get(new_path).content.decode()
    patient_client.post(CALENDAR, keyed({"action": "alarm"}))
    assert "BEGIN:VALARM" not in Client().get(new_path).content.decode()


def test_the_feed_carries_no_health_details(patient_client, patient, clinic_a):
    two_courses(patient, first=clinic_a.today() - timedelta(days=30))
    body = Client().get(make_feed(patient_client)).content.decode()

    for detail in (
        "platelet", "TSH", "creatinine", "urinalysis", "Blood count", "Thyroid (TSH)",
        "alemtuzumab", "Lemtrada", patient.family_name, patient.hospital_number,
    ):  # fmt: skip
        assert detail not in body
    assert clinic_a.name in body and "/portal/" in body


def test_a_changed_visit_keeps_its_uid_and_its_sequence_grows(patient_client, patient):
    two_courses(patient, first=date(2026, 1, 15))
    # Planned yesterday: the change below is seconds later, which iCalendar's times can show.
    ScheduledCheck.objects.filter(patient=patient).update(
        updated_at=timezone.now() - timedelta(days=1)
    )
    path = make_feed(patient_client)
    check = ScheduledCheck.objects.get(
        patient=patient, kind="recurring", panel="blood_count", month_offset=12
    )
    uid = f"visit-{patient.calendar_feeds.get().pk}-{check.due_date.isoformat()}@localhost"
    _, before = events_of(Client().get(path))
    _, again = events_of(Client().get(path))
    assert before[uid].to_ical() == again[uid].to_ical()

    # A check of that visit is waived: the visit stays, with fewer tests and a later change.
    check.waived_at = timezone.now()
    check.waived_reason = "Done at the GP"
    check.save()

    _, after = events_of(Client().get(path))
    assert after[uid]["SEQUENCE"] > before[uid]["SEQUENCE"]
    assert after[uid].decoded("LAST-MODIFIED") > before[uid].decoded("LAST-MODIFIED")


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
    today = auckland.today()
    days = {
        max(check.due_date, today)
        for check in ScheduledCheck.objects.open().filter(patient=patient)
    }
    assert {event.decoded("DTSTART") for event in events.values()} == days


def test_the_feed_query_count_does_not_grow_with_the_schedule(clinic_a, django_assert_num_queries):
    small = PatientFactory(clinic=clinic_a, user=UserFactory(username="small"))
    with_course_one(small, on=date(2026, 9, 1))
    large = PatientFactory(clinic=clinic_a, user=UserFactory(username="large"))
    two_courses(large, first=date(2024, 1, 15))
    client = Client()

    for patient, events in ((small, 5), (large, 30)):
        _, secret = calendar_feed_create(patient=patient, now=patient.created_at)
        # savepoint and release (ATOMIC_REQUESTS), the feed with its patient, clinic and
        # account, the audit trail's access entry and its link to the patient (one statement
        # on PostgreSQL), the checks
        with django_assert_num_queries(6 if connection.vendor != "postgresql" else 5):
            response = client.get(reverse("portal:calendar_feed", args=[secret]))
        assert len(events_of(response)[1]) > events


def test_each_fetch_of_the_feed_is_recorded_without_a_user(patient_client, patient):
    path = make_feed(patient_client)

    Client().get(path)

    access = LogEntry.Action.ACCESS
    entry = EntrySubject.objects.get(patient=patient, entry__action=access).entry
    assert entry.actor is None and entry.additional_data == {"viewed": "calendar feed"}
