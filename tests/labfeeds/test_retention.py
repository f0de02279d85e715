"""Lab messages past their clinic's retention period are emptied, and only those: the rows stay
with their counts and problems, and what was recorded or waits is never touched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from labfeeds.intake import message_receive
from labfeeds.models import LabConnection, LabMessage, WaitingResult
from labfeeds.retention import messages_purge
from labfeeds.tasks import purge_messages
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db


def received(connection, control_id, *, days_ago, now):
    message, _ = message_receive(
        protocol=LabMessage.Protocol.HL7,
        raw=f"MSH|{control_id}",
        connection=connection,
        control_id=control_id,
    )
    LabMessage.objects.filter(pk=message.pk).update(
        received_at=now - timedelta(days=days_ago),
        answer="MSA|AA",
        status=LabMessage.Status.WAITING,
        results_waiting=1,
        problems=[{"where": "OBX[1]", "message": "waits"}],
    )
    return message


def test_each_clinic_keeps_its_messages_for_its_own_period():
    now = timezone.now()
    short = ClinicFactory(code="short", lab_message_retention_days=7)
    usual = ClinicFactory(code="usual")  # 90 days
    lab_short = LabConnection.objects.create(clinic=short, name="S", hl7_sending_facility="S")
    lab_usual = LabConnection.objects.create(clinic=usual, name="U", hl7_sending_facility="U")
    kept = [
        received(lab_short, "s-6", days_ago=6, now=now),
        received(lab_usual, "u-8", days_ago=8, now=now),
        received(lab_usual, "u-89", days_ago=89, now=now),
        received(None, "x-89", days_ago=89, now=now),
    ]
    emptied = [
        received(lab_short, "s-8", days_ago=8, now=now),
        received(lab_usual, "u-91", days_ago=91, now=now),
        # No clinic (an unknown sender's): the default period.
        received(None, "x-91", days_ago=91, now=now),
    ]
    waiting = WaitingResult.objects.create(
        message=emptied[0], clinic=short, reason="unknown_patient", value="45"
    )

    assert messages_purge(now=now) == 3

    for message in emptied:
        message.refresh_from_db()
        assert (message.raw, message.answer, message.purged_at) == ("", "", now)
        assert message.status == LabMessage.Status.WAITING and message.results_waiting == 1
        assert message.problems == [{"where": "OBX[1]", "message": "waits"}]
    for message in kept:
        message.refresh_from_db()
        assert message.raw.startswith("MSH|") and message.purged_at is None
    waiting.refresh_from_db()
    assert (waiting.state, waiting.value) == ("waiting", "45")
    # Again: nothing more to empty, and the first purge's time is kept.
    assert messages_purge(now=now + timedelta(hours=1)) == 0
    emptied[0].refresh_from_db()
    assert emptied[0].purged_at == now


def test_the_purge_runs_daily_from_beat_under_its_name():
    entry = next(
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "labfeeds.purge_messages"
    )
    schedule = entry["schedule"]  # a crontab: once a day, every day
    assert len(schedule.hour) == 1 and len(schedule.minute) == 1
    assert len(schedule.day_of_week) == 7 and len(schedule.day_of_month) == 31
    assert purge_messages.name == "labfeeds.purge_messages"
    assert purge_messages.apply().get() == 0
