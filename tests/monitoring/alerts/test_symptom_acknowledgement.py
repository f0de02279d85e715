"""A symptom report is a work item of its own: it waits until a nurse acknowledges it with what
was done, once; its urgent checks stay open until results complete them; and a report nobody
acknowledges by the clinic's red deadline escalates to the lead, once, in e-mail that names no
symptom, and is no longer sent once someone has acknowledged it."""

import importlib
import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from monitoring.alerts import rules
from monitoring.alerts.scans import clinics_alerting, escalation_scan, scans_run
from monitoring.alerts.services import check_waive
from monitoring.alerts.symptom_reports import symptom_report_acknowledge, symptom_report_create
from monitoring.models import Acknowledgement, Notification, ScheduledCheck, SymptomReport
from monitoring.outbox.delivery import batch_deliver, due_batches
from tests.auth import sign_in
from tests.builders import lead_of, nurse_of, treated_patient
from tests.forms import keyed

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
Status = Notification.Status
# Saturday 21 November 2026, 10:00 in London (GMT).
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
NOTE = "Spoke to her: blood count at 2 pm today."

backfill = importlib.import_module("monitoring.migrations.0023_symptom_report_acknowledgement")


@pytest.fixture
def lead(clinic_a):
    return lead_of(clinic_a, "lead_a", on_staff=False, escalates=True, email="lead@example.org")


@pytest.fixture
def ward_nurse(clinic_a):
    return nurse_of(clinic_a, "ward_nurse", on_staff=False, email="ward@example.org")


@pytest.fixture
def treated(clinic_a):
    return treated_patient(clinic_a, on=date(2026, 9, 1), given_name="Ada", hospital_number="H777")


def reported(patient, *, at=NOW, codes=("bleeding",), details="Bruises on both legs."):
    return symptom_report_create(
        patient=patient,
        symptom_codes=list(codes),
        details=details,
        reported_by=patient.user or lead_of(patient.clinic, f"u{uuid.uuid4().hex[:8]}"),
        submission_key=uuid.uuid4(),
        now=at,
    )


def acknowledged(report, by, *, action="called_patient", note=NOTE, now=NOW):
    return symptom_report_acknowledge(
        report=report, action=action, note=note, acknowledged_by=by, now=now
    )


def escalations(report):
    return Notification.objects.filter(kind=Kind.ESCALATION, symptom_report=report)


# The service


def test_a_new_report_awaits_acknowledgement(treated):
    assert reported(treated).awaits_acknowledgement


def test_acknowledging_keeps_what_was_done_and_takes_the_report_off_the_list(treated, nurse_a):
    report = reported(treated)

    stored = acknowledged(report, nurse_a, action="urgent_test_booked")

    assert (stored.symptom_report, stored.action, stored.note) == (
        report,
        "urgent_test_booked",
        NOTE,
    )
    assert (stored.acknowledged_by, stored.acknowledged_at, stored.tier) == (nurse_a, NOW, "")
    assert not SymptomReport.objects.filter(rules.symptom_awaiting(), pk=report.pk).exists()


def test_the_urgent_checks_stay_open_until_a_result_completes_them(treated, nurse_a):
    report = reported(treated)
    acknowledged(report, nurse_a)
    checks = ScheduledCheck.objects.filter(symptom_report=report)
    assert checks.exists()
    assert all(check.is_open for check in checks)


def test_a_second_acknowledgement_is_refused_naming_the_first(treated, nurse_a, clinician):
    report = reported(treated)
    acknowledged(report, nurse_a)

    with pytest.raises(ValidationError) as refused:
        acknowledged(report, clinician, note="Called her too.")

    assert "already been acknowledged by" in refused.value.message_dict["__all__"][0]
    assert Acknowledgement.objects.filter(symptom_report=report).count() == 1


@pytest.mark.parametrize(
    ("action", "note", "field"),
    [
        ("reviewed", NOTE, "action"),  # no "no action needed" for a reported symptom
        ("rebooked", NOTE, "action"),
        ("", NOTE, "action"),
        ("called_patient", "   ", "note"),
        ("other", "Done.", "note"),  # "Other" must say what, in a few words
    ],
)
def test_what_was_done_must_be_said(treated, nurse_a, action, note, field):
    report = reported(treated)
    with pytest.raises(ValidationError) as refused:
        acknowledged(report, nurse_a, action=action, note=note)
    assert field in refused.value.message_dict
    report.refresh_from_db()
    assert report.awaits_acknowledgement and not report.acknowledgements.exists()


def test_other_with_a_real_note_is_accepted(treated, nurse_a):
    report = reported(treated)
    assert acknowledged(report, nurse_a, action="other", note="Sent to A&E by ambulance.")


@pytest.mark.postgres
# Serialized like every transactional test, so the flush after it keeps the seeded data.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_nurses_at_once_store_one_acknowledgement(clinic_a):
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent writers need PostgreSQL; SQLite serialises the whole database.")
    patient = treated_patient(clinic_a, on=date(2026, 9, 1))
    report = reported(patient)
    nurses = [nurse_of(clinic_a, f"nurse_{n}", on_staff=False) for n in range(2)]
    barrier = threading.Barrier(2)
    outcomes = []

    def acknowledge(nurse):
        try:
            barrier.wait()
            acknowledged(report, nurse)
            outcomes.append("stored")
        except ValidationError as refused:
            outcomes.append(refused.message_dict["__all__"][0])
        finally:
            connection.close()

    threads = [threading.Thread(target=acknowledge, args=[nurse]) for nurse in nurses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("stored") == 1
    (refusal,) = [outcome for outcome in outcomes if outcome != "stored"]
    assert "already been acknowledged by" in refusal
    assert Acknowledgement.objects.filter(symptom_report=report).count() == 1


# The rules: the stored condition and its Python twin agree


def test_awaiting_agrees_with_its_twin(treated, nurse_a):
    waiting, done = reported(treated), reported(treated)
    acknowledged(done, nurse_a)
    stored = set(
        SymptomReport.objects.filter(rules.symptom_awaiting()).values_list("pk", flat=True)
    )
    by_python = {
        report.pk
        for report in SymptomReport.objects.all()
        if rules.symptom_needs_acknowledgement(acknowledged=report.acknowledgements.exists())
    }
    assert stored == by_python == {waiting.pk}


@pytest.mark.parametrize("hours", [0, 23, 24, 25])
def test_escalated_agrees_with_its_twin_at_the_deadline(treated, hours):
    report = reported(treated, at=NOW - timedelta(hours=hours))
    condition = rules.symptom_escalated(clinic_ids=[treated.clinic_id], now=NOW, red_hours=24)
    by_database = SymptomReport.objects.filter(condition, pk=report.pk).exists()
    by_python = rules.symptom_is_escalated(created_at=report.created_at, now=NOW, red_hours=24)
    assert by_database is by_python is (hours >= 24)


# Escalation


def scan(now):
    return escalation_scan(now=now, clinics=clinics_alerting(now))


def test_a_report_nobody_acknowledged_by_the_red_deadline_goes_to_the_lead_once(treated, lead):
    report = reported(treated, at=NOW - timedelta(hours=25))

    scan(NOW)
    scan(NOW + timedelta(minutes=15))

    assert list(escalations(report).values_list("recipient_user", "delivery", "patient")) == [
        (lead.pk, "at_once", treated.pk)
    ]


def test_not_before_the_deadline_and_the_clinic_sets_it(treated, lead, clinic_a):
    report = reported(treated, at=NOW - timedelta(hours=3))
    scan(NOW)
    assert not escalations(report).exists()
    clinic_a.red_escalation_hours = 2
    clinic_a.save()
    scan(NOW)
    assert escalations(report).count() == 1


def test_an_acknowledged_report_never_escalates(treated, lead, nurse_a):
    report = reported(treated, at=NOW - timedelta(hours=30))
    acknowledged(report, nurse_a, now=NOW - timedelta(hours=29))
    scans_run(now=NOW)
    assert not escalations(report).exists()


def test_the_reports_escalation_and_its_urgent_checks_are_two_alerts(treated, lead):
    """Sixteen days on, the urgent check is long overdue too: both reach the lead."""
    report = reported(treated, at=NOW - timedelta(days=16))
    (check,) = ScheduledCheck.objects.filter(symptom_report=report)

    scan(NOW)

    assert escalations(report).count() == 1
    about_check = Notification.objects.filter(kind=Kind.ESCALATION, scheduled_check=check)
    assert about_check.count() == 1
    assert escalations(report).get().key != about_check.get().key


def test_a_clinic_without_a_lead_escalates_to_its_nurses(treated, ward_nurse):
    report = reported(treated, at=NOW - timedelta(hours=25))
    scan(NOW)
    assert list(escalations(report).values_list("recipient_user", flat=True)) == [ward_nurse.pk]


# Delivery


def deliver_all(now):
    return [batch_deliver(batch=batch, now=now) for batch in due_batches(now=now)]


def to(address, mailoutbox):
    return [message for message in mailoutbox if message.to == [address]]


def test_the_escalation_email_says_when_and_not_what(treated, lead, ward_nurse, mailoutbox):
    report = reported(treated, at=datetime(2026, 11, 20, 8, 5, tzinfo=UTC))
    scan(NOW)
    deliver_all(NOW)

    (email,) = to("lead@example.org", mailoutbox)
    assert (
        f"ESCALATION: H777 (A. {treated.family_name}) reported a symptom at 08:05 on "
        "20 Nov 2026 and nobody has acknowledged it yet. Call the patient today."
    ) in " ".join(email.body.split())
    assert email.body.count("reported a symptom") == 1
    for label in [*report.symptom_labels, "Bruises", "bleeding"]:
        assert label not in email.body
    assert escalations(report).get().status == Status.SENT


def test_alerts_about_an_acknowledged_report_are_not_sent(treated, lead, ward_nurse, mailoutbox):
    """The nurse's alert (still queued: say the mail server was down) and the lead's
    escalation are cancelled once someone has dealt with the report."""
    report = reported(treated, at=NOW - timedelta(hours=25))
    scan(NOW)
    nurse_alert = Notification.objects.get(kind=Kind.SYMPTOM_REPORT, recipient_user=ward_nurse)
    assert nurse_alert.symptom_report == report
    acknowledged(report, ward_nurse)

    deliver_all(NOW)

    # The lead's other escalations (the patient's long-overdue checks) still go.
    assert not any("reported a symptom" in email.body for email in mailoutbox)
    assert set(
        Notification.objects.filter(symptom_report=report).values_list("status", flat=True)
    ) == {Status.CANCELLED}


# The screens


@pytest.fixture
def client_nurse_a(client, nurse_a):
    return sign_in(client, nurse_a)


def page_of(report):
    return reverse("monitoring:symptom_acknowledge", args=[report.pk])


def test_the_page_shows_the_report_and_its_urgent_checks(client_nurse_a, treated):
    report = reported(treated, codes=("bleeding", "urine"), details="Bruises and pink urine.")
    html = client_nurse_a.get(page_of(report)).content.decode()
    for label in report.symptom_labels:
        assert label in html
    assert "Bruises and pink urine." in html
    for check in ScheduledCheck.objects.filter(symptom_report=report):
        assert check.get_panel_display() in html
    assert 'name="action"' in html and "No action needed" not in html


def test_posted_from_another_page_it_saves_once_and_goes_back(client_nurse_a, treated, nurse_a):
    report = reported(treated)
    data = keyed({"action": "called_patient", "note": NOTE, "next": "/worklist/?mine=1"})

    first = client_nurse_a.post(page_of(report), data)
    again = client_nurse_a.post(page_of(report), data)

    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == "/worklist/?mine=1"
    ack = Acknowledgement.objects.get(symptom_report=report)
    assert (ack.acknowledged_by, ack.action) == (nurse_a, "called_patient")


def test_without_a_safe_next_it_goes_to_the_worklist(client_nurse_a, treated):
    report = reported(treated)
    data = keyed({"action": "called_patient", "note": NOTE, "next": "https://evil.example/"})
    response = client_nurse_a.post(page_of(report), data)
    assert response["Location"] == reverse("monitoring:worklist")


def test_a_refused_post_shows_this_page_with_the_error_by_the_field(client_nurse_a, treated):
    report = reported(treated)
    response = client_nurse_a.post(page_of(report), keyed({"action": "other", "note": "Done."}))
    assert response.status_code == 200
    assert response.templates[0].name == "monitoring/symptom_acknowledge.html"
    assert "at least 4" in " ".join(response.context["form"].errors["note"])
    assert not Acknowledgement.objects.exists()


def test_once_acknowledged_the_page_offers_no_form(client_nurse_a, treated, clinician):
    report = reported(treated)
    acknowledged(report, clinician)
    html = client_nurse_a.get(page_of(report)).content.decode()
    assert "already been acknowledged" in html and 'name="action"' not in html
    assert NOTE in html


def test_another_clinics_nurse_gets_404_and_clinic_staff_403(client, treated, clinic_b, staff_a):
    report = reported(treated)
    sign_in(client, nurse_of(clinic_b, "nurse_b"))
    data = keyed({"action": "called_patient", "note": NOTE})
    assert client.get(page_of(report)).status_code == 404
    assert client.post(page_of(report), data).status_code == 404
    client.logout()
    sign_in(client, staff_a)
    assert client.get(page_of(report)).status_code == 403
    assert client.post(page_of(report), data).status_code == 403
    assert not Acknowledgement.objects.exists()


def test_the_patient_page_shows_who_acknowledged_and_what_was_done(
    client_nurse_a, treated, clinician
):
    waiting, done = reported(treated), reported(treated, at=NOW - timedelta(days=1))
    acknowledged(done, clinician, action="urgent_test_booked")

    html = client_nurse_a.get(reverse("patients:detail", args=[treated.pk])).content.decode()

    assert page_of(waiting) in html and page_of(done) not in html
    assert f"Acknowledged by {clinician.username}" in html
    assert f"Urgent test booked. {NOTE}" in html


def test_staff_who_may_not_acknowledge_see_no_link(client_a, treated):
    report = reported(treated)
    html = client_a.get(reverse("patients:detail", args=[treated.pk])).content.decode()
    assert page_of(report) not in html and "awaiting a nurse" in html


# The migration


def test_reports_from_before_wait_only_while_an_urgent_check_is_open(treated, nurse_a):
    dealt_with, open_one = reported(treated), reported(treated)
    for check in ScheduledCheck.objects.filter(symptom_report=dealt_with):
        check_waive(check=check, reason="Done at the GP.", waived_by=nurse_a, now=timezone.now())

    backfill.reports_dealt_with_wait_no_more(apps, None)

    assert set(SymptomReport.objects.filter(rules.symptom_awaiting())) == {open_one}


def test_the_admin_lists_a_symptom_reports_acknowledgement_to_its_clinic_only(
    client, treated, nurse_a, clinic_a, clinic_b
):
    acknowledged(reported(treated), nurse_a)
    url = reverse("admin:monitoring_acknowledgement_changelist")
    for clinic, shown in ((clinic_a, True), (clinic_b, False)):
        lead = lead_of(clinic, f"admin_lead_{clinic.pk}", is_staff=True)
        sign_in(client, lead)
        page = client.get(url)
        assert page.status_code == 200
        assert (f"{treated}: Symptoms reported" in page.content.decode()) is shown
        client.logout()
