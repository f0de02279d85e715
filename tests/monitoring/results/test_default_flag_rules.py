"""Each seeded flag rule (clinical-rules.md section 3) at its boundary: the rules come from the
database as a clinic would have them, the evaluation is the pure function."""

from datetime import date
from decimal import Decimal

import pytest

from monitoring.domain.flagging import Context, Reading, Tier, evaluate
from monitoring.models import Analyte, FlagRule

pytestmark = pytest.mark.django_db
DAY = date(2025, 6, 1)


@pytest.fixture
def rules():
    return FlagRule.objects.as_rules()


def reading(code, value, **extra):
    analyte = Analyte.objects.get(code=code)
    return Reading(
        code,
        Decimal(str(value)),
        DAY,
        extra.pop("low", analyte.reference_low),
        extra.pop("high", analyte.reference_high),
        **extra,
    )


NO_HISTORY = Context()


def tier(rules, code, value, context=NO_HISTORY, **extra):
    return evaluate(reading(code, value, **extra), context, rules).tier


@pytest.mark.parametrize(
    ("code", "value", "expected"),
    [
        ("platelets", 150, Tier.NORMAL),
        ("platelets", 149, Tier.AMBER),
        ("platelets", 100, Tier.AMBER),
        ("platelets", 99, Tier.RED),
        ("platelets", 50, Tier.RED),
        ("platelets", 49, Tier.CRITICAL),
        ("platelets", 0, Tier.CRITICAL),
        ("neutrophils", "1.5", Tier.NORMAL),
        ("neutrophils", "1.49", Tier.AMBER),
        ("neutrophils", "1.0", Tier.AMBER),
        ("neutrophils", "0.99", Tier.RED),
        ("neutrophils", "0.5", Tier.RED),
        ("neutrophils", "0.49", Tier.CRITICAL),
        ("haemoglobin", 120, Tier.NORMAL),
        ("haemoglobin", 119, Tier.AMBER),
        ("haemoglobin", 70, Tier.AMBER),
        ("haemoglobin", 69, Tier.CRITICAL),
        ("creatinine", 110, Tier.NORMAL),
        ("creatinine", 111, Tier.AMBER),
        ("urine_rbc", 5, Tier.NORMAL),
        ("urine_rbc", 6, Tier.AMBER),
        ("tsh", "0.4", Tier.NORMAL),
        ("tsh", "4.0", Tier.NORMAL),
        ("tsh", "0.39", Tier.AMBER),
        ("tsh", "4.01", Tier.AMBER),
        ("tsh", "0.1", Tier.AMBER),
        ("tsh", "0.09", Tier.RED),
        ("tsh", "10", Tier.AMBER),
        ("tsh", "10.01", Tier.RED),
        ("alt", 40, Tier.NORMAL),
        ("alt", 41, Tier.AMBER),
        ("alt", 120, Tier.AMBER),
        ("alt", 121, Tier.RED),
        ("alt", 200, Tier.RED),
        ("alt", 201, Tier.CRITICAL),
        ("ast", 41, Tier.AMBER),
        ("ast", 121, Tier.RED),
        ("ast", 201, Tier.CRITICAL),
        ("bilirubin", 21, Tier.NORMAL),
        ("bilirubin", 22, Tier.AMBER),
        ("bilirubin", 42, Tier.AMBER),
        ("bilirubin", 43, Tier.RED),
    ],
)
def test_absolute_and_reference_limit_rules_at_their_boundaries(rules, code, value, expected):
    assert tier(rules, code, value) == expected


def test_a_labs_own_upper_limit_replaces_the_default(rules):
    assert tier(rules, "alt", 50, high=Decimal(60)) == Tier.NORMAL
    assert tier(rules, "alt", 181, high=Decimal(60)) == Tier.RED


def previous(code, value):
    return Context(previous=[reading(code, value)])


def test_platelet_fall_of_half_from_the_previous_count(rules):
    assert tier(rules, "platelets", 201, previous("platelets", 400)) == Tier.NORMAL
    assert tier(rules, "platelets", 200, previous("platelets", 400)) == Tier.AMBER


def baseline(code, value):
    return Context(baseline=reading(code, value))


def test_creatinine_against_the_baseline(rules):
    assert tier(rules, "creatinine", "89.9", baseline("creatinine", 60)) == Tier.NORMAL
    assert tier(rules, "creatinine", 90, baseline("creatinine", 60)) == Tier.RED
    assert tier(rules, "creatinine", "179.9", baseline("creatinine", 60)) == Tier.RED
    assert tier(rules, "creatinine", 180, baseline("creatinine", 60)) == Tier.CRITICAL


def test_haemoglobin_fall_from_the_baseline(rules):
    assert tier(rules, "haemoglobin", 141, baseline("haemoglobin", 160)) == Tier.NORMAL
    assert tier(rules, "haemoglobin", 140, baseline("haemoglobin", 160)) == Tier.RED


GRADES = {"negative": 0, "trace": 1, "1+": 2, "2+": 3}


def urine(**same_sample):
    return Context(same_sample={code: reading(code, v) for code, v in same_sample.items()})


def flagged_creatinine(value, value_tier):
    """A creatinine of the same sample, flagged `value_tier` by its own rules."""
    return Context(same_sample={"creatinine": reading("creatinine", value, value_tier=value_tier)})


def test_urine_blood_alone_and_with_protein_or_flagged_creatinine(rules):
    assert tier(rules, "urine_blood", GRADES["trace"]) == Tier.NORMAL
    assert tier(rules, "urine_blood", GRADES["1+"]) == Tier.AMBER
    with_trace_protein = urine(urine_protein=GRADES["trace"])
    assert tier(rules, "urine_blood", GRADES["1+"], with_trace_protein) == Tier.AMBER
    with_protein = urine(urine_protein=GRADES["1+"])
    assert tier(rules, "urine_blood", GRADES["1+"], with_protein) == Tier.RED
    assert tier(rules, "urine_blood", GRADES["trace"], with_protein) == Tier.NORMAL
    normal_creatinine = flagged_creatinine(110, Tier.NORMAL)
    assert tier(rules, "urine_blood", GRADES["1+"], normal_creatinine) == Tier.AMBER
    above_the_range = flagged_creatinine(111, Tier.AMBER)
    assert tier(rules, "urine_blood", GRADES["1+"], above_the_range) == Tier.RED
    # Red by its rise over the baseline while still inside the reference range.
    risen_within_range = flagged_creatinine(95, Tier.RED)
    assert tier(rules, "urine_blood", GRADES["1+"], risen_within_range) == Tier.RED
    assert tier(rules, "urine_blood", GRADES["trace"], risen_within_range) == Tier.NORMAL


def test_every_seeded_rule_has_a_next_action_and_a_rationale():
    for rule in FlagRule.objects.all():
        assert rule.next_action.strip() and rule.rationale.strip(), rule


def test_a_clinic_edit_to_a_rule_changes_the_outcome(rules):
    rule = FlagRule.objects.get(analyte__code="platelets", tier="amber", condition="below")
    rule.threshold = Decimal(140)
    rule.save()
    assert tier(FlagRule.objects.as_rules(), "platelets", 145) == Tier.LOW  # range only
    assert tier(rules, "platelets", 145) == Tier.AMBER
