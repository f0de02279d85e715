"""The nurse worklist and the screens that act on it, through the test client: what is listed
and in which order, acknowledging, follow-up notes and waivers, scoping to the nurse's clinics,
and a query count that does not grow with the data."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.alerts.services import check_follow_up
from monitoring.models import Acknowledgement, Notification, ScheduledCheck
from monitoring.outbox.store import notification_row
from monitoring.worklist import selectors as worklist
from monitoring.worklist.selectors import worklist_for
from patients.models import Patient
from tests.auth import sign_in
from tests.builders import nurse_of, platelets, treated_patient
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.forms import keyed

pytestmark = pytest.mark.django_db

WORKLIST = reverse("monitoring:worklist")


@pytest.fixture
def nurse_b(clinic_b):
    return nurse_of(clinic_b, "nurse_b")


@pytest.fixture
def client_nurse_a(client, nurse_a):
    return sign_in(client, nurse_a)


def hours_ago(hours: float):
    """When a result's flag was raised, for the tests of order and deadlines."""
    return timezone.now() - timedelta(hours=hours)


def overdue_of(patient):
    return list(
        ScheduledCheck.objects.open()
        .filter(patient=patient, overdue_after__lt=patient.clinic.today())
        .order_by("overdue_after", "pk")
    )


def failed_notification(result, user, error="550 mailbox unavailable"):
    """The alert about `result` to `user`, after every attempt to send it failed."""
    row = Notification.objects.get(result=result, recipient_user=user)
    row.status = Notification.Status.FAILED
    row.attempts = 6
    row.last_error = error
    row.save()
    return row


def listed(response, section):
    return getattr(response.context["worklist"], section).rows


def test_results_are_listed_critical_then_red_then_amber_oldest_first(
    client_nurse_a, nurse_a, clinic_a
):
    ann, bob, cat, dan = (PatientFactory(clinic=clinic_a) for _ in range(4))
    amber = platelets(ann, 120, entered_by=nurse_a, days_ago=1, tier_since=hours_ago(50))
    red_new = platelets(bob, 80, entered_by=nurse_a, days_ago=1, tier_since=hours_ago(1))
    critical = platelets(cat, 45, entered_by=nurse_a, days_ago=1, tier_since=hours_ago(0.5))
    red_old = platelets(dan, 80, entered_by=nurse_a, days_ago=1, tier_since=hours_ago(3))

    rows = listed(client_nurse_a.get(WORKLIST), "results")

    assert [r.pk for r in rows] == [critical.pk, red_old.pk, red_new.pk, amber.pk]


def test_results_past_the_clinics_deadline_are_marked_escalated(client_nurse_a, nurse_a, clinic_a):
    patient = PatientFactory(clinic=clinic_a)
    # The default deadline is 4 hours.
    late = platelets(patient, 45, entered_by=nurse_a, days_ago=1, tier_since=hours_ago(4.5))
    in_time = platelets(
        PatientFactory(clinic=clinic_a),
        40,
        entered_by=nurse_a,
        days_ago=1,
        tier_since=hours_ago(3.5),
    )

    rows = {r.pk: r for r in listed(client_nurse_a.get(WORKLIST), "results")}

    assert rows[late.pk].escalated and not rows[in_time.pk].escalated


def test_acknowledging_removes_the_result_and_records_who_when_what_and_why(
    client_nurse_a, nurse_a, patient
):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    url = reverse("monitoring:result_acknowledge", args=[result.pk])
    assert client_nurse_a.get(url).status_code == 200
    before = timezone.now()

    response = client_nurse_a.post(
        url,
        keyed(
            {"action": "called_patient", "note": "Admitted to day unit today.", "next": WORKLIST}
        ),
        follow=True,
    )

    assert response.redirect_chain == [(WORKLIST, 302)]
    assert "acknowledged" in response.content.decode()
    assert result.pk not in [r.pk for r in listed(response, "results")]
    ack = Acknowledgement.objects.get(result=result)
    assert (ack.acknowledged_by, ack.action, ack.note, ack.tier) == (
        nurse_a,
        "called_patient",
        "Admitted to day unit today.",
        "critical",
    )
    assert before <= ack.acknowledged_at <= timezone.now()


def test_acknowledging_without_a_note_is_refused_on_the_note_field(
    client_nurse_a, nurse_a, patient
):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    url = reverse("monitoring:result_acknowledge", args=[result.pk])

    response = client_nurse_a.post(url, keyed({"action": "called_patient", "note": "   "}))

    assert response.status_code == 200
    assert "Write a note" in " ".join(response.context["form"].errors["note"])
    assert 'id="id_note"' in response.content.decode()
    assert not Acknowledgement.objects.exists()


def test_a_second_acknowledgement_at_the_same_tier_is_refused_with_the_services_reason(
    client_nurse_a, nurse_a, patient
):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    url = reverse("monitoring:result_acknowledge", args=[result.pk])
    client_nurse_a.post(url, keyed({"action": "called_patient", "note": "Seen."}))

    again = client_nurse_a.post(url, keyed({"action": "called_patient", "note": "Seen twice."}))

    assert "already been acknowledged" in " ".join(again.context["form"].non_field_errors())
    assert Acknowledgement.objects.count() == 1


def test_only_a_local_next_address_is_followed(client_nurse_a, nurse_a, patient):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    url = reverse("monitoring:result_acknowledge", args=[result.pk])

    response = client_nurse_a.post(
        url,
        keyed({"action": "called_patient", "note": "Seen.", "next": "https://evil.example/phish"}),
    )

    assert response["Location"] == WORKLIST


def test_waiving_needs_a_reason_and_then_the_check_leaves_the_overdue_list(
    client_nurse_a, clinic_a
):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    check = overdue_of(patient)[0]
    assert check.pk in [c.pk for c in listed(client_nurse_a.get(WORKLIST), "overdue")]
    url = reverse("monitoring:check_waive", args=[check.pk])

    refused = client_nurse_a.post(url, keyed({"reason": ""}))

    assert refused.status_code == 200
    assert "Say why" in " ".join(refused.context["form"].errors["reason"])
    check.refresh_from_db()
    assert check.is_open

    done = client_nurse_a.post(
        url, keyed({"reason": "Done at the district hospital.", "next": WORKLIST})
    )

    assert done["Location"] == WORKLIST
    check.refresh_from_db()
    assert check.waived_reason == "Done at the district hospital."
    assert check.pk not in [c.pk for c in listed(client_nurse_a.get(WORKLIST), "overdue")]


def test_overdue_checks_come_longest_overdue_first_with_their_latest_follow_up(
    client_nurse_a, nurse_a, clinic_a
):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    oldest = overdue_of(patient)[0]
    url = reverse("monitoring:check_follow_up", args=[oldest.pk])
    client_nurse_a.post(url, keyed({"action": "called_patient", "note": "No answer."}))
    client_nurse_a.post(url, keyed({"action": "rebooked", "note": "Booked for Monday."}))

    response = client_nurse_a.get(WORKLIST)
    rows = listed(response, "overdue")

    assert [r.overdue_after for r in rows] == sorted(r.overdue_after for r in rows)
    assert rows[0].pk == oldest.pk
    assert rows[0].latest_follow_up.note == "Booked for Monday."
    assert "Booked for Monday." in response.content.decode()
    assert oldest.pk in [c.pk for c in listed(response, "overdue")]  # a note does not close it


def test_a_follow_up_note_without_an_action_is_refused(client_nurse_a, clinic_a):
    check = overdue_of(treated_patient(clinic_a, days_ago=75, given=True))[0]
    url = reverse("monitoring:check_follow_up", args=[check.pk])

    response = client_nurse_a.post(url, keyed({"action": "", "note": "Called."}))

    assert "Choose what was done" in " ".join(response.context["form"].errors["action"])
    assert not Acknowledgement.objects.exists()


def test_checks_overdue_longer_than_the_clinics_limit_are_marked_escalated(
    client_nurse_a, clinic_a
):
    clinic_a.overdue_escalation_days = 30
    clinic_a.save()
    treated_patient(clinic_a, days_ago=75, given=True)
    today = clinic_a.today()
    rows = listed(client_nurse_a.get(WORKLIST), "overdue")

    assert rows
    for row in rows:
        assert row.escalated == (row.overdue_after < today - timedelta(days=30))
        assert row.days_overdue == (today - row.overdue_after).days
    assert {row.escalated for row in rows} == {True, False}


def test_due_this_week_lists_open_checks_due_in_the_next_seven_days(client_nurse_a, clinic_a):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    today = clinic_a.today()
    soon, later = (
        ScheduledCheck.objects.open().filter(patient=patient, due_date__gt=today).order_by("pk")
    )[:2]
    for check, days in ((soon, 3), (later, 8)):
        check.due_date = today + timedelta(days=days)
        check.window_opens = today - timedelta(days=4)
        check.overdue_after = today + timedelta(days=days + 7)
        check.save()

    due = [c.pk for c in listed(client_nurse_a.get(WORKLIST), "due_soon")]

    assert soon.pk in due and later.pk not in due


def test_a_failed_notification_shows_with_its_error(client_nurse_a, nurse_a, patient):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    failed_notification(result, nurse_a, error="SMTP 550: mailbox nurse_a unavailable")
    sent = notification_row(
        kind=Notification.Kind.OVERDUE,
        delivery=Notification.Delivery.NURSE_DIGEST,
        patient_id=patient.pk,
        user_id=nurse_a.pk,
        now=timezone.now(),
    )
    sent.status = Notification.Status.SENT
    sent.save()

    response = client_nurse_a.get(WORKLIST)

    assert len(listed(response, "failed")) == 1
    assert "SMTP 550: mailbox nurse_a unavailable" in response.content.decode()


def test_a_nurse_of_clinic_b_gets_404_for_clinic_a_and_sees_none_of_its_rows(
    client, nurse_a, nurse_b, clinic_a
):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    check = overdue_of(patient)[0]
    failed_notification(result, nurse_a)
    sign_in(client, nurse_b)

    for url, data in [
        (reverse("monitoring:result_acknowledge", args=[result.pk]), {"action": "reviewed"}),
        (reverse("monitoring:check_follow_up", args=[check.pk]), {"action": "reviewed"}),
        (reverse("monitoring:check_waive", args=[check.pk]), {"reason": "Not ours."}),
    ]:
        assert client.get(url).status_code == 404
        assert client.post(url, keyed({**data, "note": "Seen."})).status_code == 404

    response = client.get(WORKLIST)
    assert response.status_code == 200
    for section in ("results", "overdue", "due_soon", "failed"):
        assert listed(response, section) == []
    assert patient.hospital_number not in response.content.decode()
    assert not Acknowledgement.objects.exists()
    check.refresh_from_db()
    assert check.is_open


def test_mine_shows_my_named_patients_and_the_unnamed_ones_of_my_nurse_group(
    client_nurse_a, nurse_a, clinic_a
):
    other_nurse = UserFactory(username="nurse_a2")
    clinic_a.nurses.add(other_nurse)
    clinic_a.staff.add(other_nurse)
    mine = PatientFactory(clinic=clinic_a, named_nurse=nurse_a)
    unnamed = PatientFactory(clinic=clinic_a)
    theirs = PatientFactory(clinic=clinic_a, named_nurse=other_nurse)
    for patient in (mine, unnamed, theirs):
        platelets(patient, 45, entered_by=nurse_a, days_ago=1)

    def patients_listed(query):
        response = client_nurse_a.get(WORKLIST, query)
        return {r.patient_id for r in listed(response, "results")}

    assert patients_listed({}) == {mine.pk, unnamed.pk, theirs.pk}
    assert patients_listed({"mine": "1"}) == {mine.pk, unnamed.pk}
    clinic_a.nurses.remove(nurse_a)  # no longer in the group: only named patients are mine
    assert patients_listed({"mine": "1"}) == {mine.pk}


def test_each_section_is_capped_and_says_how_many_there_are(
    client_nurse_a, nurse_a, clinic_a, monkeypatch
):
    monkeypatch.setattr(worklist, "SECTION_LIMIT", 2)
    for _ in range(3):
        platelets(PatientFactory(clinic=clinic_a), 45, entered_by=nurse_a, days_ago=1)

    response = client_nurse_a.get(WORKLIST)
    section = response.context["worklist"].results

    assert (len(section.rows), section.total, section.hidden) == (2, 3, 1)
    assert "Showing the 2 most urgent of 3" in response.content.decode()


def every_overdue_row(user, now):
    """The overdue section's rows across all its pages."""
    rows, page = [], 1
    while True:
        section = worklist_for(user, now=now, pages={"overdue": page}).overdue
        rows += section.rows
        if not section.has_next:
            return rows
        page += 1


def test_each_clinic_is_judged_by_its_own_today(db):
    """At noon in London it is already tomorrow in Auckland: a check whose last day was
    London's today is overdue in Auckland only."""
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    london = ClinicFactory(code="london", time_zone="Europe/London")
    auckland = ClinicFactory(code="auckland", time_zone="Pacific/Auckland")
    nurse = UserFactory(username="both_clinics")
    checks = {}
    for clinic in (london, auckland):
        clinic.staff.add(nurse)
        patient = treated_patient(clinic, days_ago=75, given=True)
        check = ScheduledCheck.objects.open().filter(patient=patient).order_by("pk").first()
        ScheduledCheck.objects.filter(pk=check.pk).update(
            due_date=date(2026, 11, 14), overdue_after=date(2026, 11, 21)
        )
        checks[clinic.code] = check.pk

    overdue = [check.pk for check in every_overdue_row(nurse, now)]

    assert checks["auckland"] in overdue and checks["london"] not in overdue


def test_the_worklist_query_count_does_not_grow_with_the_data(
    client_nurse_a, nurse_a, clinic_a, django_assert_num_queries
):
    def add_patients(count):
        for _ in range(count):
            patient = treated_patient(clinic_a, days_ago=75, given=True)
            result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
            check_follow_up(
                check=overdue_of(patient)[0],
                action="called_patient",
                note="Left a message.",
                acknowledged_by=nurse_a,
                now=timezone.now(),
            )
            failed_notification(result, nurse_a)

    # session, user, the second factor's device, savepoint (ATOMIC_REQUESTS), clinic
    # membership check, the user's and their groups' permissions, the user's clinics, then rows
    # and count for each of results, overdue checks and checks due this week, the latest
    # follow-up notes, rows and count of failed notifications, release; then the session's new
    # expiry (savepoint, update, release)
    add_patients(1)
    with django_assert_num_queries(21):
        small = client_nurse_a.get(WORKLIST)
    add_patients(12)
    with django_assert_num_queries(21):
        large = client_nurse_a.get(WORKLIST)

    assert len(listed(small, "results")) == 1
    assert len(listed(large, "results")) == 13
    assert len(listed(large, "failed")) == 13
    overdue = large.context["worklist"].overdue
    assert len(overdue.rows) == worklist.SECTION_LIMIT < overdue.total
    # A later page of a section costs the same queries.
    with django_assert_num_queries(21):
        second = client_nurse_a.get(WORKLIST, {"overdue_page": 2})
    assert second.context["worklist"].overdue.page == 2
    followed_up = [
        row
        for page in range(1, -(-overdue.total // worklist.SECTION_LIMIT) + 1)
        for row in listed(client_nurse_a.get(WORKLIST, {"overdue_page": page}), "overdue")
        if row.latest_follow_up
    ]
    assert len(followed_up) == 13


def test_the_patient_page_offers_acknowledge_and_shows_the_acknowledgement(
    client_nurse_a, nurse_a, patient
):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    detail = reverse("patients:detail", args=[patient.pk])
    acknowledge = reverse("monitoring:result_acknowledge", args=[result.pk])
    assert acknowledge in client_nurse_a.get(detail).content.decode()

    response = client_nurse_a.post(
        acknowledge,
        keyed({"action": "repeat_ordered", "note": "Repeat FBC tomorrow.", "next": detail}),
    )

    assert response["Location"] == detail
    page = client_nurse_a.get(detail).content.decode()
    assert acknowledge not in page
    assert "Repeat FBC tomorrow." in page and "Nora Nurse" in page
    assert "Ordered a repeat test" in page


def test_the_patient_form_sets_a_named_nurse_of_the_clinic_and_reminders(
    client_a, nurse_a, nurse_b, clinic_a
):
    """Clinic staff add the patient, naming one of the clinic's nurses."""
    form = client_a.get(reverse("patients:create")).context["form"]
    assert list(form.fields["named_nurse"].queryset) == [nurse_a]
    data = {
        "clinic": clinic_a.pk,
        "hospital_number": "N200",
        "given_name": "Ola",
        "family_name": "Named",
        "date_of_birth": "1990-01-01",
        "sex": "F",
        "named_nurse": nurse_a.pk,
        "email_reminders": "on",
        "reminder_leads": "14,7,1",
    }

    refused = client_a.post(reverse("patients:create"), keyed({**data, "named_nurse": nurse_b.pk}))
    assert "named_nurse" in refused.context["form"].errors
    client_a.post(reverse("patients:create"), keyed(data))

    patient = Patient.objects.get(hospital_number="N200")
    assert (patient.named_nurse, patient.email_reminders, patient.reminder_leads) == (
        nurse_a,
        True,
        "14,7,1",
    )
    page = client_a.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert "Named nurse: Nora Nurse" in page


def test_the_worklist_link_is_in_the_navigation_for_signed_in_staff(client_nurse_a):
    page = client_nurse_a.get(reverse("patients:list")).content.decode()
    assert f'href="{WORKLIST}"' in page


def test_a_section_pages_through_its_rows_most_urgent_first(
    client_nurse_a, nurse_a, clinic_a, monkeypatch
):
    treated_patient(clinic_a, days_ago=75, given=True)
    treated_patient(clinic_a, days_ago=75, given=True)
    monkeypatch.setattr(worklist, "SECTION_LIMIT", 1000)
    every = [check.pk for check in listed(client_nurse_a.get(WORKLIST), "overdue")]
    monkeypatch.setattr(worklist, "SECTION_LIMIT", 3)

    first = client_nurse_a.get(WORKLIST, {"mine": "0"})
    second = client_nurse_a.get(WORKLIST, {"mine": "0", "overdue_page": "2"})

    assert len(every) > 6
    assert [check.pk for check in listed(first, "overdue")] == every[:3]
    assert [check.pk for check in listed(second, "overdue")] == every[3:6]
    assert 'href="?mine=0&amp;overdue_page=2#overdue-h"' in first.content.decode()
    assert f"Showing 4\N{EN DASH}6 of {len(every)}" in second.content.decode()
    assert 'href="?mine=0&amp;overdue_page=1#overdue-h"' in second.content.decode()


def test_a_page_past_the_end_or_not_a_number_shows_a_real_page(client_nurse_a, clinic_a):
    treated_patient(clinic_a, days_ago=75, given=True)

    past = client_nurse_a.get(WORKLIST, {"overdue_page": "99"}).context["worklist"].overdue
    junk = client_nurse_a.get(WORKLIST, {"overdue_page": "x"}).context["worklist"].overdue

    assert (past.page, junk.page) == (1, 1) and past.rows and junk.rows
