"""Awaiting acknowledgement is kept on the result (`awaits_acknowledgement`) by the services that
flag, correct, acknowledge, import and mark in error. It must always say what the rule says:
amber or worse, not entered in error, on a report not entered in error, and no acknowledgement
at the present tier. Each test checks the flag against that rule computed the old way, as an
anti-join, in the test."""

import importlib
from datetime import date
from functools import partial

import pytest
from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef

from monitoring.models import Acknowledgement, LabReport, LabResult
from monitoring.results.csv_import import import_apply, import_stage
from monitoring.results.services import (
    report_mark_in_error,
    result_correct,
    result_mark_in_error,
)
from tests import builders
from tests.builders import acknowledge, treated_patient
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

COURSE_ONE = date(2024, 1, 15)  # as for the `treated` patient (tests/conftest.py)
TODAY = date(2026, 11, 21)
NOTE = "Called the patient."

# Every report here is entered as on TODAY, whatever day the tests run.
record = partial(builders.report, today=TODAY)
platelets = partial(builders.platelets, today=TODAY)

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
    result = platelets(treated, value, entered_by=clinician, sample=date(2024, 5, 15))
    assert result.tier == tier
    assert awaits(result) is waiting
    assert flagged_awaiting() == awaiting_by_the_old_rule()


def test_acknowledging_at_the_tier_stops_the_wait_without_a_new_version_or_audit_entry(
    treated, clinician
):
    result = platelets(treated, 45, entered_by=clinician, sample=date(2024, 5, 15))
    versions = result.history.count()
    result_entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(LabResult), object_pk=str(result.pk)
    )
    entries = result_entries.count()
    acknowledge(result, clinician, note=NOTE)
    assert not awaits(result)
    assert result.history.count() == versions
    assert result_entries.count() == entries
    assert flagged_awaiting() == awaiting_by_the_old_rule() == set()


def test_the_flag_is_in_no_history_version_or_audit_entry(treated, clinician):
    result = platelets(treated, 45, entered_by=clinician, sample=date(2024, 5, 15))
    created = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(LabResult), object_pk=str(result.pk)
    )
    assert "tier" in created.changes_dict
    assert "awaits_acknowledgement" not in created.changes_dict
    assert not hasattr(result.history.get(), "awaits_acknowledgement")


def test_a_correction_to_another_tier_needs_a_new_acknowledgement(treated, clinician):
    result = platelets(treated, 45, entered_by=clinician, sample=date(2024, 5, 15))
    acknowledge(result, clinician, note=NOTE)
    corrected = correct(result, 120, clinician)
    assert corrected.tier == "amber"
    assert awaits(result)
    assert flagged_awaiting() == awaiting_by_the_old_rule() == {result.pk}


def test_a_correction_back_to_an_acknowledged_tier_does_not(treated, clinician):
    result = platelets(treated, 45, entered_by=clinician, sample=date(2024, 5, 15))
    acknowledge(result, clinician, note=NOTE)
    correct(result, 120, clinician)
    assert awaits(result)
    assert correct(result, 40, clinician).tier == "critical"
    assert not awaits(result)
    assert flagged_awaiting() == awaiting_by_the_old_rule() == set()


def test_a_correction_within_the_tier_keeps_the_acknowledgement(treated, clinician):
    result = platelets(treated, 45, entered_by=clinician, sample=date(2024, 5, 15))
    acknowledge(result, clinician, note=NOTE)
    assert correct(result, 40, clinician).tier == "critical"
    assert not awaits(result)


def test_a_correction_to_normal_stops_the_wait(treated, clinician):
    result = platelets(treated, 45, entered_by=clinician, sample=date(2024, 5, 15))
    assert correct(result, 250, clinician).tier == "normal"
    assert not awaits(result)


def test_a_result_entered_in_error_no_longer_awaits(treated, clinician):
    result = platelets(treated, 45, entered_by=clinician, sample=date(2024, 5, 15))
    result_mark_in_error(result=result, reason="Wrong patient", marked_by=clinician)
    assert not awaits(result)
    assert flagged_awaiting() == awaiting_by_the_old_rule() == set()


def test_a_report_entered_in_error_takes_all_its_results_out(treated, clinician):
    report = record(
        treated,
        "blood_count",
        {"platelets": 45, "neutrophils": 0.8},
        entered_by=clinician,
        sample=date(2024, 5, 15),
    )
    assert {r.tier for r in report.results.all()} == {"critical", "red"}
    assert flagged_awaiting() == {r.pk for r in report.results.all()}
    report_mark_in_error(report=report, reason="Wrong patient", marked_by=clinician)
    assert flagged_awaiting() == awaiting_by_the_old_rule() == set()


def test_a_later_result_held_up_by_a_back_dated_red_count_awaits(treated, clinician):
    # Two normal counts, then a red one entered for the month before them: the first of the two
    # is held at amber until the second normal count clears the platelet flag.
    june = platelets(treated, 200, entered_by=clinician, sample=date(2024, 6, 15))
    july = platelets(treated, 210, entered_by=clinician, sample=date(2024, 7, 15))
    may = platelets(treated, 90, entered_by=clinician, sample=date(2024, 5, 15))
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

    def count(whose, value, sample):
        return platelets(whose, value, entered_by=user, sample=sample)

    def panel(whose, name, values, sample):
        return record(whose, name, values, entered_by=user, sample=sample)

    count(patient, 250, date(2024, 3, 15))  # normal
    count(patient, 45, date(2024, 4, 15))  # critical, waiting
    acknowledge(count(patient, 120, date(2024, 5, 15)), user, note=NOTE)  # amber, acknowledged
    moved = count(other, 80, date(2024, 3, 15))  # red, acknowledged, now amber
    acknowledge(moved, user, note=NOTE)
    correct(moved, 120, user)
    back = count(other, 45, date(2024, 6, 15))  # critical again after a correction
    acknowledge(back, user, note=NOTE)
    correct(back, 120, user)
    correct(back, 40, user)
    result_mark_in_error(
        result=count(other, 45, date(2024, 9, 15)), reason="Wrong row", marked_by=user
    )
    report_mark_in_error(
        report=panel(
            other, "blood_count", {"platelets": 45, "neutrophils": 0.8}, date(2024, 10, 15)
        ),
        reason="Wrong patient",
        marked_by=user,
    )
    panel(other, "kidney", {"creatinine": 400}, date(2024, 11, 15))  # waiting, another panel
    panel(other, "blood_count", {"wbc": 1.0}, date(2024, 12, 15))  # low: flagged, unacknowledged


def test_the_backfill_finds_what_the_old_query_found(treated, clinician, clinic_a):
    other = treated_patient(clinic_a, on=COURSE_ONE)
    mixed_results(treated, other, clinician)
    old = awaiting_by_the_old_rule()
    assert len(old) >= 3  # the data set has waiting results
    assert LabResult.objects.exclude(pk__in=old).filter(tier__in=["amber", "red", "critical"])
    assert flagged_awaiting() == old  # kept by the services

    LabResult.objects.update(awaits_acknowledgement=False)
    backfill_migration.backfill(apps, None)
    assert flagged_awaiting() == old
