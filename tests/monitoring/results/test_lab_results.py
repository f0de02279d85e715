"""Recording lab reports against the real database: flags from stored history, completion of
the right scheduled check, corrections as versions, entries in error, and double submission."""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from monitoring.domain.check_status import CheckStatus
from monitoring.models import Analyte, LabReport, LabResult, ScheduledCheck
from monitoring.results.entry import ResultInput
from monitoring.results.services import (
    report_mark_in_error,
    report_record,
    result_correct,
    result_mark_in_error,
)
from patients.services import course_add

pytestmark = pytest.mark.django_db

COURSE_ONE = date(2024, 1, 15)
TODAY = date(2026, 11, 21)


@pytest.fixture
def treated(patient):
    course_add(patient=patient, first_infusion_date=COURSE_ONE, daily_dose_mg=Decimal(12))
    return patient


def record(patient, panel, sample, values, user, **extra):
    analytes = {a.code: a for a in Analyte.objects.all()}
    entries = [
        ResultInput(analytes[code], *(value if isinstance(value, tuple) else (value, "")))
        for code, value in values.items()
    ]
    return report_record(
        patient=patient,
        panel=panel,
        sample_collected_on=sample,
        entries=entries,
        entered_by=user,
        today=TODAY,
        **extra,
    ).report


def platelets(patient, sample, value, user):
    report = record(patient, "blood_count", sample, {"platelets": (str(value), "10^9/L")}, user)
    return report.results.get()


def test_platelets_of_45_are_critical_with_the_next_action(treated, clinician):
    result = platelets(treated, date(2024, 3, 15), 45, clinician)
    assert result.tier == "critical"
    assert "Emergency" in result.next_action
    assert "ITP" in result.rationale
    assert result.canonical_value == 45


def test_platelets_of_zero_are_stored_and_critical(treated, clinician):
    assert platelets(treated, date(2024, 3, 15), 0, clinician).tier == "critical"


def test_a_sample_inside_the_window_completes_that_check_on_time(treated, clinician):
    report = record(
        treated, "kidney", date(2024, 3, 12), {"creatinine": ("70", "umol/L")}, clinician
    )
    check = ScheduledCheck.objects.get(completed_by=report)
    assert (check.due_date, check.status_on(TODAY)) == (date(2024, 3, 15), CheckStatus.COMPLETED)


def test_a_sample_after_the_window_completes_the_overdue_check_late(treated, clinician):
    # March's check closed on 22 March; April's window opens on 8 April.
    report = record(
        treated, "kidney", date(2024, 3, 30), {"creatinine": ("70", "umol/L")}, clinician
    )
    check = ScheduledCheck.objects.get(completed_by=report)
    assert check.due_date == date(2024, 3, 15)
    assert check.status_on(TODAY) == CheckStatus.COMPLETED_LATE


def test_a_report_matching_no_check_is_kept_as_unscheduled(patient, clinician):
    report = record(patient, "thyroid", date(2023, 6, 1), {"tsh": ("2.0", "mU/L")}, clinician)
    assert report.pk and not report.completed_checks.exists()


def test_one_sample_completes_both_the_monthly_and_the_pre_course_check(treated, clinician):
    course_add(patient=treated, first_infusion_date=date(2025, 1, 20), daily_dose_mg=Decimal(12))
    report = record(
        treated, "blood_count", date(2025, 1, 14), {"platelets": ("250", "10^9/L")}, clinician
    )
    assert sorted(report.completed_checks.values_list("kind", flat=True)) == [
        "pre_course",
        "recurring",
    ]


def test_creatinine_is_compared_with_the_baseline_before_course_one(treated, clinician):
    record(treated, "kidney", date(2024, 1, 2), {"creatinine": ("60", "umol/L")}, clinician)
    below = record(
        treated, "kidney", date(2024, 2, 15), {"creatinine": ("89", "umol/L")}, clinician
    )
    at = record(treated, "kidney", date(2024, 3, 15), {"creatinine": ("90", "umol/L")}, clinician)
    triple = record(
        treated, "kidney", date(2024, 4, 15), {"creatinine": ("180", "umol/L")}, clinician
    )
    assert [r.results.get().tier for r in (below, at, triple)] == ["normal", "red", "critical"]


def test_the_latest_result_before_course_one_is_the_baseline(treated, clinician):
    record(treated, "kidney", date(2023, 12, 1), {"creatinine": ("100", "umol/L")}, clinician)
    record(treated, "kidney", date(2024, 1, 10), {"creatinine": ("60", "umol/L")}, clinician)
    after = record(
        treated, "kidney", date(2024, 2, 15), {"creatinine": ("95", "umol/L")}, clinician
    )
    assert after.results.get().tier == "red"  # 95 >= 1.5 x 60, not x 100


def test_a_platelet_fall_of_half_from_the_previous_count_is_amber(treated, clinician):
    platelets(treated, date(2024, 5, 15), 320, clinician)
    assert platelets(treated, date(2024, 6, 15), 161, clinician).tier == "normal"
    assert platelets(treated, date(2024, 7, 15), 320, clinician).tier == "normal"
    assert platelets(treated, date(2024, 8, 15), 160, clinician).tier == "amber"


def test_a_red_platelet_flag_clears_after_two_consecutive_normal_counts(treated, clinician):
    tiers = [
        platelets(treated, date(2024, month, 15), value, clinician).tier
        for month, value in [(5, 90), (6, 200), (7, 210), (8, 220)]
    ]
    assert tiers == ["red", "amber", "normal", "normal"]


def test_urine_blood_with_high_creatinine_on_the_same_day_is_red(treated, clinician):
    day = date(2024, 5, 15)
    record(treated, "kidney", day, {"creatinine": ("130", "umol/L")}, clinician)
    urine = record(
        treated, "urine", day, {"urine_blood": "1+", "urine_protein": "negative"}, clinician
    )
    result = urine.results.get(analyte__code="urine_blood")
    assert result.tier == "red"
    assert "creatinine above the reference range" in " ".join(result.reasons)


def test_the_labs_own_range_decides_above_the_upper_limit(treated, clinician):
    analyte = Analyte.objects.get(code="alt")
    report = report_record(
        patient=treated,
        panel="liver",
        sample_collected_on=date(2024, 5, 15),
        entries=[ResultInput(analyte, "100", "U/L", "0", "35")],
        entered_by=clinician,
        today=TODAY,
    ).report
    assert report.results.get().tier == "amber"  # 100 is under 3 x 35 = 105


def test_a_correction_is_a_new_version_with_who_when_and_why(treated, clinician):
    result = platelets(treated, date(2024, 5, 15), 45, clinician)
    corrected = result_correct(
        result=result, value="145", unit="10^9/L", reason="Typing error", corrected_by=clinician
    )
    assert (corrected.canonical_value, corrected.tier) == (Decimal(145), "amber")
    versions = list(result.history.order_by("history_date"))
    assert [v.value_text for v in versions] == ["45", "145"]
    assert versions[-1].history_user == clinician
    assert versions[-1].history_change_reason == "Corrected: Typing error"


def test_a_correction_reflags_the_results_after_it(treated, clinician):
    first = platelets(treated, date(2024, 5, 15), 300, clinician)
    second = platelets(treated, date(2024, 6, 15), 140, clinician)
    assert second.tier == "amber"
    result_correct(
        result=first, value="200", unit="10^9/L", reason="Wrong row", corrected_by=clinician
    )
    second.refresh_from_db()
    assert second.tier == "amber" and "fell" not in " ".join(second.reasons)
    assert second.history.count() == 2


def test_a_correction_needs_a_reason_and_a_valid_value(treated, clinician):
    result = platelets(treated, date(2024, 5, 15), 45, clinician)
    with pytest.raises(ValidationError) as error:
        result_correct(result=result, value="45", unit="10^9/L", reason=" ", corrected_by=clinician)
    assert "reason" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        result_correct(result=result, value="-4", unit="10^9/L", reason="x", corrected_by=clinician)
    assert "value" in error.value.message_dict
    result.refresh_from_db()
    assert result.value_text == "45" and result.history.count() == 1


def test_a_result_entered_in_error_is_kept_but_no_longer_counts(treated, clinician):
    wrong = platelets(treated, date(2024, 5, 15), 45, clinician)
    result_mark_in_error(result=wrong, reason="Another patient's sample", marked_by=clinician)
    assert LabResult.objects.filter(pk=wrong.pk).exists()
    assert not LabResult.objects.current().filter(pk=wrong.pk).exists()
    # The two-normals hold no longer applies: the red count is gone.
    assert platelets(treated, date(2024, 6, 15), 200, clinician).tier == "normal"


def test_a_report_entered_in_error_opens_its_check_again(treated, clinician):
    report = record(
        treated, "kidney", date(2024, 3, 12), {"creatinine": ("70", "umol/L")}, clinician
    )
    check = ScheduledCheck.objects.get(completed_by=report)
    report_mark_in_error(report=report, reason="Wrong patient", marked_by=clinician)
    check.refresh_from_db()
    assert check.completed_on is None and check.is_open
    assert LabReport.objects.get(pk=report.pk).entered_in_error_reason == "Wrong patient"


def test_the_same_submission_twice_stores_one_report(treated, clinician):
    key = uuid.uuid4()
    first = record(
        treated, "thyroid", date(2024, 4, 15), {"tsh": ("2", "mU/L")}, clinician, submission_key=key
    )
    again = record(
        treated, "thyroid", date(2024, 4, 15), {"tsh": ("2", "mU/L")}, clinician, submission_key=key
    )
    assert first.pk == again.pk
    assert LabResult.objects.filter(patient=treated).count() == 1


@pytest.mark.parametrize(
    ("sample", "values", "field", "words"),
    [
        (date(2026, 11, 22), {"tsh": ("2", "mU/L")}, "sample_collected_on", "in the future"),
        (date(1980, 1, 1), {"tsh": ("2", "mU/L")}, "sample_collected_on", "before the patient"),
        (date(2024, 4, 15), {"tsh": ("abc", "mU/L")}, "tsh", "not a number"),
        (date(2024, 4, 15), {"tsh": ("2", "mmol/L")}, "tsh_unit", "not an accepted unit"),
        (date(2024, 4, 15), {"tsh": ("2", "")}, "tsh_unit", "enter the unit"),
        (date(2024, 4, 15), {"creatinine": ("70", "umol/L")}, "creatinine", "not part of this"),
    ],
)
def test_bad_input_names_its_field_and_stores_nothing(
    treated, clinician, sample, values, field, words
):
    with pytest.raises(ValidationError) as error:
        record(treated, "thyroid", sample, values, clinician)
    assert words in " ".join(error.value.message_dict[field])
    assert not LabReport.objects.exists() and not LabResult.objects.exists()


def test_one_bad_value_saves_none_of_the_report(treated, clinician):
    with pytest.raises(ValidationError) as error:
        record(
            treated,
            "blood_count",
            date(2024, 4, 15),
            {"platelets": ("200", "10^9/L"), "haemoglobin": ("1e9", "g/L")},
            clinician,
        )
    assert set(error.value.message_dict) == {"haemoglobin"}
    assert not LabResult.objects.exists()


def test_urine_blood_turns_red_when_that_days_high_creatinine_comes_later(treated, clinician):
    day = date(2024, 5, 15)
    urine = record(treated, "urine", day, {"urine_blood": "1+"}, clinician)
    blood = urine.results.get()
    assert blood.tier == "amber"
    record(treated, "kidney", day, {"creatinine": ("130", "umol/L")}, clinician)
    blood.refresh_from_db()
    assert blood.tier == "red"
    assert "re-evaluated" in blood.history.latest().history_change_reason


def test_a_back_dated_count_reflags_the_count_after_it(treated, clinician):
    later = platelets(treated, date(2024, 6, 15), 160, clinician)
    assert later.tier == "normal"
    platelets(treated, date(2024, 5, 15), 330, clinician)
    later.refresh_from_db()
    assert later.tier == "amber" and "fell by at least 50%" in " ".join(later.reasons)


def test_a_long_reason_for_a_correction_is_kept_whole(treated, clinician):
    result = platelets(treated, date(2024, 5, 15), 45, clinician)
    reason = "The printout was misread at the bedside; confirmed with the lab by phone. " * 5
    result_correct(result=result, value="145", unit="10^9/L", reason=reason, corrected_by=clinician)
    assert result.history.latest().history_change_reason == f"Corrected: {reason.strip()}"
