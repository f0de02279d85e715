"""Abnormal-result flags: a pure function from one result, its history and the rules to a tier,
its reasons and the next action (docs/clinical-reference.md section 3). Rules are data; the stored
FlagRule rows become FlagRule values here, so a clinic's edits change the outcome, not the code.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from itertools import pairwise

from monitoring.domain.therapy_rules import rule_applies
from monitoring.domain.tiers import Tier


class Condition(enum.StrEnum):
    BELOW = "below"  # value < threshold
    ABOVE = "above"  # value > threshold
    BELOW_REFERENCE = "below_reference"  # value < the reference range's low limit
    ABOVE_REFERENCE_TIMES = "above_reference_times"  # value > threshold x the high limit
    FALL_FROM_PREVIOUS = "fall_from_previous"  # fall of at least threshold (a fraction)
    RISE_FROM_BASELINE_TIMES = "rise_from_baseline_times"  # value >= threshold x baseline
    FALL_FROM_BASELINE = "fall_from_baseline"  # baseline - value >= threshold
    AT_LEAST = "at_least"  # value >= threshold (dipstick grades by position)
    # The result's own tier ranks at least threshold (2 amber, 3 red, 4 critical), whatever
    # rule earned it: for the partner of a combination, never for the result being flagged.
    FLAGGED_AT_LEAST = "flagged_at_least"
    IS = "is"  # value == threshold: one grade or outcome ("abnormal") by its position


@dataclass(frozen=True)
class FlagRule:
    analyte: str
    tier: Tier
    condition: Condition
    threshold: Decimal
    next_action: str
    rationale: str = ""
    # A combination: the rule fires only if another result of the same sample also meets
    # its own condition (urine blood with urine protein, say).
    with_analyte: str = ""
    with_condition: Condition | None = None
    with_threshold: Decimal | None = None
    # How the thresholds read to a clinician when the number is a position on a scale ("1+").
    threshold_label: str = ""
    with_threshold_label: str = ""
    # A rule for one therapy or family ("" for every patient): it applies only while an
    # episode of it is in force on the sample date (monitoring.domain.therapy_rules), and with
    # min_months_on_therapy only once that many months of it have passed.
    therapy: str = ""
    min_months_on_therapy: int | None = None


@dataclass(frozen=True)
class Reading:
    """One canonical value with its sample date and, if the lab gave one, its reference range."""

    analyte: str
    value: Decimal
    sample_date: date
    reference_low: Decimal | None = None
    reference_high: Decimal | None = None
    # The tier the value earned on its own, before any hold of an uncleared red flag.
    value_tier: Tier = Tier.NORMAL
    # The value as a clinician reads it when it is a position on a scale ("2+").
    label: str = ""
    # A lab's bound ("<", "<=", ">", ">="): the value is then the bound, not the result.
    comparator: str = ""


@dataclass(frozen=True)
class Context:
    """What the rules may compare with: earlier readings of the same analyte (newest first),
    the baseline before course 1, the other results of the same sample, and infusion periods."""

    previous: Sequence[Reading] = ()
    baseline: Reading | None = None
    same_sample: Mapping[str, Reading] = field(default_factory=dict)
    # (first infusion day, last day of the expected-dip period) for each course
    expected_dip_periods: Sequence[tuple[date, date]] = ()
    # The patient's therapies in force on the sample date: {therapy code: episode start}
    # (monitoring.domain.therapy_rules.in_force). Only rules of a therapy read it.
    therapies: Mapping[str, date] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    tier: Tier
    reasons: tuple[str, ...]
    next_action: str
    value_tier: Tier = Tier.NORMAL
    # The source/rationale text of each rule that fired, for clinicians to read.
    rationales: tuple[str, ...] = ()


CLEARS_AFTER_NORMALS = 2
DIP_ANALYTES = {"platelets"}


def evaluate(reading: Reading, context: Context, rules: Sequence[FlagRule]) -> Outcome:
    rules = applicable(rules, context.therapies, reading.sample_date)
    if reading.comparator:
        return _evaluate_bound(reading, context, rules)
    return _evaluate_value(reading, context, rules)[0]


def _evaluate_value(
    reading: Reading, context: Context, rules: Sequence[FlagRule]
) -> tuple[Outcome, list[FlagRule]]:
    """The outcome of one value, and the rules that fired, most severe first: their reasons
    come first in the outcome's, in the same order."""
    fired = [
        rule for rule in rules if rule.analyte == reading.analyte and _fires(rule, reading, context)
    ]
    # Of rules of one tier, a therapy's own comes first: its next action is the one asked.
    ordered = sorted(fired, key=lambda r: (r.tier.rank, bool(r.therapy)), reverse=True)
    tier, reasons, action = Tier.NORMAL, [], ""
    for rule in ordered:
        reasons.append(_describe(rule, reading, context))
        if rule.tier.rank > tier.rank:
            tier, action = rule.tier, rule.next_action
    if tier == Tier.NORMAL:
        tier, reasons = _reference_tier(reading, reasons)
    value_tier = tier
    if tier.rank < Tier.AMBER.rank and (held_since := _uncleared_red(reading, context, tier)):
        tier, action = Tier.AMBER, "Repeat the count to confirm recovery."
        reasons.append(
            f"Red platelet flag of {held_since:%d %b %Y} not yet cleared: it needs "
            f"{CLEARS_AFTER_NORMALS} consecutive normal counts."
        )
    if reading.analyte in DIP_ANALYTES and tier.rank >= Tier.LOW.rank and _in_dip(reading, context):
        reasons.append(
            "A platelet dip is expected during the infusion week and up to 2 months after; "
            "flagged all the same."
        )
    rationales = tuple(dict.fromkeys(rule.rationale for rule in fired if rule.rationale))
    outcome = Outcome(
        tier=tier,
        reasons=tuple(reasons),
        next_action=action,
        value_tier=value_tier,
        rationales=rationales,
    )
    return outcome, ordered


def applicable(
    rules: Sequence[FlagRule], therapies: Mapping[str, date], on: date
) -> list[FlagRule]:
    """The rules that apply to a sample of `on`: every rule without a therapy, and those of
    a therapy in force then (for long enough, where the rule asks)."""
    return [
        rule
        for rule in rules
        if rule_applies(rule.therapy, rule.min_months_on_therapy, therapies, on)
    ]


# Bounds: a lab that reports "<5" or ">1000" gives an interval, not a value. The rules are read
# over the whole interval (from 0 up to a "<" bound; from a ">" bound up past every threshold):
# where they agree, that is the tier; where they do not, the worst tier any value in it could
# earn, and the reasons say the value must be confirmed with the lab. A possibly critical count
# is never flagged lower because the lab wrote a bound.
BELOW_BOUND = {"<", "<="}
ABOVE_BOUND = {">", ">="}
INCLUSIVE_BOUND = {"<=", ">="}


def _evaluate_bound(reading: Reading, context: Context, rules: Sequence[FlagRule]) -> Outcome:
    if reading.comparator not in BELOW_BOUND | ABOVE_BOUND:
        raise ValueError(f"Unknown comparator {reading.comparator!r}.")
    shown = _shown(reading)
    # Each value stands for a stretch of the interval where no rule changes its answer; in the
    # reasons, each is named by the bound the lab gave ("<50 is below 100").
    evaluations = [
        _evaluate_value(replace(reading, value=value, comparator="", label=shown), context, rules)
        for value in _representatives(reading, context, rules)
    ]
    near, far = evaluations[0][0], evaluations[-1][0]
    bound, below = _plain(reading.value), reading.comparator in BELOW_BOUND
    if len({(outcome.tier, outcome.value_tier) for outcome, _ in evaluations}) == 1:
        side = {"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}
        return replace(
            near,
            reasons=(
                *near.reasons,
                f"Reported only as a bound, {shown}: every value {side[reading.comparator]} "
                f"{bound} is {near.tier} by these rules.",
            ),
        )
    # The worst outcome; of equally bad ones, the one furthest from the bound.
    worst, fired = max(reversed(evaluations), key=lambda e: (e[0].tier.rank, e[0].value_tier.rank))
    if near.tier != far.tier:
        if reading.comparator in INCLUSIVE_BOUND:
            at_bound = f"at {bound}"
        else:
            at_bound = f"just {'below' if below else 'above'} {bound}"
        spread = f"{near.tier} {at_bound} and {far.tier} at {'lower' if below else 'higher'} values"
    else:
        tiers = sorted({o.tier for o, _ in evaluations}, key=lambda t: t.rank)
        spread = f"anything from {tiers[0]} to {tiers[-1]} within it"
    headline = (
        f"Reported only as a bound, {shown}: the rules give {spread}, so it is flagged "
        f"{worst.tier} until the value is confirmed with the lab."
    )
    # A rule that fires over the whole interval is certain; one that fires only in part of it,
    # a possibility, worded as such.
    certain = set.intersection(*(set(rules_fired) for _, rules_fired in evaluations))
    guessed = replace(reading, comparator="", label="the value")
    rule_reasons = [
        _describe(rule, replace(reading, comparator="", label=shown), context)
        if rule in certain
        else f"Possibly {rule.tier}, if {_words(rule, guessed, context)}."
        for rule in fired
    ]
    return Outcome(
        tier=worst.tier,
        reasons=(headline, *rule_reasons, *worst.reasons[len(fired) :]),
        next_action=worst.next_action,
        value_tier=max((o.value_tier for o, _ in evaluations), key=lambda t: t.rank),
        rationales=worst.rationales,
    )


def _representatives(
    reading: Reading, context: Context, rules: Sequence[FlagRule]
) -> list[Decimal]:
    """Values standing for every stretch of the bound's interval over which the rules give one
    answer, nearest the bound first: each value where a rule's answer may change (its cut),
    a value between each two, and the ends the interval includes. The far end of a "<" bound is
    0; of a ">" bound, a value past every cut (none of the rules can tell it from any larger)."""
    bound = reading.value
    cuts = {cut for cut in _cuts(reading, context, rules) if cut is not None}
    if reading.comparator in BELOW_BOUND:
        inside = sorted(cut for cut in cuts if 0 < cut < bound)
        ends = [Decimal(0), *inside, bound]
    else:
        inside = sorted(cut for cut in cuts if cut > bound)
        ends = [bound, *inside, max([bound, *cuts]) * 2 + 1]
    values = {*inside, *((low + high) / 2 for low, high in pairwise(ends))}
    values.add(ends[0] if reading.comparator in BELOW_BOUND else ends[-1])  # the far end
    if reading.comparator in INCLUSIVE_BOUND:
        values.add(bound)
    return sorted(values, reverse=reading.comparator in BELOW_BOUND)


def _cuts(reading: Reading, context: Context, rules: Sequence[FlagRule]):
    """The values at which a rule of this analyte, or the reference range, changes its answer
    (in the terms of _meets)."""
    yield reading.reference_low
    yield reading.reference_high
    previous = context.previous[0].value if context.previous else None
    base = context.baseline.value if context.baseline else None
    for rule in rules:
        if rule.analyte != reading.analyte:
            continue
        threshold = rule.threshold
        match rule.condition:
            case Condition.BELOW | Condition.ABOVE | Condition.AT_LEAST | Condition.IS:
                yield threshold
            case Condition.ABOVE_REFERENCE_TIMES if reading.reference_high is not None:
                yield threshold * reading.reference_high
            case Condition.FALL_FROM_PREVIOUS if previous:
                yield previous * (1 - threshold)
            case Condition.RISE_FROM_BASELINE_TIMES if base is not None:
                yield threshold * base
            case Condition.FALL_FROM_BASELINE if base is not None:
                yield base - threshold


def _fires(rule: FlagRule, reading: Reading, context: Context) -> bool:
    if not _meets(rule.condition, rule.threshold, reading, context):
        return False
    if not rule.with_analyte:
        return True
    other = context.same_sample.get(rule.with_analyte)
    return other is not None and _meets(rule.with_condition, rule.with_threshold, other, Context())


def _meets(condition, threshold, reading: Reading, context: Context) -> bool:
    value = reading.value
    match condition:
        case Condition.BELOW:
            return value < threshold
        case Condition.ABOVE:
            return value > threshold
        case Condition.AT_LEAST:
            return value >= threshold
        case Condition.FLAGGED_AT_LEAST:
            return reading.value_tier.rank >= threshold
        case Condition.IS:
            return value == threshold
        case Condition.BELOW_REFERENCE:
            return reading.reference_low is not None and value < reading.reference_low
        case Condition.ABOVE_REFERENCE_TIMES:
            high = reading.reference_high
            return high is not None and value > threshold * high
        case Condition.FALL_FROM_PREVIOUS:
            previous = context.previous[0].value if context.previous else None
            return bool(previous) and (previous - value) / previous >= threshold
        case Condition.RISE_FROM_BASELINE_TIMES:
            base = context.baseline
            return base is not None and base.value > 0 and value >= threshold * base.value
        case Condition.FALL_FROM_BASELINE:
            base = context.baseline
            return base is not None and base.value - value >= threshold
    raise ValueError(f"Unknown flag condition {condition!r}.")


def _plain(number: Decimal | None) -> str:
    """A number as a person writes it: thresholds stored with three decimal places read "50",
    not "50.000"."""
    if number is None:
        return ""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _describe(rule: FlagRule, reading: Reading, context: Context) -> str:
    return f"{rule.tier.value.capitalize()}: {_words(rule, reading, context)}."


def _words(rule: FlagRule, reading: Reading, context: Context) -> str:
    value = reading.label or reading.value
    threshold = rule.threshold_label or _plain(rule.threshold)
    previous = _shown(context.previous[0]) if context.previous else ""
    baseline = _shown(context.baseline) if context.baseline else ""
    words = {
        Condition.BELOW: f"{value} is below {threshold}",
        Condition.ABOVE: f"{value} is above {threshold}",
        Condition.AT_LEAST: f"{value} is at least {threshold}",
        Condition.FLAGGED_AT_LEAST: f"{value} is flagged {tier_of_rank(rule.threshold)} or worse",
        Condition.IS: f"the result is {threshold}",
        Condition.BELOW_REFERENCE: f"{value} is below the reference range",
        Condition.ABOVE_REFERENCE_TIMES: (
            f"{value} is over {_plain(rule.threshold)} x the upper limit "
            f"({_plain(reading.reference_high)})"
        ),
        Condition.FALL_FROM_PREVIOUS: (
            f"{value} fell by at least {rule.threshold * 100:.0f}% from the previous {previous}"
        ),
        Condition.RISE_FROM_BASELINE_TIMES: (
            f"{value} is at least {_plain(rule.threshold)} x the baseline {baseline}"
        ),
        Condition.FALL_FROM_BASELINE: (
            f"{value} is at least {_plain(rule.threshold)} below the baseline {baseline}"
        ),
    }[rule.condition]
    if rule.with_analyte:
        words += f", with {rule.with_analyte.replace('_', ' ')} {_with_words(rule)}"
    return words


def _shown(reading: Reading) -> str:
    """An earlier reading as the reasons name it: a bound with its comparator ("<50"). The rules
    compare with the bound itself (docs/clinical-reference.md, section 4)."""
    return f"{reading.comparator}{_plain(reading.value)}"


def _with_words(rule: FlagRule) -> str:
    threshold = rule.with_threshold_label or rule.with_threshold
    match rule.with_condition:
        case Condition.BELOW_REFERENCE:
            return "below the reference range"
        case Condition.ABOVE_REFERENCE_TIMES if rule.with_threshold == 1:
            return "above the reference range"
        case Condition.ABOVE_REFERENCE_TIMES:
            return f"over {threshold} x the upper limit"
        case Condition.BELOW:
            return f"below {threshold}"
        case Condition.ABOVE:
            return f"above {threshold}"
        case Condition.FLAGGED_AT_LEAST:
            return f"flagged {tier_of_rank(rule.with_threshold)} or worse"
        case Condition.IS:
            return f"{threshold}"
    return f"at least {threshold}"


def tier_of_rank(rank) -> str:
    """The name of the lowest tier of a rank, for words ("amber" for 2)."""
    return next((tier.value for tier in Tier if tier.rank == rank), str(rank))


def _reference_tier(reading: Reading, reasons: list[str]) -> tuple[Tier, list[str]]:
    if reading.reference_low is not None and reading.value < reading.reference_low:
        return Tier.LOW, [*reasons, "Below the reference range."]
    if reading.reference_high is not None and reading.value > reading.reference_high:
        return Tier.HIGH, [*reasons, "Above the reference range."]
    return Tier.NORMAL, reasons


def _uncleared_red(reading: Reading, context: Context, tier: Tier) -> date | None:
    """The date of the latest red-or-worse platelet count if no two consecutive normal counts
    (this one included) have followed it; None when there is nothing to hold."""
    if reading.analyte not in DIP_ANALYTES:
        return None
    since_red = [tier]
    for earlier in context.previous:
        if earlier.value_tier.rank >= Tier.RED.rank:
            cleared = any(newer == older == Tier.NORMAL for newer, older in pairwise(since_red))
            return None if cleared else earlier.sample_date
        since_red.append(earlier.value_tier)
    return None


def _in_dip(reading: Reading, context: Context) -> bool:
    return any(start <= reading.sample_date <= end for start, end in context.expected_dip_periods)
