"""Delivering the outbox in-process (Django's in-memory mail box): batching, the digest time,
quiet hours, claims, leases, retries and what an e-mail may say. The same code under a real
Celery worker and SMTP server is in test_delivery_worker.py beside this file."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from monitoring.alerts.scans import scans_run
from monitoring.alerts.services import result_acknowledge
from monitoring.models import Notification, ScheduledCheck
from monitoring.outbox.delivery import Batch, batch_deliver, due_batches
from tests.builders import nurse_of, platelets, treated_patient

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
Delivery = Notification.Delivery
Status = Notification.Status
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # 10:00 in London


@pytest.fixture
def nurse(clinic_a):
    return nurse_of(clinic_a, "nurse_a", on_staff=False, email="nurse.a@example.org")


@pytest.fixture
def treated(clinic_a):
    return treated_patient(
        clinic_a,
        on=date(2026, 9, 1),
        email="ada@example.org",
        given_name="Ada",
        hospital_number="H777",
    )


def deliver_all(now):
    return [batch_deliver(batch=batch, now=now) for batch in due_batches(now=now)]


def platelets_at_now(patient, value, user):
    """A platelet count whose alerts are queued as if it were saved at NOW, so the tests do not
    depend on the time of day they run at."""
    result = platelets(patient, value, entered_by=user, sample=date(2026, 11, 20))
    Notification.objects.filter(result=result).update(not_before=NOW, created_at=NOW)
    return result


def digests_to(user, mailoutbox):
    return [m for m in mailoutbox if m.to == [user.email] and m.subject.startswith("Daily")]


def test_a_critical_result_is_one_email_to_the_nurse_and_is_sent_once(
    treated, nurse, clinician, mailoutbox
):
    result = platelets_at_now(treated, 23, clinician)
    deliver_all(NOW)
    deliver_all(NOW + timedelta(minutes=1))
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["nurse.a@example.org"]
    assert email.subject == "Urgent: 1 monitoring alert needs action today"
    assert "CRITICAL Platelets" in email.body and "H777" in email.body
    # No result values in an e-mail: it is not a private channel.
    assert "23" not in email.body.replace("2026", "")
    row = Notification.objects.get(result=result)
    assert (row.status, row.attempts, row.sent_to) == (Status.SENT, 1, "nurse.a@example.org")


def overdue_rows_for(nurse):
    return Notification.objects.filter(kind=Kind.OVERDUE, recipient_user=nurse)


def test_the_digest_waits_for_the_digest_time_and_holds_every_item(treated, nurse, mailoutbox):
    early = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)  # 06:00 in London
    scans_run(now=early)
    count = overdue_rows_for(nurse).count()
    assert count > 1
    outcomes = deliver_all(early)
    assert not digests_to(nurse, mailoutbox)
    assert datetime(2026, 11, 21, 8, 0, tzinfo=UTC) in {o.deferred_until for o in outcomes}
    deliver_all(datetime(2026, 11, 21, 8, 0, tzinfo=UTC))
    digests = digests_to(nurse, mailoutbox)
    assert len(digests) == 1
    assert digests[0].body.count("\n- ") == count  # one line per overdue check
    assert set(overdue_rows_for(nurse).values_list("status", flat=True)) == {Status.SENT}


def test_a_second_digest_the_same_day_waits_until_tomorrow(treated, nurse, mailoutbox):
    scans_run(now=NOW)
    deliver_all(NOW)
    later_check = ScheduledCheck.objects.filter(patient=treated, due_date__gt=date(2026, 11, 21))
    ScheduledCheck.objects.filter(pk=later_check.first().pk).update(
        overdue_after=date(2026, 11, 21), window_opens=date(2026, 11, 1)
    )
    scans_run(now=datetime(2026, 11, 22, 0, 30, tzinfo=UTC))  # that check is overdue now
    deliver_all(datetime(2026, 11, 21, 15, 0, tzinfo=UTC))
    assert len(digests_to(nurse, mailoutbox)) == 1
    deliver_all(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    assert len(digests_to(nurse, mailoutbox)) == 2


def test_the_patient_gets_one_email_a_day_never_in_quiet_hours(treated, nurse, mailoutbox):
    night = datetime(2026, 11, 21, 22, 30, tzinfo=UTC)
    scans_run(now=night)
    deliver_all(night)
    assert not [m for m in mailoutbox if m.to == ["ada@example.org"]]
    deliver_all(datetime(2026, 11, 22, 7, 59, tzinfo=UTC))
    assert not [m for m in mailoutbox if m.to == ["ada@example.org"]]
    deliver_all(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    deliver_all(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    to_patient = [m for m in mailoutbox if m.to == ["ada@example.org"]]
    assert len(to_patient) == 1
    body = to_patient[0].body
    assert body.startswith("Dear Ada")
    assert "Blood count" in body and "was due" in body
    # Nothing clinical beyond which tests are due.
    assert "platelet" not in body.lower() and "H777" not in body


def test_two_reminders_for_one_check_on_one_day_list_it_once(clinic_a, mailoutbox):
    patient = treated_patient(clinic_a, on=date(2026, 11, 22), email="ben@example.org")
    scans_run(now=NOW)  # the pre-course checks, due tomorrow: 7-day and 1-day reminders at once
    deliver_all(NOW)
    (email,) = [m for m in mailoutbox if m.to == ["ben@example.org"]]
    reminders = Notification.objects.filter(kind=Kind.DUE_SOON, recipient_patient=patient)
    assert set(reminders.values_list("lead_days", flat=True)) == {7, 1}
    assert email.body.count("Blood count") == 1


def test_a_result_acknowledged_before_the_digest_is_not_sent(treated, nurse, clinician, mailoutbox):
    amber = platelets_at_now(treated, 140, clinician)
    result_acknowledge(
        result=amber,
        action="repeat_ordered",
        note="Repeat in 2 weeks.",
        acknowledged_by=nurse,
        now=NOW,
    )
    deliver_all(NOW)
    row = Notification.objects.get(result=amber)
    assert row.status == Status.CANCELLED
    assert not [m for m in mailoutbox if "Platelets" in m.body]


def test_a_recipient_without_an_email_address_fails_at_once_and_says_why(treated, clinician):
    nurse_of(treated.clinic, "no_mail", on_staff=False, email="")
    result = platelets_at_now(treated, 45, clinician)
    deliver_all(NOW)
    row = Notification.objects.get(result=result)
    assert row.status == Status.FAILED
    assert "no email address" in row.last_error


SMTP_NOWHERE = {
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "127.0.0.1",
    "EMAIL_PORT": 9,  # discard port: nothing listens, the connection is refused
}


def test_an_smtp_failure_is_retried_with_backoff_then_marked_failed(
    treated, nurse, clinician, settings
):
    for name, value in SMTP_NOWHERE.items():
        setattr(settings, name, value)
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 60
    result = platelets_at_now(treated, 45, clinician)
    batch = Batch(nurse.pk, None, Delivery.AT_ONCE)

    first = batch_deliver(batch=batch, now=NOW)
    row = Notification.objects.get(result=result)
    assert first.retry_in == timedelta(seconds=60)
    assert (row.status, row.attempts, row.not_before) == (
        Status.QUEUED,
        1,
        NOW + timedelta(seconds=60),
    )
    assert "Connection refused" in row.last_error or "Errno" in row.last_error
    # Not due again before its backoff has passed.
    assert batch_deliver(batch=batch, now=NOW + timedelta(seconds=30)).retry_in is None
    assert Notification.objects.get(pk=row.pk).attempts == 1

    second = batch_deliver(batch=batch, now=NOW + timedelta(seconds=60))
    assert second.retry_in == timedelta(seconds=120)
    third = batch_deliver(batch=batch, now=NOW + timedelta(seconds=180))
    row.refresh_from_db()
    assert (third.failed, row.status, row.attempts) == (1, Status.FAILED, 3)


def test_a_batch_claimed_by_a_live_worker_is_not_claimed_again(treated, nurse, clinician):
    result = platelets_at_now(treated, 45, clinician)
    Notification.objects.filter(result=result).update(status=Status.SENDING, claimed_at=NOW)
    assert due_batches(now=NOW + timedelta(seconds=60)) == []


def test_a_claim_whose_worker_died_is_taken_over_after_the_lease(
    treated, nurse, clinician, settings, mailoutbox
):
    settings.NOTIFICATION_CLAIM_LEASE_SECONDS = 300
    result = platelets_at_now(treated, 45, clinician)
    Notification.objects.filter(result=result).update(
        status=Status.SENDING, claimed_at=NOW, attempts=1
    )
    assert deliver_all(NOW + timedelta(seconds=299)) == []
    deliver_all(NOW + timedelta(seconds=300))
    row = Notification.objects.get(result=result)
    assert (row.status, row.attempts, len(mailoutbox)) == (Status.SENT, 2, 1)


def test_clinic_quiet_hours_are_the_clinics_own(treated, mailoutbox):
    treated.clinic.quiet_hours_start = time(20)
    treated.clinic.quiet_hours_end = time(10, 30)
    treated.clinic.save()
    scans_run(now=NOW)
    deliver_all(NOW)  # 10:00 local: still quiet for this clinic
    assert not [m for m in mailoutbox if m.to == ["ada@example.org"]]
    deliver_all(datetime(2026, 11, 21, 10, 30, tzinfo=UTC))
    assert len([m for m in mailoutbox if m.to == ["ada@example.org"]]) == 1


@pytest.mark.parametrize(
    ("day", "sent_at_0730_utc"),
    [
        (date(2026, 3, 29), True),  # clocks went forward overnight: 07:30 UTC is 08:30 BST
        (date(2026, 10, 25), False),  # clocks went back overnight: 07:30 UTC is 07:30 GMT
    ],
)
def test_the_digest_follows_the_local_clock_on_the_day_the_clocks_change(
    clinic_a, nurse, mailoutbox, day, sent_at_0730_utc
):
    treated_patient(clinic_a, on=day - timedelta(days=60), email="")
    midnight = datetime.combine(day, time(0, 30), tzinfo=UTC)
    scans_run(now=midnight)
    deliver_all(midnight)
    assert not digests_to(nurse, mailoutbox)
    deliver_all(datetime.combine(day, time(7, 30), tzinfo=UTC))
    assert bool(digests_to(nurse, mailoutbox)) is sent_at_0730_utc
    deliver_all(datetime.combine(day, time(8, 0), tzinfo=UTC))
    assert len(digests_to(nurse, mailoutbox)) == 1


def _identity(email) -> tuple[str, str]:
    return email.extra_headers["X-Monitoring-Reference"], email.extra_headers["Message-ID"]


def test_a_message_repeated_after_a_crash_keeps_its_identity(
    treated, nurse, clinician, settings, mailoutbox
):
    settings.NOTIFICATION_CLAIM_LEASE_SECONDS = 300
    settings.SITE_URL = "https://monitor.example.org"
    result = platelets_at_now(treated, 45, clinician)
    deliver_all(NOW)
    # The worker died after the server took the message and before the row was marked sent.
    row = Notification.objects.get(result=result)
    Notification.objects.filter(pk=row.pk).update(status=Status.SENDING, sent_at=None)
    # A second alert for the same nurse, queued meanwhile, is not folded into the repeat.
    later = platelets_at_now(treated, 23, clinician)

    deliver_all(NOW + timedelta(seconds=300))
    assert len(mailoutbox) == 2
    first, repeat = mailoutbox
    reference, message_id = _identity(first)
    assert _identity(repeat) == (reference, message_id)
    assert message_id == f"<{reference}@monitor.example.org>"
    assert Notification.objects.get(pk=row.pk).status == Status.SENT

    deliver_all(NOW + timedelta(seconds=301))
    assert len(mailoutbox) == 3
    assert _identity(mailoutbox[2])[0] != reference
    assert str(Notification.objects.get(result=later).message_ref) == _identity(mailoutbox[2])[0]


def test_each_new_message_has_its_own_identity(treated, nurse, clinician, mailoutbox):
    platelets_at_now(treated, 45, clinician)
    deliver_all(NOW)
    platelets_at_now(treated, 23, clinician)
    deliver_all(NOW + timedelta(minutes=1))
    assert len(mailoutbox) == 2
    assert _identity(mailoutbox[0])[0] != _identity(mailoutbox[1])[0]
