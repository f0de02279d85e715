"""The fallback chain, through the real delivery code and a real SMTP server on loopback: an
alert that cannot reach the patient's named nurse goes to the clinic's nurse group, and one the
group cannot take goes to the lead. The failed rows stay open until a nurse marks them handled."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from monitoring.alerts.failed_alerts import failed_alert_handle
from monitoring.models import Notification, ScheduledCheck
from monitoring.outbox.delivery import batch_deliver, due_batches
from monitoring.outbox.store import notification_row, notifications_store
from tests.builders import lead_of, nurse_of, platelets, treated_patient
from tests.delivery_harness import SmtpServer

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
Status = Notification.Status
Step = Notification.FallbackStep
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture
def smtp(settings):
    server = SmtpServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    yield server
    server.stop()


@pytest.fixture
def team(clinic_a):
    """Clinic A's named nurse, two more nurses in its group and its lead."""
    return {
        "named": nurse_of(clinic_a, "named", on_staff=False, email="named@example.org"),
        "grace": nurse_of(clinic_a, "grace", on_staff=False, email="grace@example.org"),
        "gwen": nurse_of(clinic_a, "gwen", on_staff=False, email="gwen@example.org"),
        "lead": lead_of(clinic_a, "lead", on_staff=False, escalates=True, email="lead@x.org"),
    }


@pytest.fixture
def patient_of_named(clinic_a, team):
    return treated_patient(
        clinic_a, on=date(2026, 9, 1), hospital_number="H900", named_nurse=team["named"]
    )


def deliver_until_quiet(now, rounds=6):
    """Deliver every due batch, again and again, as the worker and the sweep would: rows the
    chain creates are due at once."""
    for _ in range(rounds):
        batches = due_batches(now=now)
        if not batches:
            return
        for batch in batches:
            batch_deliver(batch=batch, now=now)
    raise AssertionError("Still delivering after several rounds.")


def critical_result(patient, entered_by):
    result = platelets(patient, 23, entered_by=entered_by, sample=date(2026, 11, 20))
    Notification.objects.filter(result=result).update(not_before=NOW, created_at=NOW)
    return result


def row_to(user, result):
    return Notification.objects.get(result=result, recipient_user=user)


def test_an_alert_for_a_nurse_without_an_address_reaches_every_member_of_the_group(
    smtp, team, patient_of_named, clinician
):
    named = team["named"]
    named.email = ""
    named.save()
    result = critical_result(patient_of_named, clinician)

    deliver_until_quiet(NOW)

    for nurse in ("grace", "gwen"):
        (message,) = smtp.mailbox.to(f"{nurse}@example.org")
        assert message["Subject"] == "Urgent: 1 monitoring alert needs action today"
        assert message["To"] == f"{nurse}@example.org"
        body = message.get_payload()
        assert "CRITICAL Platelets" in body and "H900" in body
        assert "could not be delivered to named, so they come to you instead." in body
        row = row_to(team[nurse], result)
        assert (row.status, row.fallback_step) == (Status.SENT, Step.NURSE_GROUP)
        assert row.fallback_for == row_to(named, result)
    assert not smtp.mailbox.to("lead@x.org")
    failed = row_to(named, result)
    assert (failed.status, failed.attempts) == (Status.FAILED, 1)  # no retries
    assert failed.last_error == "The recipient has no email address."
    assert list(Notification.objects.failed_unhandled()) == [failed]


def test_a_refused_address_goes_to_the_group_and_when_the_group_is_refused_to_the_lead(
    smtp, team, patient_of_named, clinician
):
    smtp.mailbox.refuse = {"named@example.org", "grace@example.org", "gwen@example.org"}
    result = critical_result(patient_of_named, clinician)

    deliver_until_quiet(NOW)

    (message,) = smtp.mailbox.to("lead@x.org")
    assert "CRITICAL Platelets" in message.get_payload()
    assert len(smtp.mailbox.messages) == 1
    named, grace, gwen, lead = (row_to(team[n], result) for n in ("named", "grace", "gwen", "lead"))
    assert {named.status, grace.status, gwen.status} == {Status.FAILED}
    assert "550" in named.last_error and named.attempts == 1  # a 5xx is final: no retries
    assert grace.fallback_for == gwen.fallback_for == named
    assert (lead.status, lead.fallback_step) == (Status.SENT, Step.LEAD)
    assert lead.fallback_for in (grace, gwen)
    open_rows = Notification.objects.failed_unhandled().filter(patient=patient_of_named)
    assert set(open_rows) == {named, grace, gwen}

    handled = failed_alert_handle(
        notification=grace,
        note="Phoned the patient; repeat booked.",
        handled_by=team["lead"],
        now=NOW + timedelta(hours=1),
    )

    assert handled == 3  # one alert, three recipients it failed to reach
    assert not Notification.objects.failed_unhandled().exists()
    named.refresh_from_db()
    assert (named.handled_by, named.handled_note) == (
        team["lead"],
        "Phoned the patient; repeat booked.",
    )


def test_a_group_member_who_fails_leaves_the_alert_with_the_others_of_the_group(
    smtp, team, clinic_a, clinician
):
    """No named nurse: the alert goes to the whole group; one member refused is not a reason
    to wake the lead while the others have it."""
    patient = treated_patient(clinic_a, on=date(2026, 9, 1), hospital_number="H901")
    smtp.mailbox.refuse = {"grace@example.org"}
    result = critical_result(patient, clinician)

    deliver_until_quiet(NOW)

    assert smtp.mailbox.to("named@example.org") and smtp.mailbox.to("gwen@example.org")
    assert not smtp.mailbox.to("lead@x.org")
    assert row_to(team["grace"], result).status == Status.FAILED
    assert not Notification.objects.filter(fallback_for__isnull=False).exists()


def test_attempts_spent_go_on_down_the_chain_and_an_inactive_nurse_is_skipped(
    smtp, settings, team, patient_of_named, clinician
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 1
    smtp.mailbox.defer = {"named@example.org"}  # 451: worth a retry, but none are left
    team["grace"].is_active = False
    team["grace"].save()
    result = critical_result(patient_of_named, clinician)

    deliver_until_quiet(NOW)

    assert "451" in row_to(team["named"], result).last_error
    assert smtp.mailbox.to("gwen@example.org")
    assert not smtp.mailbox.to("grace@example.org")
    assert not Notification.objects.filter(result=result, recipient_user=team["grace"]).exists()


def test_when_nobody_in_the_chain_can_be_told_the_error_is_logged(
    smtp, team, patient_of_named, clinician, caplog
):
    smtp.mailbox.refuse = {f"{n}@example.org" for n in ("named", "grace", "gwen")} | {"lead@x.org"}
    result = critical_result(patient_of_named, clinician)

    deliver_until_quiet(NOW)

    assert not smtp.mailbox.messages
    assert "nobody further in the chain" in caplog.text
    assert Notification.objects.failed_unhandled().filter(result=result).count() == 4


def test_a_patient_reminder_has_no_chain(smtp, team, patient_of_named):
    check = ScheduledCheck.objects.filter(patient=patient_of_named).order_by("due_date").first()
    notifications_store(
        [
            notification_row(
                kind=Kind.DUE_SOON,
                delivery=Notification.Delivery.PATIENT_DAILY,
                patient_id=patient_of_named.pk,
                recipient_patient_id=patient_of_named.pk,
                check_id=check.pk,
                lead_days=7,
                now=NOW,
            )
        ]
    )
    patient_of_named.email = ""
    patient_of_named.save()

    deliver_until_quiet(NOW)

    (row,) = Notification.objects.all()
    assert row.status == Status.FAILED
    assert not smtp.mailbox.messages


def test_the_chain_costs_the_same_queries_for_one_failed_row_as_for_three(
    team, clinic_a, clinician, django_assert_max_num_queries
):
    """Set-based: a batch of a nurse's digest items that fails hands them all on in a few
    queries, not a few per row."""

    def failing_digest(count, name):
        nurse = nurse_of(clinic_a, name, on_staff=False, email="")
        rows = []
        for index in range(count):
            patient = treated_patient(
                clinic_a, on=date(2026, 9, 1), hospital_number=f"{name}{index}", named_nurse=nurse
            )
            rows.append(
                notification_row(
                    kind=Kind.OVERDUE,
                    delivery=Notification.Delivery.NURSE_DIGEST,
                    patient_id=patient.pk,
                    user_id=nurse.pk,
                    check_id=ScheduledCheck.objects.filter(patient=patient)
                    .order_by("due_date")
                    .first()
                    .pk,
                    now=NOW,
                )
            )
        notifications_store(rows)
        Notification.objects.filter(recipient_user=nurse).update(not_before=NOW)
        return next(b for b in due_batches(now=NOW) if b.recipient_user_id == nurse.pk)

    def queries_for(batch):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            outcome = batch_deliver(batch=batch, now=NOW + timedelta(hours=1))
        assert outcome.failed > 0
        return len(captured)

    one = queries_for(failing_digest(1, "solo"))
    three = queries_for(failing_digest(3, "trio"))
    assert three == one
    # The group less the one who failed and trio, who has no address either: three each.
    assert Notification.objects.filter(fallback_step=Step.NURSE_GROUP).count() == 3 + 3 * 3


def test_handling_is_refused_without_a_note_or_twice(team, patient_of_named, clinician):
    result = platelets(patient_of_named, 23, entered_by=clinician, sample=date(2026, 11, 20))
    row = row_to(team["named"], result)
    Notification.objects.filter(pk=row.pk).update(status=Status.FAILED, last_error="refused")

    with pytest.raises(ValidationError) as empty:
        failed_alert_handle(notification=row, note="  ", handled_by=team["lead"], now=NOW)
    assert "note" in empty.value.message_dict
    failed_alert_handle(notification=row, note="Phoned her.", handled_by=team["lead"], now=NOW)
    with pytest.raises(ValidationError, match="already been marked handled"):
        failed_alert_handle(notification=row, note="Again.", handled_by=team["lead"], now=NOW)
    sent = Notification.objects.create(
        **{
            f.attname: getattr(row, f.attname)
            for f in Notification._meta.concrete_fields
            if f.attname not in ("id", "key", "handled_at", "handled_by_id", "handled_note")
        }
        | {"key": "other", "status": Status.SENT}
    )
    with pytest.raises(ValidationError, match="did not fail"):
        failed_alert_handle(notification=sent, note="Nothing.", handled_by=team["lead"], now=NOW)


def test_handling_one_alert_leaves_the_patients_other_failed_alerts_open(
    team, patient_of_named, clinician
):
    first = platelets(patient_of_named, 23, entered_by=clinician, sample=date(2026, 11, 19))
    second = platelets(patient_of_named, 22, entered_by=clinician, sample=date(2026, 11, 20))
    Notification.objects.filter(result__in=[first, second]).update(
        status=Status.FAILED, last_error="refused"
    )

    failed_alert_handle(
        notification=row_to(team["named"], first),
        note="Phoned her.",
        handled_by=team["lead"],
        now=NOW,
    )

    assert list(Notification.objects.failed_unhandled()) == [row_to(team["named"], second)]
