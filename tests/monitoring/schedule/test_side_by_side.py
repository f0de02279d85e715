"""Two therapies' schedules side by side: an alemtuzumab patient who starts ocrelizumab has the
ocrelizumab blood counts on alemtuzumab's monthly blood-count visits (share_visits). The visit
is one visit and one draw everywhere: the worklist, the reminders and alerts, the portal, the
calendar, the patient page; one result completes both checks; waiving one therapy's check
un-shares the other; stopping ocrelizumab cancels its future checks and plans what follows a
stop; alemtuzumab's own schedule never changes."""

from datetime import UTC, date, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from labfeeds.fhir.resources import care_plan_checks, care_plan_resource
from monitoring.alerts.follow_up_end import follow_up_end_scan
from monitoring.alerts.scans import clinics_alerting, scans_run
from monitoring.alerts.services import check_waive
from monitoring.models import Notification, ScheduledCheck
from monitoring.results.services import report_mark_in_error
from monitoring.worklist.selectors import worklist_for
from patients.models import Patient, StopReason, TherapyEpisode
from patients.selectors import patient_page
from patients.therapies.services import episode_start, episode_stop
from portal.calendar_feed import feed_checks, feed_visits
from portal.selectors import portal_home, portal_schedule
from tests.builders import nurse_of, report, with_course_one
from tests.factories import PatientFactory
from tests.test_query_counts import statements

pytestmark = pytest.mark.django_db

# Saturday 21 November 2026, 10:00 in London.
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 21)
EMAIL = "patient@example.org"

# Course 1 on 24 May: alemtuzumab's monthly blood count is due on the 24th (window from the
# 17th to the 1st). Ocrelizumab from 22 May: its six-monthly blood count, due on the 22nd of
# November, is two days from alemtuzumab's and moves onto that visit.
COURSE_ONE = date(2026, 5, 24)
OCRELIZUMAB_START = date(2026, 5, 22)
SHARED_DUE = date(2026, 11, 24)
# A month earlier: the shared visit (24 October) is overdue by November 21.
EARLY_COURSE_ONE = date(2026, 4, 24)
EARLY_START = date(2026, 4, 22)
OVERDUE_SHARED_DUE = date(2026, 10, 24)

BLOOD_COUNT = {"platelets": "250", "neutrophils": "3.0", "wbc": "6.0", "haemoglobin": "135"}


def side_by_side(patient, by, *, course_one=COURSE_ONE, start=OCRELIZUMAB_START):
    with_course_one(patient, on=course_one, given=True)
    return episode_start(patient=patient, therapy="ocrelizumab", started_on=start, recorded_by=by)


def blood_counts_due(patient, due, queryset=None):
    queryset = queryset if queryset is not None else ScheduledCheck.objects.pending()
    return list(queryset.filter(patient=patient, panel="blood_count", due_date=due).order_by("pk"))


def alemtuzumab_checks(patient):
    """Alemtuzumab's stored checks as plain values, without the time of the last write."""
    return list(
        ScheduledCheck.objects.filter(patient=patient, episode=None)
        .order_by("pk")
        .values(
            "pk",
            "protocol_item_id",
            "panel",
            "kind",
            "month_offset",
            "course_id",
            "shares_visit",
            "due_date",
            "window_opens",
            "overdue_after",
            "before_tracking",
            "completed_on",
            "waived_at",
            "cancelled_at",
            "cancelled_reason",
        )
    )


@pytest.fixture
def nurse(clinic_a):
    return nurse_of(clinic_a, "nurse_visits")


@pytest.fixture
def shared(patient, nurse):
    """`patient` on alemtuzumab and ocrelizumab, their blood counts sharing 24 November."""
    side_by_side(patient, nurse)
    return patient


@pytest.fixture
def shared_overdue(patient, nurse):
    """The same a month earlier: the shared visit of 24 October is overdue."""
    side_by_side(patient, nurse, course_one=EARLY_COURSE_ONE, start=EARLY_START)
    return patient


def test_ocrelizumab_shares_alemtuzumabs_visit_and_leaves_its_schedule_as_it_was(patient, nurse):
    with_course_one(patient, on=COURSE_ONE, given=True)
    before = alemtuzumab_checks(patient)

    episode = episode_start(
        patient=patient, therapy="ocrelizumab", started_on=OCRELIZUMAB_START, recorded_by=nurse
    )

    assert alemtuzumab_checks(patient) == before
    host, guest = blood_counts_due(patient, SHARED_DUE)
    assert (host.episode_id, host.shares_visit) == (None, False)
    assert (guest.episode_id, guest.shares_visit) == (episode.pk, True)
    assert (guest.window_opens, guest.overdue_after) == (host.window_opens, host.overdue_after)
    # Shown once: open() and its twin leave the guest out, pending() (planning, results)
    # keeps it.
    assert blood_counts_due(patient, SHARED_DUE, ScheduledCheck.objects.open()) == [host]
    assert [check.is_shown for check in (host, guest)] == [True, False]
    shown = set(ScheduledCheck.objects.filter(patient=patient).shown().values_list("pk", flat=True))
    assert shown == {c.pk for c in ScheduledCheck.objects.filter(patient=patient) if c.is_shown}


def test_the_worklist_shows_the_shared_visit_once_and_counts_it_once(shared_overdue, nurse):
    patient = shared_overdue
    worklist = worklist_for(nurse, now=NOW)

    [row] = [r for r in worklist.sections["overdue"].rows if r.patient.pk == patient.pk]
    checks = [check for visit in row.visits for check in visit.checks]
    assert len(blood_counts_due(patient, OVERDUE_SHARED_DUE)) == 2
    assert [
        c.pk for c in checks if c.panel == "blood_count" and c.due_date == OVERDUE_SHARED_DUE
    ] == [blood_counts_due(patient, OVERDUE_SHARED_DUE)[0].pk]
    pending_overdue = ScheduledCheck.objects.pending().filter(
        patient=patient, before_tracking=False, overdue_after__lt=TODAY
    )
    assert row.overdue_total == pending_overdue.count() - 1


def test_the_week_ahead_shows_the_shared_visit_once(shared, nurse):
    worklist = worklist_for(nurse, now=NOW)

    rows = [
        r for section in worklist.sections.values() for r in section.rows if r.patient == shared
    ]
    [row] = rows
    [visit] = [visit for visit in row.visits if visit.due_date == SHARED_DUE]
    assert [check.panel for check in visit.checks].count("blood_count") == 1


def test_the_portal_and_the_calendar_show_one_test_on_the_shared_day(shared):
    home = portal_home(shared, today=TODAY)
    assert home.next_visit.due == SHARED_DUE
    assert [words.startswith("Blood count") for words in home.next_visit.tests].count(True) == 1

    schedule = portal_schedule(shared, today=TODAY)
    [day] = [day for day in schedule.due_now if day.due == SHARED_DUE]
    assert [words.startswith("Blood count") for words in day.tests].count(True) == 1
    assert [episode.therapy for episode in schedule.episodes] == ["ocrelizumab"]

    [visit] = [
        v for v in feed_visits(feed_checks(shared, today=TODAY), today=TODAY) if v.day == SHARED_DUE
    ]
    assert [check.panel for check in visit.checks].count("blood_count") == 1


def test_reminders_overdue_alerts_and_escalations_once_for_one_draw(patient, nurse, clinic_a):
    patient.email = EMAIL
    patient.reminder_leads = Patient.ReminderLeads.FOURTEEN_SEVEN_ONE
    patient.save()
    side_by_side(patient, nurse, course_one=EARLY_COURSE_ONE, start=EARLY_START)
    # And the visit of 24 November, a reminder away, shared too? Only October's is (the
    # six-monthly count); so add the reminder case with a second patient on the later dates.
    later = PatientFactory(clinic=clinic_a, email=EMAIL, reminder_leads=patient.reminder_leads)
    side_by_side(later, nurse)

    scans_run(now=NOW)

    overdue_host, overdue_guest = blood_counts_due(patient, OVERDUE_SHARED_DUE)
    told = Notification.objects.filter(scheduled_check__in=[overdue_host, overdue_guest])
    assert set(
        told.filter(kind=Notification.Kind.OVERDUE).values_list("scheduled_check", flat=True)
    ) == {overdue_host.pk}
    assert told.filter(kind=Notification.Kind.OVERDUE, recipient_patient=patient).count() == 1
    assert set(
        told.filter(kind=Notification.Kind.ESCALATION).values_list("scheduled_check", flat=True)
    ) <= {overdue_host.pk}
    due_host, due_guest = blood_counts_due(later, SHARED_DUE)
    reminded = Notification.objects.filter(
        kind=Notification.Kind.DUE_SOON, scheduled_check__in=[due_host, due_guest]
    )
    assert reminded.exists()
    assert set(reminded.values_list("scheduled_check", flat=True)) == {due_host.pk}


def test_the_patient_page_and_the_care_plan_name_both_therapies_once(shared, client_a):
    page = patient_page(shared, today=TODAY)
    days = [day for month in page.timeline.values() for day in month]
    [day] = [day for day in days if day.day == SHARED_DUE]
    [check] = [c for c in day.checks if c.panel == "blood_count"]
    assert check.visit_for == "alemtuzumab follow-up and ocrelizumab"
    # Every day of the timeline lists each test once, and each shared visit names both.
    assert all(
        len([c.panel for c in day.checks]) == len({c.panel for c in day.checks}) for day in days
    )
    shared_days = [day for day in days for c in day.checks if c.visit_for]
    response = client_a.get(reverse("patients:detail", args=[shared.pk]))
    assert response.content.decode().count(
        "Blood count — alemtuzumab follow-up and ocrelizumab"
    ) == len(shared_days)

    resource = care_plan_resource(shared, care_plan_checks(shared))
    marked = [
        activity["detail"]["description"]
        for activity in resource["activity"]
        if "same visit and blood draw" in activity["detail"]["description"]
    ]
    guests = ScheduledCheck.objects.filter(patient=shared, shares_visit=True).count()
    assert len(marked) == guests > 0
    assert all("alemtuzumab follow-up check" in text for text in marked)
    assert resource["title"] == "Monitoring of disease-modifying therapies"
    assert "Ocrelizumab" in resource["description"]
    assert "end" not in resource["period"]  # ocrelizumab runs on past alemtuzumab's end


def test_one_result_in_the_window_completes_both_and_in_error_reopens_both(shared, nurse):
    lab = report(
        shared,
        "blood_count",
        BLOOD_COUNT,
        entered_by=nurse,
        sample=date(2026, 11, 23),
        today=date(2026, 11, 25),
    )

    checks = blood_counts_due(shared, SHARED_DUE, ScheduledCheck.objects.all())
    assert [(c.completed_on, c.completed_by_id) for c in checks] == [
        (date(2026, 11, 23), lab.pk)
    ] * 2

    report_mark_in_error(report=lab, reason="Wrong patient", marked_by=nurse)
    assert len(blood_counts_due(shared, SHARED_DUE)) == 2


def test_a_late_result_completes_both_checks_of_the_overdue_visit(shared_overdue, nurse):
    # 10 November: after October's window closed (31 Oct), before November's opens (17 Nov).
    sample = date(2026, 11, 10)
    lab = report(
        shared_overdue, "blood_count", BLOOD_COUNT, entered_by=nurse, sample=sample, today=TODAY
    )

    checks = blood_counts_due(shared_overdue, OVERDUE_SHARED_DUE, ScheduledCheck.objects.all())
    assert len(checks) == 2
    assert [(c.completed_on, c.completed_by_id) for c in checks] == [(sample, lab.pk)] * 2
    # Nothing else was taken for it: September's count is still overdue.
    assert blood_counts_due(shared_overdue, date(2026, 9, 24))


def test_waiving_alemtuzumabs_check_gives_ocrelizumabs_its_own_dates_again(shared, nurse):
    host, guest = blood_counts_due(shared, SHARED_DUE)

    check_waive(check=host, reason="Done at another hospital.", waived_by=nurse, now=timezone.now())

    guest.refresh_from_db()
    host.refresh_from_db()
    assert host.waived_at is not None
    assert guest.waived_at is None and not guest.shares_visit
    assert guest.due_date == date(2026, 11, 22)  # six months from the start, its own date
    assert ScheduledCheck.objects.open().filter(pk=guest.pk).exists()


def test_waiving_ocrelizumabs_check_leaves_alemtuzumabs_alone(shared, nurse):
    host, guest = blood_counts_due(shared, SHARED_DUE)
    before = alemtuzumab_checks(shared)

    check_waive(check=guest, reason="Not needed this time.", waived_by=nurse, now=timezone.now())

    assert alemtuzumab_checks(shared) == before
    assert blood_counts_due(shared, SHARED_DUE, ScheduledCheck.objects.open()) == [host]


def test_stopping_ocrelizumab_cancels_its_future_checks_and_plans_what_follows(shared, nurse):
    episode = TherapyEpisode.objects.get(patient=shared, therapy="ocrelizumab")
    before = alemtuzumab_checks(shared)
    stop = date(2026, 12, 10)

    episode_stop(episode=episode, stopped_on=stop, reason=StopReason.SWITCHED, stopped_by=nurse)

    checks = ScheduledCheck.objects.filter(episode=episode)
    future = checks.filter(due_date__gt=stop, kind="on_therapy")
    assert future.exists()
    assert set(future.values_list("cancelled_reason", flat=True)) == {
        "Ocrelizumab stopped on 10 Dec 2026."
    }
    after = checks.filter(kind="after_stop", cancelled_at=None)
    assert [(c.panel, c.due_date) for c in after] == [("immunoglobulins", date(2027, 6, 10))]
    # The shared visit before the stop stays, and alemtuzumab's schedule does not move.
    assert len(blood_counts_due(shared, SHARED_DUE)) == 2
    assert alemtuzumab_checks(shared) == before


def test_a_running_therapy_holds_a_patient_whose_follow_up_ended(patient, nurse):
    with_course_one(patient, on=date(2020, 6, 1), given=True)
    episode = episode_start(
        patient=patient, therapy="ocrelizumab", started_on=date(2026, 1, 5), recorded_by=nurse
    )
    patient.refresh_from_db()
    assert patient.follow_up_ends < TODAY
    # Everything done: only the running therapy is left to hold the patient.
    ScheduledCheck.objects.pending().update(completed_on=date(2026, 11, 1))
    clinics = clinics_alerting(NOW)

    follow_up_end_scan(now=NOW, clinics=clinics)
    patient.refresh_from_db()
    assert patient.status == Patient.Status.ACTIVE

    episode_stop(
        episode=episode, stopped_on=date(2026, 6, 1), reason=StopReason.SWITCHED, stopped_by=nurse
    )
    ScheduledCheck.objects.pending().update(completed_on=date(2026, 11, 1))
    follow_up_end_scan(now=NOW, clinics=clinics)
    patient.refresh_from_db()
    assert patient.status == Patient.Status.MONITORING_COMPLETE
    assert not ScheduledCheck.objects.filter(
        patient=patient, episode=episode, cancelled_reason="After the end of follow-up."
    ).exists()


def test_a_patient_on_another_therapy_only_is_planned_and_on_the_worklist(patient, nurse, client_a):
    episode_start(
        patient=patient, therapy="ocrelizumab", started_on=date(2026, 9, 1), recorded_by=nurse
    )
    patient.refresh_from_db()
    assert patient.is_planned and patient.follow_up_ends is None

    worklist = worklist_for(nurse, now=NOW)
    assert patient.pk in {r.patient.pk for r in worklist.sections["overdue"].rows}
    follow_up_end_scan(now=NOW, clinics=clinics_alerting(NOW))
    patient.refresh_from_db()
    assert patient.status == Patient.Status.ACTIVE
    page = client_a.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert "add course 1 to plan the schedule" not in page
    assert "No alemtuzumab course: the schedule comes from the patient" in page


def test_the_worklist_and_scans_query_counts_do_not_grow_with_shared_visits(clinic_a, nurse):
    def add(count):
        for _ in range(count):
            patient = PatientFactory(clinic=clinic_a, email=EMAIL)
            side_by_side(patient, nurse, course_one=EARLY_COURSE_ONE, start=EARLY_START)

    def run():
        worklist = statements(lambda: worklist_for(nurse, now=NOW))
        return worklist, statements(lambda: scans_run(now=NOW))

    add(1)
    small = run()
    Notification.objects.all().delete()  # the second run finds the same alerts to make
    add(4)
    # The same statements whatever the number of patients and shared visits: the worklist's
    # sections, rows and notes, and each scan's few set-based queries and inserts.
    assert run() == small


def test_a_complete_patient_who_starts_another_therapy_keeps_its_checks_going(patient, nurse):
    with_course_one(patient, on=date(2020, 6, 1), given=True)
    ScheduledCheck.objects.pending().update(completed_on=date(2026, 11, 1))
    clinics = clinics_alerting(NOW)
    follow_up_end_scan(now=NOW, clinics=clinics)
    patient.refresh_from_db()
    assert patient.status == Patient.Status.MONITORING_COMPLETE

    episode = episode_start(
        patient=patient, therapy="ocrelizumab", started_on=date(2026, 9, 1), recorded_by=nurse
    )
    patient.refresh_from_db()
    # Monitoring starts again, as it does with a new course, and the history says why.
    assert patient.status == Patient.Status.ACTIVE
    assert patient.history.first().history_change_reason == (
        "Ocrelizumab started: monitoring starts again."
    )
    follow_up_end_scan(now=NOW, clinics=clinics)
    patient.refresh_from_db()
    assert patient.status == Patient.Status.ACTIVE

    live = ScheduledCheck.objects.open().filter(episode=episode)
    assert live.filter(due_date__gt=patient.follow_up_ends).exists()
    worklist = worklist_for(nurse, now=NOW)
    assert patient.pk in {r.patient.pk for r in worklist.sections["overdue"].rows}
