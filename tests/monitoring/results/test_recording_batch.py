"""The recording pipeline: a batch of any size in the same statements, all or nothing, and the
same flags as reports recorded one by one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.models import Analyte, LabReport, LabResult, Notification
from monitoring.results.entry import ResultInput
from monitoring.results.recording import BatchRejected, ReportToRecord, reports_record
from tests.builders import nurse_of, treated_patient
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    clinic = ClinicFactory()
    nurse_of(clinic, "nurse")
    return clinic


def blood_count(patient, key, *, days_ago, platelets="210"):
    analytes = {a.code: a for a in Analyte.objects.filter(panel="blood_count")}
    return ReportToRecord(
        key=key,
        patient=patient,
        panel="blood_count",
        sample_collected_on=patient.clinic.today() - timedelta(days=days_ago),
        entries=[
            ResultInput(analytes["platelets"], platelets, "10^9/L"),
            ResultInput(analytes["neutrophils"], "3.1", "10^9/L"),
        ],
    )


def batch(patients):
    # Each patient: last month's count and this week's, the second one critical.
    return [
        report
        for n, patient in enumerate(patients)
        for report in (
            blood_count(patient, f"{n}a", days_ago=35),
            blood_count(patient, f"{n}b", days_ago=3, platelets="40"),
        )
    ]


def queries_for(reports, user) -> int:
    with CaptureQueriesContext(connection) as captured:
        reports_record(reports=reports, entered_by=user, source="hl7")
    return len(captured)


def test_the_statements_do_not_grow_with_the_batch(clinic):
    from tests.factories import UserFactory

    user = UserFactory()
    warm_up, *small = [treated_patient(clinic, days_ago=200, given=True) for _ in range(3)]
    large = [treated_patient(clinic, days_ago=200, given=True) for _ in range(8)]
    queries_for(batch([warm_up]), user)  # content types and other first-use caches
    assert queries_for(batch(small), user) == queries_for(batch(large), user)
    assert LabReport.objects.count() == 22
    # Every patient's second count is critical, flagged against the first one.
    critical = LabResult.objects.filter(analyte__code="platelets", tier="critical")
    assert critical.count() == 11
    assert Notification.objects.filter(result__in=critical).count() == 11


def test_one_bad_report_stores_none_of_the_batch(clinic):
    from tests.factories import UserFactory

    patients = [treated_patient(clinic, days_ago=200, given=True) for _ in range(2)]
    reports = batch(patients)
    bad = reports[3]
    reports[3] = ReportToRecord(
        key=bad.key,
        patient=bad.patient,
        panel=bad.panel,
        sample_collected_on=bad.sample_collected_on,
        entries=[ResultInput(bad.entries[0].analyte, "lots", "10^9/L")],
    )
    with pytest.raises(BatchRejected) as rejected:
        reports_record(reports=reports, entered_by=UserFactory(), source="hl7")
    assert list(rejected.value.problems) == ["1b"]
    assert "“lots” is not a number" in rejected.value.problems["1b"]["platelets"][0]
    assert not LabReport.objects.exists() and not Notification.objects.exists()


def test_a_batch_flags_as_reports_recorded_one_by_one(clinic):
    from tests.factories import UserFactory

    user = UserFactory()
    together, apart = (treated_patient(clinic, days_ago=200, given=True) for _ in range(2))
    reports_record(reports=batch([together]), entered_by=user, source="hl7")
    for report in batch([apart]):
        reports_record(reports=[report], entered_by=user, source="hl7")

    def flags(patient):
        return list(
            LabResult.objects.filter(patient=patient)
            .order_by("sample_collected_on", "analyte__code")
            .values_list("analyte__code", "tier", "value_tier", "reasons", "next_action")
        )

    assert flags(together) == flags(apart)
    assert flags(together)[-1][1] == "critical"
