"""Each worklist row keeps what it read of the patient's record until the record changes
(monitoring.worklist.rows): a second look reads none of it, and a change made anywhere shows on
the next request. What depends on the clock (escalation) is reckoned on every request."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import generations
from monitoring.alerts.services import result_acknowledge
from tests.auth import sign_in
from tests.builders import platelets, treated_patient
from tests.monitoring.worklist.test_worklist import hours_ago, listed

pytestmark = pytest.mark.django_db

WORKLIST = reverse("monitoring:worklist")
# The statements that read a row's record items: reports, results, visits, notes.
ITEM_READS = (
    'FROM "monitoring_symptomreport" WHERE',
    '"monitoring_labresult"."analyte_id"',
    "DENSE_RANK()",
    'FROM "monitoring_acknowledgement"',
)


@pytest.fixture
def seen(client, nurse_a, clinic_a):
    """A patient overdue with a critical result, flagged three hours ago, looked at once."""
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    result = platelets(patient, 45, entered_by=nurse_a, days_ago=1, tier_since=hours_ago(3))
    client = sign_in(client, nurse_a)
    [row] = listed(client.get(WORKLIST), "urgent")
    assert [r.pk for r in row.results] == [result.pk] and row.visits
    return client, patient, result


def item_reads(client) -> tuple[list[str], object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(WORKLIST)
    reads = [q["sql"] for q in captured if any(part in q["sql"] for part in ITEM_READS)]
    return reads, response


def test_a_second_look_reads_none_of_the_rows_items(seen):
    client, patient, result = seen
    reads, response = item_reads(client)
    assert reads == []
    [row] = listed(response, "urgent")
    assert [r.pk for r in row.results] == [result.pk]
    assert row.visits and row.visits[0].overdue
    assert f'id="patient-{patient.pk}"' in response.content.decode()


def test_a_new_result_shows_on_a_kept_row_at_once(seen, nurse_a):
    client, patient, result = seen
    newer = platelets(patient, 30, entered_by=nurse_a, days_ago=0)
    reads, response = item_reads(client)
    assert reads  # the record changed: its items are read again
    [row] = listed(response, "urgent")
    assert {r.pk for r in row.results} == {result.pk, newer.pk}


def test_an_acknowledgement_leaves_the_kept_row_at_once(seen, nurse_a):
    client, patient, result = seen
    result_acknowledge(
        result=result,
        action="repeat_ordered",
        note="Repeat count today.",
        acknowledged_by=nurse_a,
        now=timezone.now(),
    )
    response = client.get(WORKLIST)
    assert listed(response, "urgent") == []
    [row] = listed(response, "overdue")
    assert row.patient.pk == patient.pk and row.results == []


def test_escalation_is_reckoned_on_every_request(seen, clinic_a):
    """Flagged three hours ago: escalated once the clinic's critical deadline is two hours."""
    client, _, _ = seen
    clinic_a.critical_escalation_hours = 4
    clinic_a.save()
    [row] = listed(client.get(WORKLIST), "urgent")
    assert not row.results[0].escalated
    clinic_a.critical_escalation_hours = 2
    clinic_a.save()
    reads, response = item_reads(client)
    assert reads == []  # kept: the clinic's settings are not the record
    [row] = listed(response, "urgent")
    assert row.results[0].escalated
    assert "escalated to the lead" in response.content.decode()


def test_without_a_cache_every_row_is_read(seen, settings):
    client, _, result = seen
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    reads, response = item_reads(client)
    assert reads
    assert [r.pk for r in listed(response, "urgent")[0].results] == [result.pk]


def test_rows_kept_by_another_release_are_read_again(seen, monkeypatch):
    """After a deploy the new code never unpickles rows the old code kept (their shape may
    differ): the code's stamp is part of each row's key."""
    client, _, result = seen
    monkeypatch.setattr(generations, "code_stamp", lambda: "the next release")
    reads, response = item_reads(client)
    assert reads
    [row] = listed(response, "urgent")
    assert [r.pk for r in row.results] == [result.pk]
