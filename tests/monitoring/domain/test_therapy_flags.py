"""Flag rules of one therapy, pure: each seeded therapy rule at its boundaries, the therapies
in force on a sample date (running, before-start window, after-stopping period, not after it),
families, and natalizumab's JCV index before and after 24 months of treatment
(docs/clinical-reference.md section 3)."""

from datetime import date
from decimal import Decimal as D

import pytest

from monitoring.domain import therapies as t
from monitoring.domain.flagging import Condition, Context, FlagRule, Reading, Tier, evaluate
from monitoring.domain.planning import AFTER_STOP, AT_MONTHS, BEFORE_START
from monitoring.domain.therapy_rules import (
    EpisodeSpan,
    after_stop_months,
    before_start_days,
    in_force,
    names_therapy,
    rule_applies,
)

# As migration 0030 seeds them (the test of the seeded rows is in tests/monitoring/results).
RULES = [
    FlagRule(
        "lymphocytes", Tier.RED, Condition.BELOW, D("0.5"), "Consider stopping.", therapy="fumarate"
    ),
    FlagRule(
        "lymphocytes",
        Tier.RED,
        Condition.BELOW,
        D("0.5"),
        "Watch for infection.",
        therapy=t.CLADRIBINE,
    ),
    FlagRule("lymphocytes", Tier.RED, Condition.BELOW, D("0.2"), "Review.", therapy="s1p"),
    # The rules for every patient, as seeded in 0005.
    FlagRule("alt", Tier.AMBER, Condition.ABOVE_REFERENCE_TIMES, D(1), "Repeat."),
    FlagRule("alt", Tier.RED, Condition.ABOVE_REFERENCE_TIMES, D(3), "Hepatology today."),
    FlagRule("alt", Tier.CRITICAL, Condition.ABOVE_REFERENCE_TIMES, D(5), "Same-day review."),
    FlagRule(
        "alt",
        Tier.RED,
        Condition.ABOVE_REFERENCE_TIMES,
        D(3),
        "Accelerated elimination.",
        therapy=t.TERIFLUNOMIDE,
    ),
    FlagRule(
        "alt",
        Tier.CRITICAL,
        Condition.ABOVE_REFERENCE_TIMES,
        D(5),
        "Hold and review.",
        therapy=t.INTERFERON_BETA,
    ),
    FlagRule(
        "jcv_index",
        Tier.RED,
        Condition.ABOVE,
        D("1.5"),
        "Review PML risk.",
        therapy=t.NATALIZUMAB,
        min_months_on_therapy=24,
    ),
    FlagRule(
        "igg",
        Tier.AMBER,
        Condition.BELOW_REFERENCE,
        D(0),
        "Review infections.",
        therapy="anti_cd20",
    ),
    FlagRule(
        "hbsag",
        Tier.RED,
        Condition.IS,
        D(2),
        "Do not start.",
        therapy="anti_cd20",
        threshold_label="positive",
    ),
    FlagRule(
        "cyp2c9_genotype",
        Tier.RED,
        Condition.IS,
        D(5),
        "Contraindicated.",
        therapy=t.SIPONIMOD,
        threshold_label="*3/*3",
    ),
]
START = date(2024, 1, 15)
DAY = date(2025, 6, 1)


def flag(analyte, value, therapies, when=DAY, low=None, high=None):
    reading = Reading(analyte, D(value), when, low, high)
    return evaluate(reading, Context(therapies=therapies), RULES)


def on(*codes, since=START):
    return dict.fromkeys(codes, since)


@pytest.mark.parametrize("therapy", [t.DIMETHYL_FUMARATE, t.DIROXIMEL_FUMARATE, t.CLADRIBINE])
@pytest.mark.parametrize(
    ("count", "tier"), [("0.49", Tier.RED), ("0.5", Tier.LOW), ("0.51", Tier.LOW)]
)
def test_lymphocytes_under_half_are_red_on_fumarates_and_cladribine(therapy, count, tier):
    assert flag("lymphocytes", count, on(therapy), low=D(1), high=D(4)).tier == tier


@pytest.mark.parametrize("therapy", [t.FINGOLIMOD, t.SIPONIMOD, t.OZANIMOD, t.PONESIMOD])
@pytest.mark.parametrize(
    ("count", "tier"), [("0.19", Tier.RED), ("0.2", Tier.LOW), ("0.4", Tier.LOW)]
)
def test_lymphocytes_under_0_2_are_red_on_s1p_modulators(therapy, count, tier):
    """The S1P modulators lower lymphocytes by design: 0.4 is low, not red, on them."""
    assert flag("lymphocytes", count, on(therapy), low=D(1), high=D(4)).tier == tier


@pytest.mark.parametrize("therapies", [{}, on(t.ALEMTUZUMAB), on(t.NATALIZUMAB)])
def test_lymphocyte_therapy_rules_do_not_apply_to_other_therapies(therapies):
    outcome = flag("lymphocytes", "0.1", therapies, low=D(1), high=D(4))
    assert outcome.tier == Tier.LOW
    assert outcome.reasons == ("Below the reference range.",)


def test_a_fumarate_flag_says_what_to_do_and_why():
    outcome = flag("lymphocytes", "0.4", on(t.DIMETHYL_FUMARATE), low=D(1), high=D(4))
    assert outcome.next_action == "Consider stopping."
    assert outcome.reasons == ("Red: 0.4 is below 0.5.",)


@pytest.mark.parametrize(
    ("alt", "tier", "action"),
    [
        ("120", Tier.AMBER, "Repeat."),  # 3x the upper limit of 40: not over it
        ("121", Tier.RED, "Accelerated elimination."),  # the therapy's action, same tier
        ("200", Tier.RED, "Accelerated elimination."),
        ("201", Tier.CRITICAL, "Same-day review."),
    ],
)
def test_alt_over_3x_on_teriflunomide(alt, tier, action):
    outcome = flag("alt", alt, on(t.TERIFLUNOMIDE), high=D(40))
    assert (outcome.tier, outcome.next_action) == (tier, action)


@pytest.mark.parametrize(
    ("alt", "action"),
    [("200", "Hepatology today."), ("201", "Hold and review."), ("400", "Hold and review.")],
)
def test_alt_over_5x_on_interferon_beta_holds_it(alt, action):
    assert flag("alt", alt, on(t.INTERFERON_BETA), high=D(40)).next_action == action


def test_alt_without_the_therapy_keeps_the_rule_for_every_patient():
    assert flag("alt", "121", {}, high=D(40)).next_action == "Hepatology today."
    assert flag("alt", "201", on(t.TERIFLUNOMIDE), high=D(40)).next_action == "Same-day review."


@pytest.mark.parametrize(
    ("index", "tier"), [("1.49", Tier.NORMAL), ("1.5", Tier.NORMAL), ("1.51", Tier.RED)]
)
def test_jcv_index_over_1_5_after_24_months_of_natalizumab(index, tier):
    assert flag("jcv_index", index, on(t.NATALIZUMAB), when=date(2026, 1, 15)).tier == tier


@pytest.mark.parametrize(
    ("when", "tier"),
    [
        (date(2026, 1, 14), Tier.NORMAL),  # a day short of 24 months
        (date(2026, 1, 15), Tier.RED),  # 24 months to the day
        (date(2027, 3, 1), Tier.RED),
    ],
)
def test_jcv_index_counts_only_after_24_months(when, tier):
    assert flag("jcv_index", "3.2", on(t.NATALIZUMAB), when=when).tier == tier


def test_jcv_index_on_another_therapy_is_not_flagged_by_the_natalizumab_rule():
    assert flag("jcv_index", "3.2", on(t.OCRELIZUMAB), when=date(2027, 1, 1)).tier == Tier.NORMAL


@pytest.mark.parametrize(
    ("igg", "tier"), [("6.99", Tier.AMBER), ("7.0", Tier.NORMAL), ("7.01", Tier.NORMAL)]
)
@pytest.mark.parametrize("therapy", [t.OCRELIZUMAB, t.OFATUMUMAB])
def test_igg_below_the_range_is_amber_on_anti_cd20(therapy, igg, tier):
    assert flag("igg", igg, on(therapy), low=D(7), high=D(16)).tier == tier


def test_igg_below_the_range_without_anti_cd20_is_only_low():
    assert flag("igg", "5", on(t.NATALIZUMAB), low=D(7), high=D(16)).tier == Tier.LOW


@pytest.mark.parametrize(("position", "tier"), [(0, Tier.NORMAL), (1, Tier.NORMAL), (2, Tier.RED)])
def test_hbsag_positive_is_red_for_anti_cd20(position, tier):
    """negative, equivocal, positive: only positive is the rule's (equivocal is repeated)."""
    outcome = flag("hbsag", position, on(t.OCRELIZUMAB))
    assert outcome.tier == tier
    if tier == Tier.RED:
        assert outcome.reasons == ("Red: the result is positive.",)
        assert outcome.next_action == "Do not start."


@pytest.mark.parametrize(("position", "tier"), [(4, Tier.NORMAL), (5, Tier.RED)])
def test_cyp2c9_star_3_star_3_is_red_for_siponimod(position, tier):
    assert flag("cyp2c9_genotype", position, on(t.SIPONIMOD)).tier == tier
    assert flag("cyp2c9_genotype", position, on(t.FINGOLIMOD)).tier == Tier.NORMAL


def test_a_bound_is_read_over_the_rules_in_force():
    reading = Reading("lymphocytes", D("0.6"), DAY, D(1), D(4), comparator="<")
    on_fumarate = evaluate(reading, Context(therapies=on(t.DIMETHYL_FUMARATE)), RULES)
    assert on_fumarate.tier == Tier.RED  # "<0.6" may be under 0.5
    assert evaluate(reading, Context(), RULES).tier == Tier.LOW


# The therapies in force on a sample date.

STOP = date(2025, 3, 10)


def fumarate(stopped_on=None, after=3, before=30, started_on=START):
    return EpisodeSpan(t.DIMETHYL_FUMARATE, started_on, stopped_on, after, before)


def test_a_running_episode_is_in_force_from_its_start_on():
    assert in_force([fumarate()], START) == {t.DIMETHYL_FUMARATE: START}
    assert in_force([fumarate()], date(2030, 1, 1)) == {t.DIMETHYL_FUMARATE: START}


@pytest.mark.parametrize(
    ("day", "in_it"),
    [
        (date(2023, 12, 15), False),  # 31 days before the start
        (date(2023, 12, 16), True),  # 30 days before: the before-start window opens
        (date(2025, 6, 10), True),  # the last day of 3 months after stopping
        (date(2025, 6, 11), False),  # the day after
    ],
)
def test_an_episode_counts_from_its_before_start_window_to_its_after_stopping_period(day, in_it):
    assert (t.DIMETHYL_FUMARATE in in_force([fumarate(STOP)], day)) is in_it


def test_a_stopped_episode_without_after_stop_items_ends_on_its_stop_day():
    episode = fumarate(STOP, after=0)
    assert in_force([episode], STOP) == {t.DIMETHYL_FUMARATE: START}
    assert in_force([episode], date(2025, 3, 11)) == {}


def test_the_rule_stops_applying_after_the_after_stopping_period():
    episodes = [fumarate(STOP)]
    during = in_force(episodes, date(2025, 6, 1))
    after = in_force(episodes, date(2025, 7, 1))
    assert flag("lymphocytes", "0.4", during, when=date(2025, 6, 1)).tier == Tier.RED
    assert flag("lymphocytes", "0.4", after, when=date(2025, 7, 1), low=D(1)).tier == Tier.LOW


def test_a_restarted_therapy_counts_from_its_latest_start():
    again = date(2025, 5, 1)
    episodes = [fumarate(STOP), fumarate(started_on=again)]
    assert in_force(episodes, date(2025, 5, 20)) == {t.DIMETHYL_FUMARATE: again}


def test_two_therapies_at_once():
    natalizumab = EpisodeSpan(t.NATALIZUMAB, date(2025, 4, 1))
    assert in_force([fumarate(STOP), natalizumab], date(2025, 5, 1)) == {
        t.DIMETHYL_FUMARATE: START,
        t.NATALIZUMAB: date(2025, 4, 1),
    }


def test_the_periods_come_from_the_protocol_items():
    assert after_stop_months([(AFTER_STOP, [3, 6]), (AT_MONTHS, [12]), (AFTER_STOP, [1])]) == 6
    assert after_stop_months([(AT_MONTHS, [12])]) == 0
    assert before_start_days([(BEFORE_START, 90), (BEFORE_START, 365), (AT_MONTHS, 14)]) == 365
    assert before_start_days([]) == 0


def test_months_on_therapy_count_from_the_start_not_the_before_start_window():
    # A JCV index taken before natalizumab starts is not 24 months of treatment.
    planned = {t.NATALIZUMAB: date(2025, 7, 1)}
    assert not rule_applies(t.NATALIZUMAB, 24, planned, DAY)
    assert rule_applies(t.NATALIZUMAB, None, planned, DAY)


def test_families_name_their_members_only():
    assert names_therapy("fumarate", t.DIROXIMEL_FUMARATE)
    assert names_therapy("anti_cd20", t.OFATUMUMAB)
    assert not names_therapy("anti_cd20", t.NATALIZUMAB)
    assert not names_therapy("s1p", t.TERIFLUNOMIDE)
    assert names_therapy(t.SIPONIMOD, t.SIPONIMOD)
    assert not names_therapy(t.SIPONIMOD, t.FINGOLIMOD)
    assert rule_applies("", None, {}, DAY)  # a rule for every patient
