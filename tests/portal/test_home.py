"""The patient's home page: their own tests (overdue first), courses and end of follow-up,
and only the results their clinic has reviewed, in plain words; a fixed number of queries."""

from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from dateutil.relativedelta import relativedelta
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role, grant_role
from audit.models import EntrySubject
from monitoring.alerts.scans import scans_run
from monitoring.results.services import result_mark_in_error
from tests.auth import sign_in
from tests.builders import acknowledge, platelets, treated_patient, two_courses, with_course_one
from tests.builders import report as build_report
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

HOME = reverse("portal:home")


def days_listed(home):
    return [day.due for section in (home.overdue, home.due_now, home.upcoming) for day in section]


def test_the_home_page_shows_the_patients_own_tests_and_not_another_patients(
    patient_client, patient, clinic_a
):
    today = clinic_a.today()
    with_course_one(patient, days_ago=75, given=True)
    treated_patient(clinic_a, days_ago=40, given=True, given_name="Otto", hospital_number="OTHER-1")

    response = patient_client.get(HOME)

    home = response.context["home"]
    own = set(patient.scheduled_checks.values_list("due_date", flat=True))
    assert days_listed(home) and set(days_listed(home)) <= own
    # Course 1 was 75 days ago and nothing was done: the first months are overdue.
    assert home.overdue
    page = response.content.decode()
    assert "Overdue" in page and "Blood count" in page
    assert "Otto" not in page and "OTHER-1" not in page
    last_infusion = today - timedelta(days=75) + timedelta(days=4)
    assert home.end_of_follow_up == last_infusion + relativedelta(months=60)
    assert [course.number for course in home.courses] == [1]


def test_the_end_of_follow_up_moves_with_the_second_course(patient_client, patient):
    two_courses(patient, first=date(2025, 1, 15))

    home = patient_client.get(HOME).context["home"]

    # Course 2 runs 15-17 February 2026; the default protocol follows for 60 months after.
    assert home.end_of_follow_up == date(2031, 2, 17)
    assert "17 Feb 2031" in patient_client.get(HOME).content.decode()


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

    before = patient_client.get(HOME)
    acknowledge(result, nurse_a)
    after = patient_client.get(HOME)

    assert before.context["home"].results == []
    [group] = after.context["home"].results
    [line] = group.lines
    assert line.name == "Platelet count" and line.flagged
    assert line.words.startswith("Your platelet count was lower than usual.")
    assert "Your nurse has reviewed it and has called you about it" in line.words
    page = after.content.decode()
    assert "Your platelet count was lower than usual." in page
    # No tier names, no clinicians' next actions, no nurse's note.
    for jargon in ("red", "critical", "ITP", "haematology", result.next_action, "Spoke to"):
        assert jargon not in line.words
    assert result.next_action not in page and "Spoke to the patient" not in page


def test_a_normal_result_shows_as_soon_as_it_is_recorded(patient_client, patient, nurse_a):
    platelets(patient, 250, entered_by=nurse_a, days_ago=3)

    [group] = patient_client.get(HOME).context["home"].results

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
    assert patient_client.get(HOME).context["home"].results == []

    acknowledge(report.results.get(analyte__code="platelets"), nurse_a, action="referred")
    [group] = patient_client.get(HOME).context["home"].results
    assert [line.name for line in group.lines] == [
        "Platelet count",
        "Haemoglobin (red blood cells)",
    ]
    assert "arranged for a specialist" in group.lines[0].words


def test_a_result_entered_in_error_is_not_shown(patient_client, patient, nurse_a):
    result = platelets(patient, 250, entered_by=nurse_a, days_ago=3)
    result_mark_in_error(result=result, reason="Wrong patient's sample.", marked_by=nurse_a)

    assert patient_client.get(HOME).context["home"].results == []


def test_staff_get_403_and_strangers_are_sent_to_sign_in(client_a, client):
    assert client_a.get(HOME).status_code == 403
    client_a.logout()
    response = client.get(HOME)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_home_page_query_count_does_not_grow_with_the_record(
    patient_client, patient, patient_user, nurse_a, clinic_a, django_assert_num_queries
):
    today = clinic_a.today()
    with_course_one(patient, days_ago=40, given=True)
    platelets(patient, 250, entered_by=nurse_a, days_ago=3)

    big = PatientFactory(clinic=clinic_a, email="big@example.org")
    two_courses(big, first=today - timedelta(days=800))
    for days_ago in range(1, 60, 3):
        acknowledge(platelets(big, 120, entered_by=nurse_a, days_ago=days_ago), nurse_a)
    big_user = UserFactory(username="big@example.org")
    grant_role(big_user, Role.PATIENT)
    big.user = big_user
    big.save(update_fields=["user"])

    # session, user, the second-factor middleware's "is this staff" check, savepoint and
    # release (ATOMIC_REQUESTS), the patient with clinic and protocol (PatientPortalMixin),
    # courses, checks, results (with their review in the same query), the audit trail's
    # access entry and its link to the patient, and the session saved (savepoint, update,
    # release). The navigation knows a patient from the session, without a query.
    with django_assert_num_queries(14):
        small = patient_client.get(HOME)
    sign_in(patient_client, big_user, second_factor=False)
    with django_assert_num_queries(14):
        large = patient_client.get(HOME)

    assert len(small.context["home"].results) == 1
    assert len(large.context["home"].results) == 20
    assert len(large.context["home"].completed) == 6 and large.context["home"].overdue


def test_reading_the_portal_is_recorded_in_the_audit_trail(patient_client, patient, patient_user):
    patient_client.get(HOME)

    access = LogEntry.Action.ACCESS
    entry = EntrySubject.objects.get(patient=patient, entry__action=access).entry
    assert entry.actor == patient_user
    assert entry.additional_data == {"viewed": "portal home"}
