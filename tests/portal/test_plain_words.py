"""What the portal tells patients about their results and tests: plain words, no tiers, no
clinicians' actions. Pure functions, no database."""

from datetime import date
from decimal import Decimal

import pytest

from portal.plain_words import (
    PANEL_WORDS,
    calendar_summary,
    is_reviewed,
    result_words,
    window_words,
)


def words(code, tier, value, low=None, high=None, action=None, name="X"):
    return result_words(
        code=code,
        name=name,
        tier=tier,
        value=Decimal(value),
        low=None if low is None else Decimal(low),
        high=None if high is None else Decimal(high),
        review_action=action,
    )


def test_a_check_done_without_a_value_is_told_as_found_or_not_never_as_a_range():
    def said(tier, action=None):
        return result_words(
            code="skin-exam-outcome",
            name="Skin examination outcome",
            tier=tier,
            value=Decimal(1 if tier == "amber" else 0),
            low=None,
            high=None,
            review_action=action,
            is_outcome=True,
        )

    assert said("normal") == "Nothing of concern was found."
    abnormal = said("amber", action="referred")
    assert abnormal.startswith("Something was found that your clinic is following up.")
    assert "specialist" in abnormal
    assert "usual range" not in abnormal and "amber" not in abnormal


def test_a_normal_result_is_in_the_usual_range():
    assert words("platelets", "normal", "250", "150", "400") == "In the usual range."


def test_an_amber_result_is_slightly_outside_and_says_the_nurse_has_seen_it_and_what_next():
    said = words("platelets", "amber", "140", "150", "400", action="repeat_ordered")

    assert said == (
        "Your platelet count was slightly lower than the usual range. Your nurse has reviewed "
        "it and has asked for a repeat test."
    )


def test_a_red_result_is_clearly_outside_and_the_clinic_calls_today():
    said = words("platelets", "red", "80", "150", "400", action="called_patient")

    assert said == (
        "Your platelet count was clearly lower than the usual range. Your clinic has been in "
        "touch about it, or will call you today."
    )
    referred = words("tsh", "red", "12", "0.4", "4.0", action="referred")
    assert referred.startswith("Your TSH (thyroid) was clearly higher than the usual range.")
    assert referred.endswith("will call you today. A specialist will see you.")


def test_a_red_result_reviewed_with_nothing_more_to_do_says_so():
    said = words("platelets", "red", "80", "150", "400", action="reviewed")

    assert said == (
        "Your platelet count was clearly lower than the usual range. Your nurse has reviewed "
        "it: nothing more needs to be done now."
    )


def test_a_critical_platelet_count_is_much_lower_with_a_call_today_and_the_emergency_signs():
    said = words("platelets", "critical", "45", "150", "400", action="called_patient")

    # Not the mild words of issue 17: "lower than usual" alone undersells a count of 45.
    assert "lower than usual" not in said
    assert said.startswith("Your platelet count was much lower than the usual range.")
    assert "Your clinic has been in touch about it, or will call you today." in said
    assert "If you have not heard from the clinic today, please call them." in said
    assert said.endswith(
        "If you have unusual bruising, tiny red or purple spots on the skin, or bleeding that "
        "is hard to stop, call 999 (or 112) or go to the emergency department now."
    )
    # Even "nothing more to do" keeps the warning signs of a critical result.
    assert "emergency department" in words(
        "platelets", "critical", "45", "150", "400", action="reviewed"
    )


def test_a_critical_neutrophil_count_names_a_fever():
    said = words("neutrophils", "critical", "0.3", "1.5", "7.0", action="other")

    assert said.startswith("Your neutrophil count (white blood cells that fight infection) was")
    assert "much lower" in said and "a fever" in said


def test_a_fall_inside_the_range_is_a_change_not_a_low_count():
    said = words("platelets", "amber", "180", "150", "400", action="repeat_ordered")

    assert said.startswith("Your platelet count has changed since your earlier tests.")
    assert "repeat test" in said


def test_a_dipstick_finding_is_found_not_high():
    said = words("urine_blood", "amber", "2", action="called_patient")

    assert said.startswith("Some blood was found in your urine sample.")


def test_low_lymphocytes_are_explained_as_expected():
    assert "expected" in words("lymphocytes", "low", "0.5", "1.0", "4.0")
    assert "expected" in words("lymphocytes", "amber", "0.2", "1.0", "4.0", action="reviewed")


@pytest.mark.parametrize("tier", ["amber", "red", "critical"])
def test_no_tier_names_reach_the_patient(tier):
    said = words("tsh", tier, "12", "0.4", "4.0", action="referred").lower()

    for jargon in ("amber", "red ", "critical", "urgent", "tier"):
        assert jargon not in said


@pytest.mark.parametrize(
    ("tier", "action", "shown"),
    [
        ("normal", None, True),
        ("low", None, True),
        ("high", None, True),
        ("amber", None, False),
        ("red", None, False),
        ("critical", None, False),
        ("critical", "called_patient", True),
    ],
)
def test_only_reviewed_results_are_shown(tier, action, shown):
    assert is_reviewed(tier=tier, review_action=action) is shown


def test_calendar_titles_name_only_the_kind_of_test_once_per_visit():
    assert calendar_summary(["blood_count", "kidney", "urine"]) == (
        "Monitoring tests: blood and urine"
    )
    assert calendar_summary(["blood_count", "liver"]) == "Monitoring test: blood"
    assert calendar_summary(["thyroid", "urine", "blood_count", "kidney"]) == (
        "Monitoring tests: blood, urine and thyroid"
    )
    assert calendar_summary(["skin"]) == "Monitoring check"
    assert calendar_summary(["blood_count", "skin"]) == "Monitoring test: blood, and a check"
    assert calendar_summary(["blood_count", "urine"], overdue=True) == (
        "Overdue monitoring tests: blood and urine \N{EM DASH} please book as soon as you can"
    )
    every = calendar_summary(PANEL_WORDS).lower()
    for detail in ("platelet", "kidney", "liver", "tsh", "smear", "infection", "skin"):
        assert detail not in every


@pytest.mark.parametrize(
    ("opens", "closes", "said"),
    [
        # All ahead: the whole window.
        (date(2026, 12, 5), date(2026, 12, 12), "Any day from 5 Dec 2026 to 12 Dec 2026 is fine."),
        # Opened already: only the part ahead.
        (date(2026, 11, 25), date(2026, 12, 3), "Any day until 3 Dec 2026 is fine."),
        (date(2026, 11, 25), date(2026, 12, 1), "Any day until 1 Dec 2026 is fine."),
        # Closed: never quoted.
        (date(2026, 8, 5), date(2026, 10, 4), ""),
        # One day only: nothing to choose.
        (date(2026, 12, 9), date(2026, 12, 9), ""),
    ],
)
def test_a_window_is_quoted_only_while_some_of_it_is_ahead(opens, closes, said):
    assert window_words(opens=opens, closes=closes, today=date(2026, 12, 1)) == said


def test_a_normal_dipstick_says_nothing_was_found():
    assert words("urine_blood", "normal", "0") == "None found."
