"""Alerts through the real parts: a Celery worker process on Redis, PostgreSQL, and an SMTP
server on loopback. Each alert must arrive once: not lost when SMTP, the worker or Redis fails,
and not doubled when scans or workers run side by side.

These need PostgreSQL (the worker is another process, so the test database must be a server)
and Redis; on the embedded defaults they are skipped, and test_delivery.py beside this file
covers the same delivery code in-process."""

from __future__ import annotations

import os
import textwrap
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from monitoring.models import Notification, ScheduledCheck
from monitoring.tasks import deliver_due, run_scans
from tests.auth import sign_in
from tests.builders import nurse_of, platelets, treated_patient
from tests.delivery_harness import (
    RedisServer,
    SmtpServer,
    WorkerProcess,
    manage,
    wait_for,
    worker_environment,
)

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL")
        or not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="needs REDIS_URL and a PostgreSQL DATABASE_URL (the worker is another process)",
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

Status = Notification.Status


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def clinic(clinic_a):
    """Clinic A with a nurse group of two, a lead, no quiet hours and a midnight digest, so
    that the time of day these tests run at changes nothing."""
    clinic_a.quiet_hours_start = clinic_a.quiet_hours_end = clinic_a.digest_time = "00:00"
    clinic_a.save()
    return clinic_a


@pytest.fixture
def nurses(clinic):
    named = nurse_of(clinic, "named_nurse", email="named.nurse@example.org")
    other = nurse_of(clinic, "other_nurse", email="other.nurse@example.org")
    return named, other


def start_worker(smtp, *, broker_url=None, concurrency=1) -> WorkerProcess:
    from config.celery import app

    app.control.purge()
    worker = WorkerProcess(
        worker_environment(
            database_name=connection.settings_dict["NAME"],
            broker_url=broker_url or os.environ["REDIS_URL"],
            smtp_port=smtp.port,
        ),
        concurrency=concurrency,
    )
    worker.start()
    return worker


@pytest.fixture
def workers():
    started = []
    yield started
    for worker in started:
        worker.stop()


def patient_with_one_overdue_check(clinic, named_nurse):
    """A treated patient whose only open check is a blood count overdue for three days."""
    today = timezone.localdate()
    patient = treated_patient(
        clinic, on=today - timedelta(days=90), named_nurse=named_nurse, email=""
    )
    target = ScheduledCheck.objects.filter(patient=patient, panel="blood_count").first()
    ScheduledCheck.objects.filter(patient=patient).exclude(pk=target.pk).update(
        waived_at=timezone.now(), waived_reason="Test set-up: only one check open."
    )
    ScheduledCheck.objects.filter(pk=target.pk).update(
        due_date=today - timedelta(days=10),
        window_opens=today - timedelta(days=17),
        overdue_after=today - timedelta(days=3),
    )
    return patient, target


def settled():
    """Nothing left to deliver or in flight."""
    return not Notification.objects.filter(status__in=[Status.QUEUED, Status.SENDING]).exists()


def test_a_check_that_becomes_overdue_is_one_email_to_the_named_nurse(
    clinic, nurses, smtp, workers
):
    named, other = nurses
    _, check = patient_with_one_overdue_check(clinic, named)
    smtp.start()
    workers.append(start_worker(smtp))

    run_scans.delay()
    wait_for(lambda: smtp.mailbox.to(named.email), what="the digest to the named nurse")
    run_scans.delay()
    wait_for(settled, what="the second scan")
    deliver_due.delay()

    (digest,) = smtp.mailbox.to(named.email)
    assert digest["Subject"] == "Daily monitoring digest: 1 item"
    assert "Blood count" in digest.get_payload()
    assert smtp.mailbox.to(other.email) == []
    row = Notification.objects.get(scheduled_check=check)
    assert (row.recipient_user, row.status, row.attempts) == (named, Status.SENT, 1)


def test_two_scans_at_once_make_one_notification_and_one_email(clinic, nurses, smtp, workers):
    named, _ = nurses
    _, check = patient_with_one_overdue_check(clinic, named)
    smtp.start()
    worker = start_worker(smtp, concurrency=2)
    workers.append(worker)

    # Two scans on the worker's two processes, and two more from the command line, together.
    run_scans.delay()
    run_scans.delay()
    commands = [manage("monitoring_scan", env=worker.env) for _ in range(2)]
    for command in commands:
        _, errors = command.communicate(timeout=60)
        assert command.returncode == 0, errors

    wait_for(lambda: smtp.mailbox.to(named.email), what="the digest")
    wait_for(settled, what="every delivery")
    assert Notification.objects.filter(scheduled_check=check).count() == 1
    assert len(smtp.mailbox.to(named.email)) == 1


@pytest.fixture
def treated(clinic, nurses):
    return treated_patient(
        clinic, on=timezone.localdate() - timedelta(days=90), named_nurse=nurses[0]
    )


def test_smtp_down_then_up_delivers_the_urgent_alert_once(treated, nurses, smtp, workers):
    named, _ = nurses
    workers.append(start_worker(smtp))  # the SMTP server is not listening yet

    result = platelets(treated, "45", entered_by=named, sample=timezone.localdate())
    row = Notification.objects.get(result=result)
    wait_for(
        lambda: Notification.objects.filter(pk=row.pk, attempts__gte=1, last_error__gt="").exists(),
        what="a failed first attempt",
    )
    smtp.start()
    wait_for(
        lambda: Notification.objects.filter(pk=row.pk, status=Status.SENT).exists(),
        what="delivery once SMTP is back",
    )
    assert len(smtp.mailbox.to(named.email)) == 1
    assert smtp.mailbox.to(named.email)[0]["Subject"].startswith("Urgent")


def test_smtp_down_for_good_marks_the_alert_failed_and_shows_it_on_the_worklist(
    treated, nurses, smtp, workers, client
):
    named, _ = nurses
    workers.append(start_worker(smtp))

    result = platelets(treated, "45", entered_by=named, sample=timezone.localdate())
    row = Notification.objects.get(result=result)
    wait_for(
        lambda: Notification.objects.filter(pk=row.pk, status=Status.FAILED).exists(),
        what="the last retry to fail",
    )
    row.refresh_from_db()
    assert row.attempts == 4  # NOTIFICATION_MAX_ATTEMPTS in the worker's environment
    assert "Connection refused" in row.last_error
    sign_in(client, named)
    page = client.get("/worklist/").content.decode()
    assert "Connection refused" in page


def test_a_worker_killed_mid_delivery_delivers_after_restart(treated, nurses, smtp, workers):
    named, _ = nurses
    smtp.mailbox.stall_first = True
    smtp.start()
    first = start_worker(smtp)

    result = platelets(treated, "45", entered_by=named, sample=timezone.localdate())
    wait_for(smtp.mailbox.stalled.is_set, what="the worker to be inside the SMTP exchange")
    first.kill()
    smtp.mailbox.release.set()  # the server refuses the half-sent message: nothing delivered
    row = Notification.objects.get(result=result)
    assert row.status == Status.SENDING  # claimed by a worker that no longer exists

    workers.append(start_worker(smtp))
    # The sweep (celery beat runs it every minute) takes the row over once its lease ends.
    wait_for(
        lambda: (
            deliver_due.delay()
            and Notification.objects.filter(pk=row.pk, status=Status.SENT).exists()
        ),
        what="delivery after the restart",
    )
    row.refresh_from_db()
    assert row.attempts == 2
    assert len(smtp.mailbox.to(named.email)) == 1


def test_a_message_delivered_twice_after_a_crash_carries_one_identity(
    treated, nurses, smtp, workers
):
    named, _ = nurses
    smtp.mailbox.stall_after_accepting = True
    smtp.start()
    first = start_worker(smtp)

    result = platelets(treated, "45", entered_by=named, sample=timezone.localdate())
    wait_for(smtp.mailbox.stalled.is_set, what="the server to hold the worker after accepting")
    first.kill()
    smtp.mailbox.release.set()
    assert len(smtp.mailbox.to(named.email)) == 1  # delivered, but the row still says sending
    row = Notification.objects.get(result=result)
    assert row.status == Status.SENDING

    workers.append(start_worker(smtp))
    wait_for(
        lambda: (
            deliver_due.delay()
            and Notification.objects.filter(pk=row.pk, status=Status.SENT).exists()
        ),
        what="the takeover after the lease",
    )
    # At least once: the copy is sent again, and says it is the same message.
    original, repeat = smtp.mailbox.to(named.email)
    row.refresh_from_db()
    for header in ("X-Monitoring-Reference", "Message-ID"):
        assert original[header] == repeat[header]
    assert original["X-Monitoring-Reference"] == str(row.message_ref)


RECORD_WITH_REDIS_DOWN = textwrap.dedent(
    """
    import logging, sys
    from django.utils import timezone
    from monitoring.results.services import report_record
    from monitoring.models import Analyte
    from monitoring.results.entry import ResultInput
    from patients.models import Patient
    from django.contrib.auth import get_user_model
    logging.basicConfig(level=logging.WARNING)
    report_record(
        patient=Patient.objects.get(pk={patient}),
        panel="blood_count",
        sample_collected_on=timezone.localdate(),
        entries=[ResultInput(Analyte.objects.get(code="platelets"), "45", "10^9/L")],
        entered_by=get_user_model().objects.get(pk={user}),
    )
    """
)


def test_redis_down_when_a_result_is_saved_still_delivers_later(treated, nurses, smtp, workers):
    named, _ = nurses
    redis = RedisServer()
    redis.start()
    smtp.start()
    worker = start_worker(smtp, broker_url=redis.url)
    workers.append(worker)
    redis.stop()

    # The web process saves a critical result while the broker is down.
    web = manage(
        "shell",
        "-c",
        RECORD_WITH_REDIS_DOWN.format(patient=treated.pk, user=named.pk),
        env=worker.env,
    )
    _, errors = web.communicate(timeout=60)
    assert web.returncode == 0, errors
    assert "left for the sweep" in errors
    row = Notification.objects.get(result__patient=treated)
    assert (row.status, row.result.tier) == (Status.QUEUED, "critical")

    redis.start()  # the same port: the worker reconnects
    try:
        sweep = manage(
            "shell",
            "-c",
            "from monitoring.tasks import deliver_due; deliver_due.delay()",
            env=worker.env,
        )
        sweep.communicate(timeout=60)
        wait_for(
            lambda: Notification.objects.filter(pk=row.pk, status=Status.SENT).exists(),
            timeout=60,
            what="the sweep to deliver the saved alert",
        )
    finally:
        worker.stop()
        redis.stop()
    assert len(smtp.mailbox.to(named.email)) == 1
