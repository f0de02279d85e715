"""What the portal tells patients about their results and tests: plain words, no tiers, no
clinicians' actions. Pure functions, no database."""

from decimal import Decimal

import pytest

from portal.plain_words import (
    CALENDAR_SUMMARIES,
    PANEL_WORDS,
    calendar_summary,
    is_reviewed,
    result_words,
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


def test_a_low_platelet_count_that_the_nurse_has_seen_says_so_plainly():
    said = words("platelets", "red", "80", "150", "400", action="reviewed")

    assert said == (
        "Your platelet count was lower than usual. Your nurse has reviewed it: nothing more "
        "needs to be done now."
    )


def test_an_urgent_result_without_a_plain_action_says_the_nurse_will_be_in_touch():
    said = words("platelets", "critical", "40", "150", "400", action="other")

    assert said.endswith("Your nurse has been told and will contact you.")


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


def test_calendar_titles_name_only_the_kind_of_test():
    assert {calendar_summary(panel) for panel in PANEL_WORDS} == set(CALENDAR_SUMMARIES)
    assert calendar_summary("blood_count") == "Monitoring blood test"
    assert calendar_summary("urine") == "Monitoring urine test"
    assert calendar_summary("thyroid") == "Monitoring thyroid test"
    assert calendar_summary("skin") == "Monitoring check"


def test_a_normal_dipstick_says_nothing_was_found():
    assert words("urine_blood", "normal", "0") == "None found."
