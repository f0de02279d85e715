"""Every scan and list that grows with the programme takes the same number of queries at two
sizes of data. The pages' own tests pin their counts with the queries named: the patient list
and page (test_staff_screens.py), the worklist (monitoring/worklist/test_worklist.py), the
portal home (portal/test_home.py), the audit trail (audit/test_lead_pages.py) and all the scans
together (monitoring/alerts/test_scans.py). Here: each scan alone, the sweep, re-planning many
schedules at once, and a result's history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring.alerts.scans import SCANS, clinics_alerting
from monitoring.models import Notification
from monitoring.outbox.delivery import due_batches
from monitoring.results.services import result_correct
from monitoring.schedule.services import schedules_reconcile
from patients.models import InfusionCourse
from tests.builders import lead_of, nurse_of, platelets, treated_patient
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # a Saturday, 10:00 in London
COURSE_ONE = date(2026, 9, 1)  # so that checks are overdue by NOW


def statements(work) -> list[str]:
    """The verbs of the statements `work` runs, savepoints left out. SQLite splits a large
    insert, bulk update or `pk IN (...)` at its limit of bound variables, so there a run of
    the same verb counts once; on PostgreSQL every statement counts."""
    with CaptureQueriesContext(connection) as captured:
        work()
    verbs = [q["sql"].lstrip().split()[0].upper() for q in captured]
    kept = [verb for verb in verbs if verb not in ("SAVEPOINT", "RELEASE")]
    if connection.vendor != "sqlite":
        return kept
    return [verb for n, verb in enumerate(kept) if n == 0 or kept[n - 1] != verb]


@pytest.fixture
def nurses(clinic_a):
    first = nurse_of(clinic_a, "nurse_q1", on_staff=False)
    second = nurse_of(clinic_a, "nurse_q2", on_staff=False)
    lead_of(clinic_a, "lead_q", on_staff=False, escalates=True)
    return first, second


def a_patient_with_something_to_say(clinic, nurse, number):
    """Treated in September: checks overdue by November, a red platelet count unacknowledged."""
    patient = treated_patient(
        clinic,
        on=COURSE_ONE,
        email="patient@example.org",
        hospital_number=f"Q{number}",
        reminder_leads="14,7,1",
    )
    platelets(patient, 80, entered_by=nurse, sample=date(2026, 11, 18))
    return patient


@pytest.mark.parametrize("name", list(SCANS))
def test_each_scan_takes_the_same_queries_for_two_and_for_six_patients(clinic_a, nurses, name):
    scan = SCANS[name]
    for number in range(2):
        a_patient_with_something_to_say(clinic_a, nurses[0], number)
    few = statements(lambda: scan(now=NOW, clinics=clinics_alerting(NOW)))
    for number in range(2, 6):
        a_patient_with_something_to_say(clinic_a, nurses[0], number)
    later = NOW + timedelta(days=3)
    before = Notification.objects.count()
    many = statements(lambda: scan(now=later, clinics=clinics_alerting(later)))
    assert few == many
    if name in ("overdue", "escalation"):
        # The others may find nothing new: saving the result already told the nurses, and
        # whether a reminder falls due depends on the day.
        assert Notification.objects.count() > before


def test_the_sweep_is_one_query_for_two_and_for_six_recipients(clinic_a, nurses):
    for number in range(2):
        a_patient_with_something_to_say(clinic_a, nurses[0], number)
    SCANS["overdue"](now=NOW, clinics=clinics_alerting(NOW))
    few = statements(lambda: due_batches(now=NOW))
    for number in range(2, 6):
        a_patient_with_something_to_say(clinic_a, nurses[0], number)
    SCANS["overdue"](now=NOW, clinics=clinics_alerting(NOW))
    assert few == statements(lambda: due_batches(now=NOW)) == ["SELECT"]
    assert len(due_batches(now=NOW)) > 2


def test_replanning_six_patients_takes_the_queries_of_two(clinic_a):
    def patients(count):
        people = [PatientFactory(clinic=clinic_a) for _ in range(count)]
        for person in people:
            InfusionCourse.objects.create(
                patient=person,
                number=1,
                first_infusion_date=date(2025, 3, 3),
                days=5,
                daily_dose_mg=Decimal(12),
                status=InfusionCourse.Status.GIVEN,
            )
        return [person.pk for person in people]

    two, six = patients(2), patients(6)
    # lock the patients, their courses, the protocols' items, their live checks, the insert,
    # the patients' ends of follow-up
    first = statements(lambda: schedules_reconcile(patient_ids=two))
    assert first == statements(lambda: schedules_reconcile(patient_ids=six))
    assert len(first) == 6 or connection.vendor == "sqlite"
    # A course moved for all of them: the checks move, each recorded in the audit trail.
    InfusionCourse.objects.filter(patient__in=two + six).update(
        first_infusion_date=date(2025, 3, 10)
    )
    moved_two = statements(lambda: schedules_reconcile(patient_ids=two))
    moved_six = statements(lambda: schedules_reconcile(patient_ids=six))
    assert moved_two == moved_six


def test_a_results_history_takes_the_same_queries_after_one_and_after_six_corrections(
    client_a, staff_a, clinic_a
):
    patient = treated_patient(clinic_a, on=COURSE_ONE)
    result = platelets(patient, 210, entered_by=staff_a, sample=date(2026, 11, 20))
    url = reverse("monitoring:result_history", args=[result.pk])

    def correct(times):
        for n in range(times):
            result.refresh_from_db()
            result_correct(
                result=result,
                value=str(200 + n),
                unit="10^9/L",
                reason=f"Transcription error {n}",
                corrected_by=staff_a,
            )

    correct(1)
    few = statements(lambda: client_a.get(url))
    correct(5)
    with CaptureQueriesContext(connection):
        response = client_a.get(url)
    assert statements(lambda: client_a.get(url)) == few
    assert len(response.context["versions"]) >= 7
