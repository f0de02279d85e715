"""Flag evaluation, pure: rules at their boundaries, baseline and previous-value rules,
combinations, and the two-normals rule for platelets (clinical-rules.md section 3)."""

from datetime import date
from decimal import Decimal as D

import pytest

from monitoring.domain.flagging import Condition, Context, FlagRule, Reading, Tier, evaluate

RULES = [
    FlagRule("platelets", Tier.AMBER, Condition.BELOW, D(150), "Repeat CBC within 7 days."),
    FlagRule("platelets", Tier.AMBER, Condition.FALL_FROM_PREVIOUS, D("0.5"), "Repeat CBC now."),
    FlagRule("platelets", Tier.RED, Condition.BELOW, D(100), "Call the patient today."),
    FlagRule("platelets", Tier.CRITICAL, Condition.BELOW, D(50), "Emergency: send to hospital."),
    FlagRule("creatinine", Tier.AMBER, Condition.ABOVE_REFERENCE_TIMES, D(1), "Repeat."),
    FlagRule("creatinine", Tier.RED, Condition.RISE_FROM_BASELINE_TIMES, D("1.5"), "Refer."),
    FlagRule("creatinine", Tier.CRITICAL, Condition.RISE_FROM_BASELINE_TIMES, D(3), "Admit."),
    FlagRule("haemoglobin", Tier.RED, Condition.FALL_FROM_BASELINE, D(20), "Same-day call."),
    FlagRule("urine_blood", Tier.AMBER, Condition.AT_LEAST, D(2), "Repeat urinalysis."),
    FlagRule(
        "urine_blood",
        Tier.RED,
        Condition.AT_LEAST,
        D(2),
        "Refer to nephrology.",
        with_analyte="urine_protein",
        with_condition=Condition.AT_LEAST,
        with_threshold=D(2),
    ),
    FlagRule("tsh", Tier.RED, Condition.BELOW, D("0.1"), "Free T4 and TRAb."),
    FlagRule("tsh", Tier.RED, Condition.ABOVE, D(10), "Free T4."),
    FlagRule("alt", Tier.AMBER, Condition.ABOVE_REFERENCE_TIMES, D(1), "Repeat."),
    FlagRule("alt", Tier.RED, Condition.ABOVE_REFERENCE_TIMES, D(3), "Hepatology today."),
    FlagRule("alt", Tier.CRITICAL, Condition.ABOVE_REFERENCE_TIMES, D(5), "Stop; admit."),
]
DAY = date(2025, 6, 1)


def platelets(value, when=DAY, value_tier=Tier.NORMAL):
    return Reading("platelets", D(value), when, D(150), D(400), value_tier=value_tier)


def tier_of(reading, **context):
    return evaluate(reading, Context(**context), RULES).tier


@pytest.mark.parametrize(
    ("count", "tier"),
    [
        (150, Tier.NORMAL),
        (149, Tier.AMBER),
        (100, Tier.AMBER),
        (99, Tier.RED),
        (50, Tier.RED),
        (49, Tier.CRITICAL),
        (0, Tier.CRITICAL),
    ],
)
def test_platelet_thresholds_at_their_boundaries(count, tier):
    assert tier_of(platelets(count)) == tier


def test_the_worst_rule_names_the_next_action_and_every_fired_rule_is_a_reason():
    outcome = evaluate(platelets(45), Context(), RULES)
    assert outcome.next_action == "Emergency: send to hospital."
    assert outcome.reasons[0] == "Critical: 45 is below 50."
    assert len(outcome.reasons) == 3


def test_a_fall_of_half_from_the_previous_count_is_amber_even_in_range():
    previous = [platelets(400, date(2025, 5, 1))]
    assert tier_of(platelets(200), previous=previous) == Tier.AMBER
    assert tier_of(platelets(201), previous=previous) == Tier.NORMAL


def test_creatinine_against_the_patients_baseline():
    baseline = Reading("creatinine", D(70), date(2023, 12, 1), D(45), D(90))

    def creatinine(value):
        return Reading("creatinine", D(value), DAY, D(45), D(90))

    assert tier_of(creatinine(104), baseline=baseline) == Tier.AMBER  # above 90, under 1.5x
    assert tier_of(creatinine(105), baseline=baseline) == Tier.RED  # 1.5 x 70
    assert tier_of(creatinine(210), baseline=baseline) == Tier.CRITICAL  # 3 x 70
    assert tier_of(creatinine(105)) == Tier.AMBER  # no baseline: only the reference rule


def test_haemoglobin_fall_from_baseline():
    baseline = Reading("haemoglobin", D(140), date(2023, 12, 1), D(120), D(160))
    assert tier_of(Reading("haemoglobin", D(120), DAY, D(120), D(160)), baseline=baseline) == (
        Tier.RED
    )
    assert tier_of(Reading("haemoglobin", D(121), DAY, D(120), D(160)), baseline=baseline) == (
        Tier.NORMAL
    )


def test_urine_blood_with_protein_is_red_and_alone_is_amber():
    blood = Reading("urine_blood", D(2), DAY)  # "1+" on the scale negative, trace, 1+ ...
    protein = Reading("urine_protein", D(2), DAY)
    no_protein = Reading("urine_protein", D(0), DAY)
    assert tier_of(blood, same_sample={"urine_protein": protein}) == Tier.RED
    assert tier_of(blood, same_sample={"urine_protein": no_protein}) == Tier.AMBER
    assert tier_of(Reading("urine_blood", D(1), DAY)) == Tier.NORMAL  # trace


def test_tsh_reference_range_then_red_limits():
    def tsh(value):
        return Reading("tsh", D(value), DAY, D("0.4"), D("4.0"))

    assert [
        tier_of(tsh(v)) for v in ("0.09", "0.1", "0.39", "0.4", "4.0", "4.1", "10", "10.1")
    ] == [
        Tier.RED,
        Tier.LOW,
        Tier.LOW,
        Tier.NORMAL,
        Tier.NORMAL,
        Tier.HIGH,
        Tier.HIGH,
        Tier.RED,
    ]


def test_alt_multiples_of_the_labs_own_upper_limit():
    def alt(value):
        return Reading("alt", D(value), DAY, None, D(40))

    assert [tier_of(alt(v)) for v in (40, 41, 120, 121, 200, 201)] == [
        Tier.NORMAL,
        Tier.AMBER,
        Tier.AMBER,
        Tier.RED,
        Tier.RED,
        Tier.CRITICAL,
    ]


def test_a_red_platelet_flag_clears_only_after_two_consecutive_normal_counts():
    red = platelets(80, date(2025, 3, 1), value_tier=Tier.RED)
    first_normal = evaluate(platelets(180, date(2025, 4, 1)), Context(previous=[red]), RULES)
    assert first_normal.tier == Tier.AMBER
    assert first_normal.value_tier == Tier.NORMAL
    assert "not yet cleared" in first_normal.reasons[-1]

    held = platelets(180, date(2025, 4, 1), value_tier=Tier.NORMAL)
    second = evaluate(platelets(190, date(2025, 5, 1)), Context(previous=[held, red]), RULES)
    assert second.tier == Tier.NORMAL


def test_an_amber_count_between_breaks_the_run_of_normals():
    red = platelets(80, date(2025, 2, 1), value_tier=Tier.RED)
    normal = platelets(180, date(2025, 3, 1))
    amber = platelets(140, date(2025, 4, 1), value_tier=Tier.AMBER)
    outcome = evaluate(
        platelets(200, date(2025, 5, 1)), Context(previous=[amber, normal, red]), RULES
    )
    assert outcome.tier == Tier.AMBER


def test_a_dip_in_the_expected_period_is_flagged_and_explained():
    context = Context(expected_dip_periods=[(date(2025, 5, 1), date(2025, 7, 5))])
    outcome = evaluate(platelets(90), context, RULES)
    assert outcome.tier == Tier.RED
    assert outcome.reasons[-1].startswith("A platelet dip is expected")
    assert not evaluate(platelets(200), context, RULES).reasons


def test_an_outcome_rule_fires_on_exactly_its_grade_and_says_so_in_words():
    rule = FlagRule(
        "skin-exam-outcome",
        Tier.AMBER,
        Condition.IS,
        D(1),
        "Read the report.",
        threshold_label="abnormal",
    )
    normal = Reading("skin-exam-outcome", D(0), DAY, label="normal")
    abnormal = Reading("skin-exam-outcome", D(1), DAY, label="abnormal")

    assert evaluate(normal, Context(), [rule]).tier == Tier.NORMAL
    flagged = evaluate(abnormal, Context(), [rule])
    assert (flagged.tier, flagged.next_action) == (Tier.AMBER, "Read the report.")
    assert flagged.reasons == ("Amber: the result is abnormal.",)
