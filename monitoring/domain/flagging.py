"""Abnormal-result flags: a pure function from one result, its history and the rules to a tier,
its reasons and the next action (docs/clinical-reference.md section 3). Rules are data; the stored
FlagRule rows become FlagRule values here, so a clinic's edits change the outcome, not the code.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import pairwise

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


@dataclass(frozen=True)
class Context:
    """What the rules may compare with: earlier readings of the same analyte (newest first),
    the baseline before course 1, the other results of the same sample, and infusion periods."""

    previous: Sequence[Reading] = ()
    baseline: Reading | None = None
    same_sample: Mapping[str, Reading] = field(default_factory=dict)
    # (first infusion day, last day of the expected-dip period) for each course
    expected_dip_periods: Sequence[tuple[date, date]] = ()


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
    fired = [
        rule for rule in rules if rule.analyte == reading.analyte and _fires(rule, reading, context)
    ]
    tier, reasons, action = Tier.NORMAL, [], ""
    for rule in sorted(fired, key=lambda r: r.tier.rank, reverse=True):
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
    return Outcome(
        tier=tier,
        reasons=tuple(reasons),
        next_action=action,
        value_tier=value_tier,
        rationales=rationales,
    )


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
    value = reading.label or reading.value
    threshold = rule.threshold_label or _plain(rule.threshold)
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
            f"{value} fell by at least {rule.threshold * 100:.0f}% from the previous "
            f"{_plain(context.previous[0].value) if context.previous else ''}"
        ),
        Condition.RISE_FROM_BASELINE_TIMES: (
            f"{value} is at least {_plain(rule.threshold)} x the baseline "
            f"{_plain(context.baseline.value) if context.baseline else ''}"
        ),
        Condition.FALL_FROM_BASELINE: (
            f"{value} is at least {_plain(rule.threshold)} below the baseline "
            f"{_plain(context.baseline.value) if context.baseline else ''}"
        ),
    }[rule.condition]
    if rule.with_analyte:
        words += f", with {rule.with_analyte.replace('_', ' ')} {_with_words(rule)}"
    return f"{rule.tier.value.capitalize()}: {words}."


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
