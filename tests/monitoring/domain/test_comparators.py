"""Values a lab gives only as a bound ("<5", ">1000"): read from the value or given apart, both
ending the same; refused on a dipstick grade; flagged over the whole interval the bound leaves
open, so a possibly critical count is never flagged lower (pure, no database)."""

from datetime import date
from decimal import Decimal as D

import pytest

from monitoring.domain.flagging import Condition, Context, FlagRule, Reading, Tier, evaluate
from monitoring.domain.measurements import MeasurementError, read_measurement
from tests.monitoring.domain.analytes import CREATININE, PLATELETS, URINE_BLOOD


def refusal(analyte, value, unit, **given):
    with pytest.raises(MeasurementError) as error:
        read_measurement(analyte, value, unit, **given)
    return error.value.field, error.value.message


# Reading


@pytest.mark.parametrize(
    ("typed", "comparator"),
    [
        ("<5", "<"),
        ("< 5", "<"),
        ("<=5", "<="),
        ("<= 5", "<="),
        ("≤5", "<="),
        ("≤ 5", "<="),
        (">5", ">"),
        ("> 5", ">"),
        (">=5", ">="),
        ("≥5", ">="),
        (" >= 5 ", ">="),
    ],
)
def test_a_typed_bound_is_its_comparator_and_the_number(typed, comparator):
    reading = read_measurement(PLATELETS, typed, "10^9/L")
    assert (reading.comparator, reading.value_text, reading.canonical) == (comparator, "5", 5)


@pytest.mark.parametrize("comparator", ["<", "<=", ">", ">=", "≤", "≥"])
def test_a_bound_given_apart_ends_as_the_same_bound_typed(comparator):
    apart = read_measurement(PLATELETS, "5", "10^9/L", comparator=comparator)
    typed = read_measurement(PLATELETS, f"{comparator}5", "10^9/L")
    assert apart == typed
    assert apart.comparator in {"<", "<=", ">", ">="}


def test_a_bound_is_converted_to_the_canonical_unit_like_a_value():
    reading = read_measurement(CREATININE, "<0.2", "mg/dL")
    assert (reading.comparator, reading.value_text, reading.unit, reading.canonical) == (
        "<",
        "0.2",
        "mg/dL",
        D("17.7"),
    )


def test_a_plain_value_has_no_comparator_and_equals_is_plain():
    assert read_measurement(PLATELETS, "150", "10^9/L").comparator == ""
    assert read_measurement(PLATELETS, "150", "10^9/L", comparator="=").comparator == ""


def test_the_same_bound_in_the_value_and_apart_is_one_bound():
    assert read_measurement(PLATELETS, "<5", "10^9/L", comparator="<").comparator == "<"


@pytest.mark.parametrize(
    ("value", "given", "words"),
    [
        ("<5", ">", "has its own comparator, and “>” was sent with it"),
        ("5", "~", "“~” is not a comparator (<, <=, >, >=)"),
        ("<", "", "give the number after “<”"),
        ("<<5", "", "“<5” is not a number"),
        ("< = 5", "", "“= 5” is not a number"),
        ("<0", "", "“<0” would be below zero"),
        ("<-5", "", "cannot be negative (got <-5)"),
        (">5000", "", "beyond any plausible result"),
        ("=<5", "", "looks like a spreadsheet formula"),
    ],
)
def test_a_bound_that_cannot_be_read_is_refused_naming_the_value(value, given, words):
    field, message = refusal(PLATELETS, value, "10^9/L", comparator=given)
    assert field == "value"
    assert words in message


@pytest.mark.parametrize(("value", "given"), [("<1+", ""), (">trace", ""), ("1+", "<")])
def test_a_comparator_on_a_dipstick_grade_is_refused(value, given):
    field, message = refusal(URINE_BLOOD, value, "", comparator=given)
    assert field == "value"
    assert "takes no comparator" in message


# Flagging

RULES = [
    FlagRule("platelets", Tier.AMBER, Condition.BELOW, D(150), "Repeat CBC within 7 days."),
    FlagRule("platelets", Tier.AMBER, Condition.FALL_FROM_PREVIOUS, D("0.5"), "Repeat CBC now."),
    FlagRule("platelets", Tier.RED, Condition.BELOW, D(100), "Call the patient today."),
    FlagRule("platelets", Tier.CRITICAL, Condition.BELOW, D(50), "Emergency: call now."),
    FlagRule("creatinine", Tier.AMBER, Condition.ABOVE_REFERENCE_TIMES, D(1), "Repeat."),
    FlagRule("creatinine", Tier.RED, Condition.RISE_FROM_BASELINE_TIMES, D("1.5"), "Refer."),
    FlagRule("creatinine", Tier.CRITICAL, Condition.RISE_FROM_BASELINE_TIMES, D(3), "Admit."),
    FlagRule("tsh", Tier.AMBER, Condition.BELOW_REFERENCE, D(0), "Free T4 and TRAb."),
    FlagRule("tsh", Tier.AMBER, Condition.ABOVE_REFERENCE_TIMES, D(1), "Free T4."),
    FlagRule("tsh", Tier.RED, Condition.BELOW, D("0.1"), "Call today; free T4."),
    FlagRule("tsh", Tier.RED, Condition.ABOVE, D(10), "Call today; free T4."),
]
DAY = date(2025, 6, 1)


def platelets(value, comparator="", when=DAY, value_tier=Tier.NORMAL):
    return Reading(
        "platelets", D(value), when, D(150), D(400), value_tier=value_tier, comparator=comparator
    )


def creatinine(value, comparator="", when=DAY):
    return Reading("creatinine", D(value), when, D(45), D(110), comparator=comparator)


def tsh(value, comparator=""):
    return Reading("tsh", D(value), DAY, D("0.4"), D("4.0"), comparator=comparator)


def outcome_of(reading, **context):
    return evaluate(reading, Context(**context), RULES)


@pytest.mark.parametrize(
    ("bound", "tier"),
    [
        # Every value below 50 is below 50: certain, whatever the value.
        (("<", 50), Tier.CRITICAL),
        (("<", 49), Tier.CRITICAL),
        # 50 itself is red, anything below it critical.
        (("<=", 50), Tier.CRITICAL),
        (("<", 51), Tier.CRITICAL),
        (("<", 100), Tier.CRITICAL),
        (("<", 150), Tier.CRITICAL),
        ((">", 1000), Tier.HIGH),
        ((">", 400), Tier.HIGH),
        ((">=", 400), Tier.HIGH),  # 400 itself is in range: normal or high, so high
        ((">", 149), Tier.AMBER),  # 149.5 is amber, 400.5 high: the worse is amber
        ((">=", 150), Tier.HIGH),
    ],
)
def test_platelet_bounds_take_the_worst_tier_any_value_in_them_could_have(bound, tier):
    comparator, value = bound
    assert outcome_of(platelets(value, comparator)).tier == tier


def test_platelets_below_50_are_critical_and_the_reasons_say_it_was_a_bound():
    outcome = outcome_of(platelets(50, "<"))
    assert (outcome.tier, outcome.value_tier, outcome.next_action) == (
        Tier.CRITICAL,
        Tier.CRITICAL,
        "Emergency: call now.",
    )
    assert outcome.reasons == (
        "Critical: <50 is below 50.",
        "Red: <50 is below 100.",
        "Amber: <50 is below 150.",
        "Reported only as a bound, <50: every value below 50 is critical by these rules.",
    )


def test_platelets_below_100_are_held_at_critical_for_the_value_to_be_confirmed():
    outcome = outcome_of(platelets(100, "<"))
    assert (outcome.tier, outcome.next_action) == (Tier.CRITICAL, "Emergency: call now.")
    assert outcome.reasons == (
        "Reported only as a bound, <100: the rules give red just below 100 and critical at "
        "lower values, so it is flagged critical until the value is confirmed with the lab.",
        "Possibly critical, if the value is below 50.",
        "Red: <100 is below 100.",
        "Amber: <100 is below 150.",
    )


def test_at_most_50_is_held_because_50_itself_is_red():
    outcome = outcome_of(platelets(50, "<="))
    assert outcome.tier == Tier.CRITICAL
    assert outcome.reasons[0].startswith(
        "Reported only as a bound, <=50: the rules give red at 50 and critical at lower values"
    )


def test_platelets_above_1000_are_high_with_no_rule_and_the_bound_said():
    outcome = outcome_of(platelets(1000, ">"))
    assert (outcome.tier, outcome.next_action) == (Tier.HIGH, "")
    assert outcome.reasons == (
        "Above the reference range.",
        "Reported only as a bound, >1000: every value above 1000 is high by these rules.",
    )


def test_a_bound_under_a_fall_from_the_previous_count_is_read_at_both_ends():
    previous = [platelets(300, when=date(2025, 5, 1))]
    # Below 160: amber from 150 up, a fall of half or more below 150 as well, and lower still
    # red and critical; the worst is critical.
    held = outcome_of(platelets(160, "<"), previous=previous)
    assert held.tier == Tier.CRITICAL
    assert "Possibly amber, if the value fell by at least 50% from the previous 300." in (
        held.reasons
    )
    # Above 160 the count cannot have halved from 300 and is not below 150: normal for sure.
    assert outcome_of(platelets(160, ">"), previous=previous).tier == Tier.HIGH


def test_a_bounded_previous_count_is_compared_at_its_bound_and_named_as_a_bound():
    previous = [platelets(300, "<", when=date(2025, 5, 1))]
    outcome = outcome_of(platelets(150), previous=previous)
    assert outcome.tier == Tier.AMBER  # 150 is half of 300: the most the fall can be
    assert outcome.reasons == ("Amber: 150 fell by at least 50% from the previous <300.",)


def test_creatinine_below_20_is_low_for_certain():
    baseline = creatinine(80, when=date(2023, 12, 1))
    outcome = outcome_of(creatinine(20, "<"), baseline=baseline)
    assert outcome.tier == Tier.LOW
    assert outcome.reasons == (
        "Below the reference range.",
        "Reported only as a bound, <20: every value below 20 is low by these rules.",
    )


def test_creatinine_above_a_bound_past_the_baseline_rises_is_held_at_critical():
    baseline = creatinine(80, when=date(2023, 12, 1))
    outcome = outcome_of(creatinine(200, ">"), baseline=baseline)
    assert (outcome.tier, outcome.next_action) == (Tier.CRITICAL, "Admit.")
    assert outcome.reasons == (
        "Reported only as a bound, >200: the rules give red just above 200 and critical at "
        "higher values, so it is flagged critical until the value is confirmed with the lab.",
        "Possibly critical, if the value is at least 3 x the baseline 80.",
        "Red: >200 is at least 1.5 x the baseline 80.",
        "Amber: >200 is over 1 x the upper limit (110).",
    )
    # Above 240 (3 x 80) every value is critical.
    assert outcome_of(creatinine(240, ">="), baseline=baseline).reasons[-1] == (
        "Reported only as a bound, >=240: every value at or above 240 is critical by these rules."
    )


def test_a_bounded_baseline_is_compared_at_its_bound_and_named_as_a_bound():
    baseline = creatinine(60, "<", when=date(2023, 12, 1))
    outcome = outcome_of(creatinine(90), baseline=baseline)
    assert outcome.tier == Tier.RED
    assert outcome.reasons == ("Red: 90 is at least 1.5 x the baseline <60.",)


@pytest.mark.parametrize(
    ("bound", "tier", "certain"),
    [
        (("<", "0.01"), Tier.RED, True),
        (("<", "0.1"), Tier.RED, True),
        (("<=", "0.1"), Tier.RED, False),  # 0.1 itself is amber (below the range), not red
        (("<", "0.4"), Tier.RED, False),
        ((">", "100"), Tier.RED, True),
        ((">", "10"), Tier.RED, True),
        ((">", "4"), Tier.RED, False),
        # Below 20 a TSH may be anything from red (under 0.1) through normal to red (over 10).
        (("<", "20"), Tier.RED, False),
    ],
)
def test_tsh_bounds_at_both_red_limits(bound, tier, certain):
    comparator, value = bound
    outcome = outcome_of(tsh(value, comparator))
    assert outcome.tier == tier
    assert ("every value" in outcome.reasons[-1]) is certain
    assert ("until the value is confirmed with the lab" in outcome.reasons[0]) is not certain


def test_tsh_below_20_names_the_spread_of_tiers():
    assert outcome_of(tsh("20", "<")).reasons[0] == (
        "Reported only as a bound, <20: the rules give anything from normal to red within it, "
        "so it is flagged red until the value is confirmed with the lab."
    )


def test_tsh_below_001_is_red_for_certain_with_every_reason():
    outcome = outcome_of(tsh("0.01", "<"))
    assert outcome.reasons == (
        "Red: <0.01 is below 0.1.",
        "Amber: <0.01 is below the reference range.",
        "Reported only as a bound, <0.01: every value below 0.01 is red by these rules.",
    )


def test_a_bounded_count_held_as_critical_counts_as_red_for_the_two_normals_rule():
    held = outcome_of(platelets(100, "<"))
    earlier = platelets(80, "<", when=date(2025, 5, 1), value_tier=held.value_tier)
    later = outcome_of(platelets(200, when=DAY), previous=[earlier])
    assert later.tier == Tier.AMBER  # one normal count does not clear a red flag
