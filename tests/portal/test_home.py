"""The patient's pages: a short home page (overdue, the next visit, links), the schedule
(every date, courses, end of follow-up), and the results their clinic has reviewed, newest
first a page at a time, in plain words; each a fixed number of queries."""

import re
from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from dateutil.relativedelta import relativedelta
from django.db import connection
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role, grant_role
from audit.models import EntrySubject
from monitoring.alerts.scans import scans_run
from monitoring.alerts.services import check_waive
from monitoring.models import ScheduledCheck
from monitoring.results.services import result_mark_in_error
from portal.selectors import RESULTS_PER_PAGE
from tests.auth import sign_in
from tests.builders import acknowledge, platelets, treated_patient, two_courses, with_course_one
from tests.builders import report as build_report
from tests.factories import PatientFactory, UserFactory
from tests.portal.shown_dates import shown_dates

pytestmark = pytest.mark.django_db

HOME = reverse("portal:home")
SCHEDULE = reverse("portal:schedule")
RESULTS = reverse("portal:results")


def days_listed(schedule):
    return [
        day.due
        for section in (schedule.overdue, schedule.due_now, schedule.upcoming)
        for day in section
    ]


def test_the_schedule_shows_the_patients_own_tests_and_not_another_patients(
    patient_client, patient, clinic_a
):
    today = clinic_a.today()
    with_course_one(patient, days_ago=75, given=True)
    treated_patient(clinic_a, days_ago=40, given=True, given_name="Otto", hospital_number="OTHER-1")

    response = patient_client.get(SCHEDULE)

    schedule = response.context["schedule"]
    own = set(patient.scheduled_checks.values_list("due_date", flat=True))
    assert days_listed(schedule) and set(days_listed(schedule)) <= own
    # Course 1 was 75 days ago and nothing was done: the first months are overdue.
    assert schedule.overdue
    page = response.content.decode()
    assert "Overdue" in page and "Blood count" in page
    assert "Otto" not in page and "OTHER-1" not in page
    last_infusion = today - timedelta(days=75) + timedelta(days=4)
    assert schedule.end_of_follow_up == last_infusion + relativedelta(months=60)
    assert [course.number for course in schedule.courses] == [1]
    home = patient_client.get(HOME).content.decode()
    assert "Otto" not in home and "Overdue" in home


def test_overdue_tests_say_when_they_were_due_and_never_a_window_that_has_passed(
    patient_client, patient, clinic_a
):
    with_course_one(patient, days_ago=75, given=True)
    today = clinic_a.today()
    first = (
        ScheduledCheck.objects.open()
        .filter(patient=patient, overdue_after__lt=today)
        .earliest("due_date")
    )

    for url in (HOME, SCHEDULE):
        page = patient_client.get(url).content.decode()
        assert "please book" in page.lower()
        # Every "Any day ..." sentence on the page is about a window still open.
        for sentence in re.findall(r"Any day[^.<]*\.", page):
            assert all(day >= today for day in shown_dates(sentence)), sentence
    schedule = patient_client.get(SCHEDULE).content.decode()
    assert f"Was due {first.due_date:%-d %b %Y}" in schedule


def test_the_end_of_follow_up_moves_with_the_second_course(patient_client, patient):
    two_courses(patient, first=date(2025, 1, 15))

    schedule = patient_client.get(SCHEDULE).context["schedule"]

    # Course 2 runs 15-17 February 2026; the default protocol follows for 60 months after.
    assert schedule.end_of_follow_up == date(2031, 2, 17)
    assert "17 Feb 2031" in patient_client.get(SCHEDULE).content.decode()


def test_a_patient_whose_monitoring_is_complete_is_told_what_still_needs_a_call(
    patient_client, patient
):
    patient.tracked_from = date(2026, 1, 1)
    patient.save(update_fields=["tracked_from"])
    two_courses(patient, first=date(2019, 1, 14))
    scans_run(now=timezone.now())

    page = patient_client.get(HOME).content.decode()

    assert "Your routine monitoring ended on" in page
    assert "unusual bruising or bleeding" in page
    assert "continue until" not in page
    assert "No more tests are planned." in page


def test_an_unreviewed_red_result_is_hidden_and_shown_in_plain_words_once_acknowledged(
    patient_client, patient, nurse_a
):
    result = platelets(patient, 80, entered_by=nurse_a, days_ago=3)
    assert result.tier == "red"

    before = patient_client.get(RESULTS)
    acknowledge(result, nurse_a)
    after = patient_client.get(RESULTS)

    assert before.context["results"].groups == []
    [group] = after.context["results"].groups
    [line] = group.lines
    assert line.name == "Platelet count" and line.flagged
    assert line.words.startswith("Your platelet count was clearly lower than the usual range.")
    assert "Your clinic has been in touch about it, or will call you today." in line.words
    page = after.content.decode()
    assert "Your platelet count was clearly lower than the usual range." in page
    # No tier names, no clinicians' next actions, no nurse's note.
    for jargon in ("red", "critical", "ITP", "haematology", result.next_action, "Spoke to"):
        assert jargon not in line.words
    assert result.next_action not in page and "Spoke to the patient" not in page


def test_a_normal_result_shows_as_soon_as_it_is_recorded(patient_client, patient, nurse_a):
    platelets(patient, 250, entered_by=nurse_a, days_ago=3)

    [group] = patient_client.get(RESULTS).context["results"].groups

    assert group.lines[0].words == "In the usual range." and not group.lines[0].flagged


def test_a_report_waits_until_every_flagged_result_in_it_is_reviewed(
    patient_client, patient, nurse_a
):
    report = build_report(
        patient,
        "blood_count",
        {"platelets": "45", "haemoglobin": "135"},
        entered_by=nurse_a,
        days_ago=2,
    )

    # The normal haemoglobin alone would look like an all-clear.
    assert patient_client.get(RESULTS).context["results"].groups == []

    acknowledge(report.results.get(analyte__code="platelets"), nurse_a, action="referred")
    [group] = patient_client.get(RESULTS).context["results"].groups
    assert [line.name for line in group.lines] == [
        "Platelet count",
        "Haemoglobin (red blood cells)",
    ]
    assert "much lower than the usual range" in group.lines[0].words
    assert "A specialist will see you." in group.lines[0].words


def test_a_result_entered_in_error_is_not_shown(patient_client, patient, nurse_a):
    result = platelets(patient, 250, entered_by=nurse_a, days_ago=3)
    result_mark_in_error(result=result, reason="Wrong patient's sample.", marked_by=nurse_a)

    assert patient_client.get(RESULTS).context["results"].groups == []


def test_results_are_newest_first_a_page_at_a_time(patient_client, patient, nurse_a):
    for days_ago in range(1, 26):
        platelets(patient, 200 + days_ago, entered_by=nurse_a, days_ago=days_ago)

    first = patient_client.get(RESULTS).context["results"]
    second = patient_client.get(RESULTS, {"page": 2}).context["results"]
    third = patient_client.get(RESULTS, {"page": 3}).context["results"]

    dates = [group.sample_date for page in (first, second, third) for group in page.groups]
    assert len(first.groups) == len(second.groups) == RESULTS_PER_PAGE
    assert len(dates) == 25 and dates == sorted(dates, reverse=True)
    assert first.has_older and not first.has_newer
    assert second.has_older and second.has_newer
    assert third.has_newer and not third.has_older
    page = patient_client.get(RESULTS).content.decode()
    assert "Older results" in page and "Newer results" not in page
    # Nonsense in the address is page 1, not an error.
    assert patient_client.get(RESULTS, {"page": "x"}).status_code == 200


def test_staff_get_403_and_strangers_are_sent_to_sign_in(client_a, client):
    assert client_a.get(HOME).status_code == 403
    client_a.logout()
    response = client.get(HOME)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def portal_account(patient, username):
    user = UserFactory(username=username)
    grant_role(user, Role.PATIENT)
    patient.user = user
    patient.save(update_fields=["user"])
    return user


def years_into_follow_up(clinic, nurse, *, email="big@example.org"):
    """A patient five years into follow-up: two courses, most tests done, some missed, a
    result every month."""
    big = PatientFactory(clinic=clinic, email=email)
    today = clinic.today()
    two_courses(big, first=today - timedelta(days=5 * 365))
    old = ScheduledCheck.objects.open().filter(
        patient=big, overdue_after__lt=today - timedelta(days=200)
    )
    old.update(completed_on=F("due_date"))
    for days_ago in range(30, 5 * 365, 30):
        acknowledge(platelets(big, 120, entered_by=nurse, days_ago=days_ago), nurse)
    return big


def test_the_home_page_of_a_patient_years_into_follow_up_stays_short(
    patient_client, clinic_a, nurse_a
):
    big = years_into_follow_up(clinic_a, nurse_a)
    sign_in(patient_client, portal_account(big, "big@example.org"), second_factor=False)

    response = patient_client.get(HOME)

    home = response.context["home"]
    page = response.content.decode()
    assert home.overdue and home.more_overdue > 0 and home.next_visit
    # At most three overdue dates, the next visit and the date after it: the rest is a link.
    assert page.count("portal-overdue-day") == 3
    assert page.count("portal-test-day") == 1
    main = page.split('<div class="portal row">', 1)[1]
    # Each date and its tests (five at most on one day).
    assert main.count("<li") <= (3 + 1) * (1 + 5)
    assert "portal-result" not in page and "sample of" not in page
    for name in ("results", "schedule", "calendar", "reminders", "symptom_report"):
        assert f'href="{reverse(f"portal:{name}")}"' in page
    assert len(page) < 12_000
    # The full lists live on their own pages.
    assert len(patient_client.get(SCHEDULE).context["schedule"].completed) == 12
    assert len(patient_client.get(RESULTS).context["results"].groups) == RESULTS_PER_PAGE


def test_the_portal_pages_query_counts_do_not_grow_with_the_record(
    patient_client, patient, patient_user, nurse_a, clinic_a, django_assert_num_queries
):
    with_course_one(patient, days_ago=40, given=True)
    platelets(patient, 250, entered_by=nurse_a, days_ago=3)
    big = years_into_follow_up(clinic_a, nurse_a)
    big_user = portal_account(big, "big@example.org")

    # session, user, savepoint and release (ATOMIC_REQUESTS), the patient with clinic and
    # protocol (PatientPortalMixin), then the page's own reads and the audit trail's access
    # entry with its link to the patient (one statement on PostgreSQL). Whether the user is
    # staff (the second factor), and a patient (the navigation), come from the session's
    # access snapshot, and the session is not written again within a minute.
    base = 5 + (1 if connection.vendor == "postgresql" else 2)
    pages = {HOME: 1, SCHEDULE: 2, RESULTS: 2}
    small = {}
    for url, reads in pages.items():
        with django_assert_num_queries(base + reads):
            small[url] = patient_client.get(url)
    sign_in(patient_client, big_user, second_factor=False)
    for url, reads in pages.items():
        with django_assert_num_queries(base + reads):
            patient_client.get(url)

    assert len(small[RESULTS].context["results"].groups) == 1
    # The home page again, the record unchanged: kept drawn (patients.page_parts), no read of
    # the checks.
    with django_assert_num_queries(base):
        patient_client.get(HOME)


def test_the_kept_home_page_shows_a_change_to_the_record_at_once(
    patient_client, patient, nurse_a, clinic_a
):
    with_course_one(patient, days_ago=75, given=True)
    assert "portal-overdue" in patient_client.get(HOME).content.decode()

    now = timezone.now()
    for check in ScheduledCheck.objects.open().filter(
        patient=patient, overdue_after__lt=clinic_a.today()
    ):
        check_waive(check=check, reason="Done at the GP's surgery", waived_by=nurse_a, now=now)

    assert "portal-overdue" not in patient_client.get(HOME).content.decode()


def test_the_kept_home_page_shows_the_clinics_new_instructions(patient_client, patient, clinic_a):
    with_course_one(patient, days_ago=20, given=True)
    patient_client.get(HOME)
    clinic_a.test_instructions = "Blood room, level 2, from 8 am"
    clinic_a.save()
    assert "Blood room, level 2, from 8 am" in patient_client.get(HOME).content.decode()


def test_reading_the_portal_is_recorded_in_the_audit_trail(patient_client, patient, patient_user):
    patient_client.get(HOME)

    access = LogEntry.Action.ACCESS
    entry = EntrySubject.objects.get(patient=patient, entry__action=access).entry
    assert entry.actor == patient_user
    assert entry.additional_data == {"viewed": "portal home"}
