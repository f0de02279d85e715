"""The worklist as a nurse reads it: one row per patient with everything that needs doing for
them, in sections from the most urgent down; search and filters; capped counts; bulk actions
on the ticked checks; and a query count that does not grow with the backlog."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitoring.alerts.services import check_follow_up, check_waive
from monitoring.alerts.symptom_reports import symptom_report_create
from monitoring.models import Acknowledgement, Notification, ScheduledCheck
from monitoring.worklist import sections
from monitoring.worklist.selectors import worklist_for
from tests.auth import sign_in
from tests.builders import platelets, treated_patient
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.forms import keyed
from tests.monitoring.worklist.test_worklist import (
    failed_notification,
    hours_ago,
    listed,
    overdue_of,
    patients_in,
)

pytestmark = pytest.mark.django_db

WORKLIST = reverse("monitoring:worklist")


@pytest.fixture
def client_nurse_a(client, nurse_a):
    return sign_in(client, nurse_a)


def report_symptom(patient, *, by, codes=("bleeding",), details="Bruises on both legs."):
    return symptom_report_create(
        patient=patient,
        symptom_codes=list(codes),
        details=details,
        reported_by=by,
        submission_key=uuid.uuid4(),
        now=timezone.now(),
    )


def due_soon_only(clinic, days=3):
    """A patient whose one piece of work is a check due in `days` days, its window open from
    four days ago to a week after the due date."""
    patient = PatientFactory(clinic=clinic)
    today = clinic.today()
    ScheduledCheck.objects.create(
        patient=patient,
        panel="blood_count",
        kind=ScheduledCheck.Kind.URGENT,
        due_date=today + timedelta(days=days),
        window_opens=today - timedelta(days=4),
        overdue_after=today + timedelta(days=days + 7),
    )
    return patient


def test_one_row_per_patient_in_the_most_urgent_section_with_all_their_items(
    client_nurse_a, nurse_a, clinic_a
):
    symptom = treated_patient(clinic_a, days_ago=75, given=True, family_name="Symptom")
    report_symptom(symptom, by=nurse_a)
    critical = treated_patient(clinic_a, days_ago=75, given=True, family_name="Critical")
    low = platelets(critical, 45, entered_by=nurse_a, days_ago=1)
    failed = treated_patient(clinic_a, days_ago=75, given=True, family_name="Failed")
    failed_notification(platelets(failed, 120, entered_by=nurse_a, days_ago=1), nurse_a)
    overdue = treated_patient(clinic_a, days_ago=75, given=True, family_name="Overdue")
    due = due_soon_only(clinic_a)
    amber = PatientFactory(clinic=clinic_a, family_name="Amber")
    platelets(amber, 120, entered_by=nurse_a, days_ago=1)

    response = client_nurse_a.get(WORKLIST)
    worklist = response.context["worklist"]

    assert list(worklist.sections) == ["urgent", "failed", "overdue", "due", "amber"]
    assert patients_in(response, "urgent") == [symptom.pk, critical.pk]
    assert patients_in(response, "failed") == [failed.pk]
    assert patients_in(response, "overdue") == [overdue.pk]
    assert patients_in(response, "due") == [due.pk]
    assert patients_in(response, "amber") == [amber.pk]
    # The critical patient's row carries the result and their overdue visit too.
    row = listed(response, "urgent")[1]
    assert [r.pk for r in row.results] == [low.pk]
    assert row.visits and all(visit.overdue for visit in row.visits[:1])
    assert {c.pk for v in row.visits if v.overdue for c in v.checks} <= {
        c.pk for c in overdue_of(critical)
    }
    page = response.content.decode()
    assert page.index("SYMPTOM") < page.index("CRITICAL") < page.index("FAILED")
    assert page.index("FAILED") < page.index("OVERDUE") < page.index("AMBER")
    assert "Bruises on both legs." in page


def test_the_urgent_section_puts_symptoms_then_critical_then_red_oldest_first(
    client_nurse_a, nurse_a, clinic_a
):
    red_new, critical, red_old, symptom = (PatientFactory(clinic=clinic_a) for _ in range(4))
    platelets(red_new, 80, entered_by=nurse_a, days_ago=1, tier_since=hours_ago(1))
    platelets(critical, 45, entered_by=nurse_a, days_ago=1, tier_since=hours_ago(0.5))
    platelets(red_old, 80, entered_by=nurse_a, days_ago=1, tier_since=hours_ago(3))
    report_symptom(symptom, by=nurse_a)

    response = client_nurse_a.get(WORKLIST)

    assert patients_in(response, "urgent") == [symptom.pk, critical.pk, red_old.pk, red_new.pk]


def test_results_past_the_clinics_deadline_are_marked_escalated(client_nurse_a, nurse_a, clinic_a):
    late = platelets(
        PatientFactory(clinic=clinic_a),
        45,
        entered_by=nurse_a,
        days_ago=1,
        tier_since=hours_ago(4.5),
    )
    platelets(
        PatientFactory(clinic=clinic_a),
        40,
        entered_by=nurse_a,
        days_ago=1,
        tier_since=hours_ago(3.5),
    )

    rows = listed(client_nurse_a.get(WORKLIST), "urgent")

    escalated = {r.pk: r.escalated for row in rows for r in row.results}
    assert escalated[late.pk] and sum(escalated.values()) == 1


def test_overdue_visits_longest_overdue_first_grouped_with_the_rest_counted(
    client_nurse_a, nurse_a, clinic_a
):
    recent = treated_patient(clinic_a, days_ago=75, given=True)
    lost = treated_patient(clinic_a, days_ago=400, given=True)
    clinic_a.overdue_escalation_days = 30
    clinic_a.save()

    response = client_nurse_a.get(WORKLIST)
    rows = listed(response, "overdue")

    assert [row.patient.pk for row in rows] == [lost.pk, recent.pk]
    lost_row = rows[0]
    assert lost_row.overdue_total == len(overdue_of(lost))
    latest = [visit for visit in lost_row.visits if visit.overdue]
    assert len({visit.due_date for visit in latest}) >= 1
    # Checks due on one day are one visit ("blood count, kidney ... due 4 Dec").
    assert all(len({c.due_date for c in visit.checks}) == 1 for visit in latest)
    assert lost_row.earlier_overdue == lost_row.overdue_total - sum(len(v.checks) for v in latest)
    assert lost_row.oldest_overdue == min(c.due_date for c in overdue_of(lost))
    today = clinic_a.today()
    for visit in latest:
        oldest = min(c.overdue_after for c in visit.checks)
        assert visit.days_overdue == (today - oldest).days
        assert visit.escalated == (oldest < today - timedelta(days=30))
    assert f"all {lost_row.overdue_total} overdue checks" in response.content.decode()


def test_due_this_week_includes_a_due_date_passed_with_its_window_still_open(
    client_nurse_a, clinic_a
):
    soon = due_soon_only(clinic_a, days=3)
    passed = due_soon_only(clinic_a, days=-2)
    later = due_soon_only(clinic_a, days=9)

    listed_due = patients_in(client_nurse_a.get(WORKLIST), "due")

    assert soon.pk in listed_due and passed.pk in listed_due and later.pk not in listed_due


def test_the_latest_follow_up_note_shows_on_the_row(client_nurse_a, nurse_a, clinic_a):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    check = overdue_of(patient)[-1]
    for note in ("No answer.", "Called, booked for 12 Dec."):
        check_follow_up(
            check=check,
            action="called_patient",
            note=note,
            acknowledged_by=nurse_a,
            now=timezone.now(),
        )

    response = client_nurse_a.get(WORKLIST)

    assert listed(response, "overdue")[0].latest_follow_up.note == "Called, booked for 12 Dec."
    assert "Called, booked for 12 Dec." in response.content.decode()


def test_search_by_name_or_hospital_number_and_the_filters(client_nurse_a, nurse_a, clinic_a):
    # Given names fixed: the factory's random ones ("Nicole") could hold a search term.
    ann = treated_patient(
        clinic_a,
        days_ago=75,
        given=True,
        given_name="Ann",
        family_name="Ødegård",
        hospital_number="H-0017",
    )
    bob = treated_patient(clinic_a, days_ago=75, given=True, given_name="Bob", family_name="Brown")
    cat = PatientFactory(clinic=clinic_a, given_name="Cat", family_name="Cole", named_nurse=nurse_a)
    platelets(cat, 120, entered_by=nurse_a, days_ago=1)
    thyroid_only = treated_patient(
        clinic_a, days_ago=20, given=True, given_name="Tia", family_name="Thyro"
    )

    def listed_patients(query):
        response = client_nurse_a.get(WORKLIST, query)
        assert response.status_code == 200
        return {
            pk
            for name in response.context["worklist"].sections
            for pk in patients_in(response, name)
        }

    assert listed_patients({"q": "Ødeg"}) == {ann.pk}
    assert listed_patients({"q": "h-0017"}) == {ann.pk}
    assert listed_patients({"tier": "amber"}) == {cat.pk}
    assert listed_patients({"mine": "1", "q": "cole"}) == {cat.pk}
    assert bob.pk in listed_patients({"overdue": "30"})
    assert thyroid_only.pk not in listed_patients({"overdue": "30"})
    assert ann.pk in listed_patients({"test": "blood_count"})
    # Nonsense in the address is ignored, never a 500.
    assert listed_patients({"tier": "purple", "overdue": "x", "clinic": "999999", "test": "?"}) >= {
        ann.pk,
        bob.pk,
        cat.pk,
    }


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

    def urgent(query):
        return set(patients_in(client_nurse_a.get(WORKLIST, query), "urgent"))

    assert urgent({}) == {mine.pk, unnamed.pk, theirs.pk}
    assert urgent({"mine": "1"}) == {mine.pk, unnamed.pk}
    clinic_a.nurses.remove(nurse_a)
    assert urgent({"mine": "1"}) == {mine.pk}


def test_big_sections_count_up_to_a_cap_and_page_by_patient(client_nurse_a, clinic_a, monkeypatch):
    patients = [treated_patient(clinic_a, days_ago=75 + n * 31, given=True) for n in range(3)]
    monkeypatch.setattr(sections, "COUNT_CAP", 2)
    monkeypatch.setattr(sections, "SECTION_LIMIT", 1)
    monkeypatch.setattr(sections, "WALK_CHUNK", 3)  # several steps of the walk

    first = client_nurse_a.get(WORKLIST)
    second = client_nurse_a.get(WORKLIST, {"overdue_page": "2"})
    third = client_nurse_a.get(WORKLIST, {"overdue_page": "3"})
    past = client_nurse_a.get(WORKLIST, {"overdue_page": "99"})

    section = first.context["worklist"].sections["overdue"]
    assert (section.total_label, section.has_next) == ("2+", True)
    assert "Overdue visits" in first.content.decode() and ">2+<" in first.content.decode()
    longest_first = [p.pk for p in reversed(patients)]
    pages = [patients_in(page, "overdue") for page in (first, second, third)]
    assert pages == [[pk] for pk in longest_first]
    assert patients_in(past, "overdue") == [longest_first[-1]]
    assert 'href="?overdue_page=2#overdue"' in first.content.decode()


def test_each_clinic_is_judged_by_its_own_today(db):
    """At noon in London it is already tomorrow in Auckland: a check whose last day was
    London's today is overdue in Auckland only."""
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    london = ClinicFactory(code="london", time_zone="Europe/London")
    auckland = ClinicFactory(code="auckland", time_zone="Pacific/Auckland")
    nurse = UserFactory(username="both_clinics")
    patients = {}
    for clinic in (london, auckland):
        clinic.staff.add(nurse)
        patient = PatientFactory(clinic=clinic)
        ScheduledCheck.objects.create(
            patient=patient,
            panel="blood_count",
            kind=ScheduledCheck.Kind.URGENT,
            due_date=date(2026, 11, 14),
            window_opens=date(2026, 11, 14),
            overdue_after=date(2026, 11, 21),
        )
        patients[clinic.code] = patient.pk

    worklist = worklist_for(nurse, now=now)

    assert [row.patient.pk for row in worklist.sections["overdue"].rows] == [patients["auckland"]]
    assert [row.patient.pk for row in worklist.sections["due"].rows] == [patients["london"]]


def test_the_worklist_query_count_does_not_grow_with_the_backlog(
    client_nurse_a, nurse_a, clinic_a, django_assert_num_queries, settings
):
    def add_patients(count):
        for n in range(count):
            patient = treated_patient(clinic_a, days_ago=75 + n * 10, given=True)
            result = platelets(patient, 45 if n % 2 else 120, entered_by=nurse_a, days_ago=1)
            report_symptom(treated_patient(clinic_a, days_ago=40, given=True), by=nurse_a)
            check_follow_up(
                check=overdue_of(patient)[0],
                action="called_patient",
                note="Left a message.",
                acknowledged_by=nurse_a,
                now=timezone.now(),
            )
            failed_notification(result, nurse_a)
            due_soon_only(clinic_a)
            treated_patient(clinic_a, days_ago=75, given=True)

    # The rows as read, not as kept (test_worklist_rows_kept.py).
    settings.WORKLIST_ROWS_SECONDS = 0
    add_patients(1)
    client_nurse_a.get(WORKLIST)  # the session's first save is not part of the count
    with CaptureQueriesContext(connection) as small:
        client_nurse_a.get(WORKLIST)
    add_patients(8)
    with CaptureQueriesContext(connection) as large:
        response = client_nurse_a.get(WORKLIST)

    # The session's own bookkeeping (its expiry saved at most once a minute, in a savepoint)
    # depends on the clock, not on the data.
    bookkeeping = ("SAVEPOINT", "RELEASE SAVEPOINT", 'UPDATE "django_session"')
    shapes = [
        [
            query["sql"].split(" WHERE ")[0][:120]
            for query in run.captured_queries
            if not query["sql"].startswith(bookkeeping)
        ]
        for run in (small, large)
    ]
    assert shapes[0] == shapes[1]
    assert len(large.captured_queries) <= 30
    worklist = response.context["worklist"]
    assert all(worklist.sections[name].rows for name in ("urgent", "failed", "overdue", "due"))


def test_bulk_waive_two_checks_with_one_reason(client_nurse_a, nurse_a, clinic_a):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    first, second, *rest = overdue_of(patient)

    response = client_nurse_a.post(
        WORKLIST,
        keyed(
            {
                "what": "waive",
                "text": "Done at the district hospital.",
                "check": [first.pk, second.pk],
            }
        ),
        follow=True,
    )

    assert response.redirect_chain == [(WORKLIST, 302)]
    assert "2 checks of 1 patient waived." in response.content.decode()
    for check in (first, second):
        check.refresh_from_db()
        assert (check.waived_by, check.waived_reason) == (nurse_a, "Done at the district hospital.")
    assert all(check.is_open for check in rest)


def test_a_follow_up_note_for_a_whole_visit_and_all_overdue_checks(
    client_nurse_a, nurse_a, clinic_a
):
    patient = treated_patient(clinic_a, days_ago=200, given=True)
    overdue = overdue_of(patient)

    client_nurse_a.post(
        WORKLIST,
        keyed(
            {
                "what": "note",
                "action": "rebooked",
                "text": "Called, booked for 12 Dec.",
                "overdue_of": [patient.pk],
            }
        ),
    )

    notes = Acknowledgement.objects.filter(scheduled_check__patient=patient)
    assert sorted(n.scheduled_check_id for n in notes) == sorted(c.pk for c in overdue)
    assert {(n.action, n.note, n.acknowledged_by) for n in notes} == {
        ("rebooked", "Called, booked for 12 Dec.", nurse_a)
    }
    assert all(c.is_open for c in ScheduledCheck.objects.filter(pk__in=[c.pk for c in overdue]))


def test_bulk_actions_refuse_clearly_and_skip_what_closed_meanwhile(
    client, client_nurse_a, nurse_a, clinic_a, clinic_b
):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    first, second = overdue_of(patient)[-2:]  # of the visit the row shows
    other = overdue_of(treated_patient(clinic_b, days_ago=75, given=True))[0]

    nothing = client_nurse_a.post(WORKLIST, keyed({"what": "waive", "text": "x"}))
    no_reason = client_nurse_a.post(
        WORKLIST, keyed({"what": "waive", "text": " ", "check": [first.pk]})
    )
    no_action = client_nurse_a.post(
        WORKLIST, keyed({"what": "note", "text": "Called.", "check": [first.pk]})
    )
    junk = client_nurse_a.post(
        WORKLIST, keyed({"what": "waive", "text": "x", "check": ["1; drop"]})
    )
    theirs = client_nurse_a.post(
        WORKLIST, keyed({"what": "waive", "text": "Not ours.", "check": [other.pk]})
    )

    assert "Tick at least one check" in nothing.content.decode()
    assert no_reason.context["bulk_form"].errors["text"]
    assert no_action.context["bulk_form"].errors["action"]
    assert junk.status_code == 200 and junk.context["bulk_form"].errors["check"]
    assert theirs.status_code == 200 and "Choose at least one check" in theirs.content.decode()
    other.refresh_from_db()
    assert other.is_open and not ScheduledCheck.objects.filter(waived_at__isnull=False).exists()
    # A tick stays ticked after a refusal.
    assert f'value="{first.pk}" id="check-{first.pk}" checked' in no_action.content.decode()

    ScheduledCheck.objects.filter(pk=second.pk).update(
        waived_at=timezone.now(), waived_reason="Colleague"
    )
    done = client_nurse_a.post(
        WORKLIST,
        keyed({"what": "waive", "text": "In hospital.", "check": [first.pk, second.pk]}),
        follow=True,
    )
    assert "1 check of 1 patient waived. 1 had closed meanwhile" in done.content.decode()

    # Someone who may add notes but not waive is refused the waiver, by name.
    notes_only = UserFactory(username="notes_only")
    clinic_a.staff.add(notes_only)
    notes_only.user_permissions.add(Permission.objects.get(codename="add_acknowledgement"))
    latest = overdue_of(patient)[-1]
    refused = sign_in(client, notes_only).post(
        WORKLIST, keyed({"what": "waive", "text": "In hospital.", "check": [latest.pk]})
    )
    assert "not waive" in " ".join(refused.context["bulk_form"].errors["what"])
    latest.refresh_from_db()
    assert latest.is_open


def test_a_repeated_bulk_post_acts_once(client_nurse_a, nurse_a, clinic_a):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    check = overdue_of(patient)[0]
    data = keyed(
        {"what": "note", "action": "called_patient", "text": "Left a message.", "check": [check.pk]}
    )

    client_nurse_a.post(WORKLIST, data)
    client_nurse_a.post(WORKLIST, data)

    assert Acknowledgement.objects.filter(scheduled_check=check).count() == 1


def test_failed_alerts_show_on_the_row_with_their_error(client_nurse_a, nurse_a, patient):
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1)
    failed_notification(result, nurse_a, error="SMTP 550: mailbox nurse_a unavailable")

    response = client_nurse_a.get(WORKLIST)

    row = listed(response, "urgent")[0]
    assert [alert.status for alert in row.failed_alerts] == [Notification.Status.FAILED]
    assert "SMTP 550: mailbox nurse_a unavailable" in response.content.decode()


def test_the_due_sections_members_are_kept_a_minute_and_a_closed_row_drops_out(
    client_nurse_a, nurse_a, clinic_a, settings
):
    settings.WORKLIST_MEMBERS_SECONDS = 60
    first = due_soon_only(clinic_a)
    assert patients_in(client_nurse_a.get(WORKLIST), "due") == [first.pk]

    later = due_soon_only(clinic_a)
    for check in ScheduledCheck.objects.open().filter(patient=first):
        check_waive(check=check, reason="Done elsewhere.", waived_by=nurse_a, now=timezone.now())

    # The kept members do not know the new patient yet; the one with nothing left is not shown.
    assert patients_in(client_nurse_a.get(WORKLIST), "due") == []
    settings.WORKLIST_MEMBERS_SECONDS = 0
    assert patients_in(client_nurse_a.get(WORKLIST), "due") == [later.pk]


def test_a_failed_alert_stays_on_the_worklist_until_a_nurse_marks_it_handled(
    client_nurse_a, nurse_a, clinic_a
):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    alert = failed_notification(platelets(patient, 120, entered_by=nurse_a, days_ago=1), nurse_a)
    page = client_nurse_a.get(WORKLIST)
    (row,) = listed(page, "failed")
    assert [a.pk for a in row.failed_alerts] == [alert.pk]
    handle = reverse("monitoring:alert_handle", args=[alert.pk])
    assert handle in page.content.decode()

    client_nurse_a.post(handle, keyed({"note": "Phoned the patient: repeat count booked."}))

    after = client_nurse_a.get(WORKLIST)
    assert listed(after, "failed") == []
    assert patient.pk in patients_in(after, "overdue")  # the rest of their work is still there


def test_the_overdue_count_is_kept_a_minute_and_never_below_the_rows_shown(
    client_nurse_a, clinic_a, settings
):
    settings.WORKLIST_MEMBERS_SECONDS = 60
    first = treated_patient(clinic_a, days_ago=75, given=True)
    assert client_nurse_a.get(WORKLIST).context["worklist"].sections["overdue"].total == 1

    second = treated_patient(clinic_a, days_ago=75, given=True)
    with CaptureQueriesContext(connection) as captured:
        response = client_nurse_a.get(WORKLIST)

    # The count was not asked again; the rows were read fresh, and the heading counts them.
    counts = [q["sql"] for q in captured if q["sql"].startswith("SELECT COUNT(*) FROM (")]
    assert counts == []
    assert set(patients_in(response, "overdue")) == {first.pk, second.pk}
    assert response.context["worklist"].sections["overdue"].total == 2
