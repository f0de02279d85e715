"""Awaiting acknowledgement is kept on the result (`awaits_acknowledgement`) by the services that
flag, correct, acknowledge, import and mark in error. It must always say what the rule says:
amber or worse, not entered in error, on a report not entered in error, and no acknowledgement
at the present tier. Each test checks the flag against that rule computed the old way, as an
anti-join, in the test."""

import importlib
from datetime import date
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef
from django.utils import timezone

from monitoring.alerts.services import result_acknowledge
from monitoring.models import Acknowledgement, Analyte, LabReport, LabResult
from monitoring.results.csv_import import import_apply, import_stage
from monitoring.results.entry import ResultInput
from monitoring.results.services import (
    report_mark_in_error,
    report_record,
    result_correct,
    result_mark_in_error,
)
from patients.services import course_add
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

COURSE_ONE = date(2024, 1, 15)
TODAY = date(2026, 11, 21)

backfill_migration = importlib.import_module(
    "monitoring.migrations.0012_awaits_acknowledgement_flag"
)


def awaiting_by_the_old_rule() -> set[int]:
    """The query the scans and the worklist ran before the flag: every flagged result
    anti-joined with the acknowledgements at its tier."""
    reports_in_error = LabReport.objects.filter(
        pk=OuterRef("report_id"), entered_in_error_at__isnull=False
    )
    acknowledged = Acknowledgement.objects.filter(result=OuterRef("pk"), tier=OuterRef("tier"))
    return set(
        LabResult.objects.filter(tier__in=["amber", "red", "critical"], entered_in_error_at=None)
        .exclude(Exists(reports_in_error))
        .exclude(Exists(acknowledged))
        .values_list("pk", flat=True)
    )


def flagged_awaiting() -> set[int]:
    return set(LabResult.objects.filter(awaits_acknowledgement=True).values_list("pk", flat=True))


@pytest.fixture
def treated(patient):
    course_add(patient=patient, first_infusion_date=COURSE_ONE, daily_dose_mg=Decimal(12))
    return patient


def record(patient, sample, user, **values):
    analytes = {a.code: a for a in Analyte.objects.all()}
    units = {
        "platelets": "10^9/L",
        "neutrophils": "10^9/L",
        "wbc": "10^9/L",
        "creatinine": "umol/L",
    }
    panel = "kidney" if "creatinine" in values else "blood_count"
    return report_record(
        patient=patient,
        panel=panel,
        sample_collected_on=sample,
        entries=[ResultInput(analytes[code], str(v), units[code]) for code, v in values.items()],
        entered_by=user,
        today=TODAY,
    ).report


def platelets(patient, sample, value, user) -> LabResult:
    return record(patient, sample, user, platelets=value).results.get()


def acknowledge(result, user) -> None:
    result_acknowledge(
        result=result,
        action=Acknowledgement.Action.CALLED_PATIENT,
        note="Called the patient.",
        acknowledged_by=user,
        now=timezone.now(),
    )


def correct(result, value, user) -> LabResult:
    return result_correct(
        result=result, value=str(value), unit="10^9/L", reason="Typing error", corrected_by=user
    )


def awaits(result) -> bool:
    result.refresh_from_db()
    return result.awaits_acknowledgement


@pytest.mark.parametrize(
    ("value", "tier", "waiting"),
    [
        ("45", "critical", True),
        ("80", "red", True),
        ("120", "amber", True),
        ("250", "normal", False),
    ],
)
def test_a_recorded_result_awaits_acknowledgement_when_amber_or_worse(
    treated, clinician, value, tier, waiting
):
    result = platelets(treated, date(2024, 5, 15), value, clinician)
    assert result.tier == tier
    assert awaits(result) is waiting
    assert flagged_awaiting() == awaiting_by_the_old_rule()


def test_acknowledging_at_the_tier_stops_the_wait_without_a_new_version_or_audit_entry(
    treated, clinician
):
    result = platelets(treated, date(2024, 5, 15), 45, clinician)
    versions = result.history.count()
    result_entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(LabResult), object_pk=str(result.pk)
    )
    entries = result_entries.count()
    acknowledge(result, clinician)
    assert not awaits(result)
    assert result.history.count() == versions
    assert result_entries.count() == entries
    assert flagged_awaiting() == awaiting_by_the_old_rule() == set()


def test_the_flag_is_in_no_history_version_or_audit_entry(treated, clinician):
    result = platelets(treated, date(2024, 5, 15), 45, clinician)
    created = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(LabResult), object_pk=str(result.pk)
    )
    assert "tier" in created.changes_dict
    assert "awaits_acknowledgement" not in created.changes_dict
    assert not hasattr(result.history.get(), "awaits_acknowledgement")


def test_a_correction_to_another_tier_needs_a_new_acknowledgement(treated, clinician):
    result = platelets(treated, date(2024, 5, 15), 45, clinician)
    acknowledge(result, clinician)
    corrected = correct(result, 120, clinician)
    assert corrected.tier == "amber"
    assert awaits(result)
    assert flagged_awaiting() == awaiting_by_the_old_rule() == {result.pk}


def test_a_correction_back_to_an_acknowledged_tier_does_not(treated, clinician):
    result = platelets(treated, date(2024, 5, 15), 45, clinician)
    acknowledge(result, clinician)
    correct(result, 120, clinician)
    assert awaits(result)
    assert correct(result, 40, clinician).tier == "critical"
    assert not awaits(result)
    assert flagged_awaiting() == awaiting_by_the_old_rule() == set()


def test_a_correction_within_the_tier_keeps_the_acknowledgement(treated, clinician):
    result = platelets(treated, date(2024, 5, 15), 45, clinician)
    acknowledge(result, clinician)
    assert correct(result, 40, clinician).tier == "critical"
    assert not awaits(result)


def test_a_correction_to_normal_stops_the_wait(treated, clinician):
    result = platelets(treated, date(2024, 5, 15), 45, clinician)
    assert correct(result, 250, clinician).tier == "normal"
    assert not awaits(result)


def test_a_result_entered_in_error_no_longer_awaits(treated, clinician):
    result = platelets(treated, date(2024, 5, 15), 45, clinician)
    result_mark_in_error(result=result, reason="Wrong patient", marked_by=clinician)
    assert not awaits(result)
    assert flagged_awaiting() == awaiting_by_the_old_rule() == set()


def test_a_report_entered_in_error_takes_all_its_results_out(treated, clinician):
    report = record(treated, date(2024, 5, 15), clinician, platelets=45, neutrophils=0.8)
    assert {r.tier for r in report.results.all()} == {"critical", "red"}
    assert flagged_awaiting() == {r.pk for r in report.results.all()}
    report_mark_in_error(report=report, reason="Wrong patient", marked_by=clinician)
    assert flagged_awaiting() == awaiting_by_the_old_rule() == set()


def test_a_later_result_held_up_by_a_back_dated_red_count_awaits(treated, clinician):
    # Two normal counts, then a red one entered for the month before them: the first of the two
    # is held at amber until the second normal count clears the platelet flag.
    june = platelets(treated, date(2024, 6, 15), 200, clinician)
    july = platelets(treated, date(2024, 7, 15), 210, clinician)
    may = platelets(treated, date(2024, 5, 15), 90, clinician)
    june.refresh_from_db()
    assert (may.tier, june.tier) == ("red", "amber")
    assert awaits(may) and awaits(june) and not awaits(july)
    # The red count was wrong: June is normal again and waits for nobody.
    result_mark_in_error(result=may, reason="Wrong sample", marked_by=clinician)
    assert not awaits(june)
    assert flagged_awaiting() == awaiting_by_the_old_rule() == set()


def test_imported_results_await_acknowledgement(clinic_a, clinician):
    PatientFactory(clinic=clinic_a, hospital_number="H100", date_of_birth=date(1985, 6, 15))
    content = (
        b"hospital_number,sample_date,analyte,value,unit\n"
        b"H100,2026-03-02,platelets,45,10^9/L\n"
        b"H100,2026-03-02,wbc,5.1,10^9/L\n"
    )
    result_import, preview = import_stage(
        clinic=clinic_a,
        content=content,
        file_name="results.csv",
        uploaded_by=clinician,
        today=TODAY,
    )
    assert preview.ok
    import_apply(result_import=result_import, imported_by=clinician, today=TODAY)
    critical = LabResult.objects.get(analyte__code="platelets")
    assert critical.tier == "critical"
    assert flagged_awaiting() == awaiting_by_the_old_rule() == {critical.pk}


def mixed_results(patient, other, user) -> None:
    """Results in every state the rule distinguishes, over two patients."""
    platelets(patient, date(2024, 3, 15), 250, user)  # normal
    platelets(patient, date(2024, 4, 15), 45, user)  # critical, waiting
    acknowledge(platelets(patient, date(2024, 5, 15), 120, user), user)  # amber, acknowledged
    moved = platelets(other, date(2024, 3, 15), 80, user)  # red, acknowledged, now amber
    acknowledge(moved, user)
    correct(moved, 120, user)
    back = platelets(other, date(2024, 6, 15), 45, user)  # critical again after a correction
    acknowledge(back, user)
    correct(back, 120, user)
    correct(back, 40, user)
    result_mark_in_error(
        result=platelets(other, date(2024, 9, 15), 45, user), reason="Wrong row", marked_by=user
    )
    report_mark_in_error(
        report=record(other, date(2024, 10, 15), user, platelets=45, neutrophils=0.8),
        reason="Wrong patient",
        marked_by=user,
    )
    record(other, date(2024, 11, 15), user, creatinine=400)  # waiting, another panel
    record(other, date(2024, 12, 15), user, wbc=1.0)  # low: flagged, not acknowledged


def test_the_backfill_finds_what_the_old_query_found(treated, clinician, clinic_a):
    other = PatientFactory(clinic=clinic_a)
    course_add(patient=other, first_infusion_date=COURSE_ONE, daily_dose_mg=Decimal(12))
    mixed_results(treated, other, clinician)
    old = awaiting_by_the_old_rule()
    assert len(old) >= 3  # the data set has waiting results
    assert LabResult.objects.exclude(pk__in=old).filter(tier__in=["amber", "red", "critical"])
    assert flagged_awaiting() == old  # kept by the services

    LabResult.objects.update(awaits_acknowledgement=False)
    backfill_migration.backfill(apps, None)
    assert flagged_awaiting() == old
