"""Recording lab reports against the real database: flags from stored history, completion of
the right scheduled check, corrections as versions, entries in error, and double submission."""

import uuid
from datetime import date
from decimal import Decimal
from functools import partial

import pytest
from django.core.exceptions import ValidationError

from monitoring.domain.check_status import CheckStatus
from monitoring.models import LabReport, LabResult, ScheduledCheck
from monitoring.results.services import (
    report_mark_in_error,
    result_correct,
    result_mark_in_error,
)
from patients.services import course_add
from tests import builders

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 21)

# Every report here is entered as on TODAY, so that "in the future" means after it whatever day
# the tests run.
record = partial(builders.report, today=TODAY)
platelets = partial(builders.platelets, today=TODAY)


def test_platelets_of_45_are_critical_with_the_next_action(treated, clinician):
    result = platelets(treated, 45, entered_by=clinician, sample=date(2024, 3, 15))
    assert result.tier == "critical"
    assert "Emergency" in result.next_action
    assert "ITP" in result.rationale
    assert result.canonical_value == 45


def test_platelets_of_zero_are_stored_and_critical(treated, clinician):
    assert platelets(treated, 0, entered_by=clinician, sample=date(2024, 3, 15)).tier == "critical"


def test_a_sample_inside_the_window_completes_that_check_on_time(treated, clinician):
    report = record(
        treated, "kidney", {"creatinine": "70"}, entered_by=clinician, sample=date(2024, 3, 12)
    )
    check = ScheduledCheck.objects.get(completed_by=report)
    assert (check.due_date, check.status_on(TODAY)) == (date(2024, 3, 15), CheckStatus.COMPLETED)


def test_a_sample_after_the_window_completes_the_overdue_check_late(treated, clinician):
    # March's check closed on 22 March; April's window opens on 8 April.
    report = record(
        treated, "kidney", {"creatinine": "70"}, entered_by=clinician, sample=date(2024, 3, 30)
    )
    check = ScheduledCheck.objects.get(completed_by=report)
    assert check.due_date == date(2024, 3, 15)
    assert check.status_on(TODAY) == CheckStatus.COMPLETED_LATE


def test_a_report_matching_no_check_is_kept_as_unscheduled(patient, clinician):
    report = record(
        patient, "thyroid", {"tsh": ("2.0", "mU/L")}, entered_by=clinician, sample=date(2023, 6, 1)
    )
    assert report.pk and not report.completed_checks.exists()


def test_one_sample_completes_both_the_monthly_and_the_pre_course_check(treated, clinician):
    course_add(patient=treated, first_infusion_date=date(2025, 1, 20), daily_dose_mg=Decimal(12))
    report = record(
        treated, "blood_count", {"platelets": "250"}, entered_by=clinician, sample=date(2025, 1, 14)
    )
    assert sorted(report.completed_checks.values_list("kind", flat=True)) == [
        "pre_course",
        "recurring",
    ]


def test_creatinine_is_compared_with_the_baseline_before_course_one(treated, clinician):
    record(treated, "kidney", {"creatinine": "60"}, entered_by=clinician, sample=date(2024, 1, 2))
    below = record(
        treated, "kidney", {"creatinine": "89"}, entered_by=clinician, sample=date(2024, 2, 15)
    )
    at = record(
        treated, "kidney", {"creatinine": "90"}, entered_by=clinician, sample=date(2024, 3, 15)
    )
    triple = record(
        treated, "kidney", {"creatinine": "180"}, entered_by=clinician, sample=date(2024, 4, 15)
    )
    assert [r.results.get().tier for r in (below, at, triple)] == ["normal", "red", "critical"]


def test_the_latest_result_before_course_one_is_the_baseline(treated, clinician):
    record(treated, "kidney", {"creatinine": "100"}, entered_by=clinician, sample=date(2023, 12, 1))
    record(treated, "kidney", {"creatinine": "60"}, entered_by=clinician, sample=date(2024, 1, 10))
    after = record(
        treated, "kidney", {"creatinine": "95"}, entered_by=clinician, sample=date(2024, 2, 15)
    )
    assert after.results.get().tier == "red"  # 95 >= 1.5 x 60, not x 100


def test_a_platelet_fall_of_half_from_the_previous_count_is_amber(treated, clinician):
    platelets(treated, 320, entered_by=clinician, sample=date(2024, 5, 15))
    assert platelets(treated, 161, entered_by=clinician, sample=date(2024, 6, 15)).tier == "normal"
    assert platelets(treated, 320, entered_by=clinician, sample=date(2024, 7, 15)).tier == "normal"
    assert platelets(treated, 160, entered_by=clinician, sample=date(2024, 8, 15)).tier == "amber"


def test_a_red_platelet_flag_clears_after_two_consecutive_normal_counts(treated, clinician):
    tiers = [
        platelets(treated, value, entered_by=clinician, sample=date(2024, month, 15)).tier
        for month, value in [(5, 90), (6, 200), (7, 210), (8, 220)]
    ]
    assert tiers == ["red", "amber", "normal", "normal"]


def test_urine_blood_with_high_creatinine_on_the_same_day_is_red(treated, clinician):
    day = date(2024, 5, 15)
    record(treated, "kidney", {"creatinine": "130"}, entered_by=clinician, sample=day)
    urine = record(
        treated,
        "urine",
        {"urine_blood": "1+", "urine_protein": "negative"},
        entered_by=clinician,
        sample=day,
    )
    result = urine.results.get(analyte__code="urine_blood")
    assert result.tier == "red"
    assert "creatinine flagged amber or worse" in " ".join(result.reasons)


def test_the_labs_own_range_decides_above_the_upper_limit(treated, clinician):
    report = record(
        treated,
        "liver",
        {"alt": ("100", "U/L", "0", "35")},
        entered_by=clinician,
        sample=date(2024, 5, 15),
    )
    assert report.results.get().tier == "amber"  # 100 is under 3 x 35 = 105


def test_a_correction_is_a_new_version_with_who_when_and_why(treated, clinician):
    result = platelets(treated, 45, entered_by=clinician, sample=date(2024, 5, 15))
    corrected = result_correct(
        result=result, value="145", unit="10^9/L", reason="Typing error", corrected_by=clinician
    )
    assert (corrected.canonical_value, corrected.tier) == (Decimal(145), "amber")
    versions = list(result.history.order_by("history_date"))
    assert [v.value_text for v in versions] == ["45", "145"]
    assert versions[-1].history_user == clinician
    assert versions[-1].history_change_reason == "Corrected: Typing error"


def test_a_correction_reflags_the_results_after_it(treated, clinician):
    first = platelets(treated, 300, entered_by=clinician, sample=date(2024, 5, 15))
    second = platelets(treated, 140, entered_by=clinician, sample=date(2024, 6, 15))
    assert second.tier == "amber"
    result_correct(
        result=first, value="200", unit="10^9/L", reason="Wrong row", corrected_by=clinician
    )
    second.refresh_from_db()
    assert second.tier == "amber" and "fell" not in " ".join(second.reasons)
    assert second.history.count() == 2


def test_a_correction_needs_a_reason_and_a_valid_value(treated, clinician):
    result = platelets(treated, 45, entered_by=clinician, sample=date(2024, 5, 15))
    with pytest.raises(ValidationError) as error:
        result_correct(result=result, value="45", unit="10^9/L", reason=" ", corrected_by=clinician)
    assert "reason" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        result_correct(result=result, value="-4", unit="10^9/L", reason="x", corrected_by=clinician)
    assert "value" in error.value.message_dict
    result.refresh_from_db()
    assert result.value_text == "45" and result.history.count() == 1


def test_a_result_entered_in_error_is_kept_but_no_longer_counts(treated, clinician):
    wrong = platelets(treated, 45, entered_by=clinician, sample=date(2024, 5, 15))
    result_mark_in_error(result=wrong, reason="Another patient's sample", marked_by=clinician)
    assert LabResult.objects.filter(pk=wrong.pk).exists()
    assert not LabResult.objects.current().filter(pk=wrong.pk).exists()
    # The two-normals hold no longer applies: the red count is gone.
    assert platelets(treated, 200, entered_by=clinician, sample=date(2024, 6, 15)).tier == "normal"


def test_a_report_entered_in_error_opens_its_check_again(treated, clinician):
    report = record(
        treated, "kidney", {"creatinine": "70"}, entered_by=clinician, sample=date(2024, 3, 12)
    )
    check = ScheduledCheck.objects.get(completed_by=report)
    report_mark_in_error(report=report, reason="Wrong patient", marked_by=clinician)
    check.refresh_from_db()
    assert check.completed_on is None and check.is_open
    assert LabReport.objects.get(pk=report.pk).entered_in_error_reason == "Wrong patient"


def test_the_same_submission_twice_stores_one_report(treated, clinician):
    key = uuid.uuid4()
    first, again = (
        record(
            treated,
            "thyroid",
            {"tsh": ("2", "mU/L")},
            entered_by=clinician,
            sample=date(2024, 4, 15),
            submission_key=key,
        )
        for _ in range(2)
    )
    assert first.pk == again.pk
    assert LabResult.objects.filter(patient=treated).count() == 1


@pytest.mark.parametrize(
    ("sample", "values", "field", "words"),
    [
        (date(2026, 11, 22), {"tsh": ("2", "mU/L")}, "sample_collected_on", "in the future"),
        (date(1980, 1, 1), {"tsh": ("2", "mU/L")}, "sample_collected_on", "before 1 Jan 1990"),
        (date(2024, 4, 15), {"tsh": ("abc", "mU/L")}, "tsh", "not a number"),
        (date(2024, 4, 15), {"tsh": ("2", "mmol/L")}, "tsh_unit", "not an accepted unit"),
        (date(2024, 4, 15), {"tsh": ("2", "")}, "tsh_unit", "enter the unit"),
        (date(2024, 4, 15), {"creatinine": "70"}, "creatinine", "not part of this"),
    ],
)
def test_bad_input_names_its_field_and_stores_nothing(
    treated, clinician, sample, values, field, words
):
    with pytest.raises(ValidationError) as error:
        record(treated, "thyroid", values, entered_by=clinician, sample=sample)
    assert words in " ".join(error.value.message_dict[field])
    assert not LabReport.objects.exists() and not LabResult.objects.exists()


def test_one_bad_value_saves_none_of_the_report(treated, clinician):
    with pytest.raises(ValidationError) as error:
        record(
            treated,
            "blood_count",
            {"platelets": ("200", "10^9/L"), "haemoglobin": ("1e9", "g/L")},
            entered_by=clinician,
            sample=date(2024, 4, 15),
        )
    assert set(error.value.message_dict) == {"haemoglobin"}
    assert not LabResult.objects.exists()


def test_urine_blood_turns_red_when_that_days_high_creatinine_comes_later(treated, clinician):
    day = date(2024, 5, 15)
    urine = record(treated, "urine", {"urine_blood": "1+"}, entered_by=clinician, sample=day)
    blood = urine.results.get()
    assert blood.tier == "amber"
    record(treated, "kidney", {"creatinine": "130"}, entered_by=clinician, sample=day)
    blood.refresh_from_db()
    assert blood.tier == "red"
    assert "re-evaluated" in blood.history.latest().history_change_reason


def test_a_back_dated_count_reflags_the_count_after_it(treated, clinician):
    later = platelets(treated, 160, entered_by=clinician, sample=date(2024, 6, 15))
    assert later.tier == "normal"
    platelets(treated, 330, entered_by=clinician, sample=date(2024, 5, 15))
    later.refresh_from_db()
    assert later.tier == "amber" and "fell by at least 50%" in " ".join(later.reasons)


def test_a_long_reason_for_a_correction_is_kept_whole(treated, clinician):
    result = platelets(treated, 45, entered_by=clinician, sample=date(2024, 5, 15))
    reason = "The printout was misread at the bedside; confirmed with the lab by phone. " * 5
    result_correct(result=result, value="145", unit="10^9/L", reason=reason, corrected_by=clinician)
    assert result.history.latest().history_change_reason == f"Corrected: {reason.strip()}"
