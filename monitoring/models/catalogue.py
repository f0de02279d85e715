"""The analyte catalogue and the flag rules: clinic data, editable in the admin, read by the pure
modules monitoring.domain.measurements and monitoring.flagging."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from monitoring.domain import flagging, measurements, therapies, therapy_rules
from monitoring.domain.units import unit_key
from monitoring.models.schedule import Panel
from patients.validators import (
    LONG_TEXT_MAX_LENGTH,
    SINGLE_LINE_TEXT,
    note_rules,
)

# The scale of every outcome analyte: the position of "abnormal" (1) is what its flag rule names.
OUTCOME_NORMAL, OUTCOME_ABNORMAL = "normal", "abnormal"
OUTCOME_SCALE = (OUTCOME_NORMAL, OUTCOME_ABNORMAL)


class Analyte(models.Model):
    code = models.SlugField(
        max_length=32, unique=True, help_text="Short code used in CSV imports, e.g. platelets."
    )
    name = models.CharField(max_length=80, unique=True)
    # Empty for an outcome (a check done without a lab value): such a result has no LOINC
    # code, and a made-up one would read as a real code to a lab system.
    loinc = models.CharField("LOINC code", max_length=16, unique=True, null=True, blank=True)
    other_loinc = models.JSONField(
        "other LOINC codes",
        default=list,
        blank=True,
        help_text="Further LOINC codes a lab may send for the same analyte in another unit.",
    )
    panel = models.CharField(max_length=24, choices=Panel.choices)
    canonical_unit = models.CharField(
        max_length=16, blank=True, help_text="Empty for dipstick grades."
    )
    unit_factors = models.JSONField(
        default=dict,
        blank=True,
        help_text='Other accepted units and the factor to the canonical unit, e.g. {"g/dL": "10"}.',
    )
    # A LOINC code names a property as well as an analyte: 2160-0 is creatinine by mass, 14682-9
    # by moles. A value sent under one with a unit of the other is refused, not converted.
    units_by_loinc = models.JSONField(
        "units by LOINC code",
        default=dict,
        blank=True,
        help_text="The units each LOINC code may be sent in, for codes that name one property, "
        'e.g. {"2160-0": ["mg/dL"], "14682-9": ["umol/L"]}. A code not listed takes every '
        "accepted unit.",
    )
    ordinal_scale = models.JSONField(
        default=list, blank=True, help_text="Dipstick grades in order, e.g. negative, trace, 1+."
    )
    plausible_max = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="In the canonical unit; a larger value is refused as a typing or unit error.",
    )
    decimal_places = models.PositiveSmallIntegerField(
        default=1, validators=[MaxValueValidator(4)], help_text="Canonical value rounding."
    )
    reference_low = models.DecimalField(
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Default lower reference limit, used when the lab gives none.",
    )
    reference_high = models.DecimalField(
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Default upper reference limit, used when the lab gives none.",
    )
    display_order = models.PositiveSmallIntegerField(default=0)
    # The outcome (normal or abnormal) of a check recorded as done without a lab value: a skin
    # examination, a screening done elsewhere, a baseline taken at another hospital. One per
    # panel; never charted, and entered through the "check done" form, not the lab form.
    is_outcome = models.BooleanField(
        "outcome of a check done without a value",
        default=False,
        help_text="Normal or abnormal, for a check recorded as done without lab values.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["display_order", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["panel"], condition=models.Q(is_outcome=True), name="one_outcome_per_panel"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            factors = {unit: Decimal(str(factor)) for unit, factor in self.unit_factors.items()}
        except (AttributeError, ArithmeticError) as error:
            raise ValidationError(
                {"unit_factors": "Give each unit with a numeric factor."}
            ) from error
        if any(factor <= 0 for factor in factors.values()):
            raise ValidationError({"unit_factors": "Every factor must be above zero."})
        self._check_spellings()
        if not isinstance(self.ordinal_scale, list):
            raise ValidationError({"ordinal_scale": "Give the grades as a list."})
        if self.is_outcome and list(self.ordinal_scale) != list(OUTCOME_SCALE):
            raise ValidationError(
                {"ordinal_scale": f"An outcome's scale is {', '.join(OUTCOME_SCALE)}."}
            )
        # A coded result may have no LOINC code of its own (the CYP2C9 genotype: none could be
        # confirmed): it is then entered by hand or from a file, never matched from a feed.
        if not self.is_outcome and not self.loinc and not self.is_ordinal:
            raise ValidationError({"loinc": "A lab analyte needs its LOINC code."})
        self._check_units_by_loinc()

    def _check_spellings(self) -> None:
        """Two accepted units written alike (mU/L and mIU/L, 10^9/L and 10*9/L) would make a
        value's factor depend on which was listed first: one unit, one entry."""
        seen: dict[str, str] = {}
        for unit in self.units:
            if (key := unit_key(unit)) in seen:
                raise ValidationError(
                    {
                        "unit_factors": f"“{unit}” is another way of writing “{seen[key]}”; "
                        "list each unit once."
                    }
                )
            seen[key] = unit

    def _check_units_by_loinc(self) -> None:
        restricted = self.units_by_loinc
        if not restricted:
            return
        shape = 'Give each LOINC code with a list of units, e.g. {"2160-0": ["mg/dL"]}.'
        if not isinstance(restricted, dict) or not all(
            isinstance(units, list) and units and all(isinstance(u, str) for u in units)
            for units in restricted.values()
        ):
            raise ValidationError({"units_by_loinc": shape})
        codes = {self.loinc, *self.other_loinc} - {None, ""}
        if stray := sorted(set(restricted) - codes):
            raise ValidationError(
                {
                    "units_by_loinc": f"{', '.join(stray)} is not a LOINC code of this analyte "
                    f"({', '.join(sorted(codes)) or 'none'}): add it to the LOINC code or the "
                    "other LOINC codes first."
                }
            )
        accepted = {unit_key(unit) for unit in self.units}
        for code, units in restricted.items():
            if unknown := [unit for unit in units if unit_key(unit) not in accepted]:
                raise ValidationError(
                    {
                        "units_by_loinc": f"{code}: {', '.join(unknown)} is not an accepted unit "
                        f"of {self.name or 'this analyte'} ({', '.join(self.units) or 'none'})."
                    }
                )

    @property
    def is_ordinal(self) -> bool:
        return bool(self.ordinal_scale)

    @property
    def units(self) -> list[str]:
        if self.is_ordinal:
            return []
        return [self.canonical_unit, *self.unit_factors]

    def as_measurement_analyte(self) -> measurements.Analyte:
        return measurements.Analyte(
            code=self.code,
            name=self.name,
            canonical_unit=self.canonical_unit,
            unit_factors={unit: Decimal(str(f)) for unit, f in self.unit_factors.items()},
            ordinal_scale=tuple(self.ordinal_scale),
            plausible_max=self.plausible_max,
            decimal_places=self.decimal_places,
            units_by_code={
                str(code): tuple(units) for code, units in (self.units_by_loinc or {}).items()
            },
        )

    def grade_label(self, position: Decimal | None) -> str:
        """The dipstick grade at a position on the scale ("" for numeric analytes)."""
        if not self.is_ordinal or position is None:
            return ""
        index = int(position)
        return self.ordinal_scale[index] if 0 <= index < len(self.ordinal_scale) else ""


class FlagRuleQuerySet(models.QuerySet):
    def as_rules(self) -> list[flagging.FlagRule]:
        rules = self.filter(is_active=True).select_related("analyte", "with_analyte")
        return [rule.as_flag_rule() for rule in rules]


C = flagging.Condition
CONDITION_CHOICES = [
    (C.BELOW.value, "value below the threshold"),
    (C.ABOVE.value, "value above the threshold"),
    (C.AT_LEAST.value, "value (or dipstick grade) at least the threshold"),
    (C.IS.value, "value (or grade, or outcome) is exactly the threshold"),
    (C.BELOW_REFERENCE.value, "below the reference range"),
    (C.ABOVE_REFERENCE_TIMES.value, "above threshold x the upper reference limit"),
    (C.FALL_FROM_PREVIOUS.value, "fall from the previous value by at least the fraction"),
    (C.RISE_FROM_BASELINE_TIMES.value, "at least threshold x the baseline"),
    (C.FALL_FROM_BASELINE.value, "at least threshold below the baseline"),
    (
        C.FLAGGED_AT_LEAST.value,
        "combinations only: the other result is flagged at least this tier "
        "(2 amber, 3 red, 4 critical), for any reason",
    ),
]
# What a rule may ask of a grade or an outcome: its position on the scale compared with the
# threshold. Ranges, ratios, falls and baselines are arithmetic on measured values; on a
# scale's positions they would be nonsense ("abnormal is 1.5 x the baseline").
ORDINAL_CONDITIONS = {C.AT_LEAST.value, C.IS.value, C.BELOW.value, C.ABOVE.value}
# Flag rules raise a result to amber or above; low/high come from the reference range alone.
RULE_TIER_CHOICES = [(t.value, t.value.capitalize()) for t in flagging.Tier if t.rank >= 2]
# A rule for one therapy, or for a family of them (monitoring.domain.therapy_rules).
RULE_THERAPY_CHOICES = [
    *therapies.CHOICES,
    *((family, label) for family, label in therapy_rules.FAMILIES.items()),
]


class FlagRule(models.Model):
    """One condition that raises a result to a tier (docs/clinical-reference.md section 3)."""

    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="flag_rules")
    tier = models.CharField(max_length=10, choices=RULE_TIER_CHOICES)
    condition = models.CharField(max_length=32, choices=CONDITION_CHOICES)
    threshold = models.DecimalField(
        max_digits=10,
        decimal_places=3,
        validators=[MinValueValidator(0)],
        help_text="In the canonical unit; a fraction for falls (0.5 = 50%); "
        "the position on the scale for dipstick grades (1+ = 2).",
    )
    with_analyte = models.ForeignKey(
        Analyte,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="A combination: the rule fires only if this result of the same sample also "
        "meets its condition.",
    )
    with_condition = models.CharField(max_length=32, choices=CONDITION_CHOICES, blank=True)
    with_threshold = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    next_action = models.CharField(max_length=255, validators=SINGLE_LINE_TEXT)
    rationale = models.TextField(
        help_text="Why, and the source; shown to clinicians.",
        max_length=LONG_TEXT_MAX_LENGTH,
        validators=note_rules(LONG_TEXT_MAX_LENGTH),
    )
    therapy = models.CharField(
        max_length=24,
        choices=RULE_THERAPY_CHOICES,
        blank=True,
        help_text="Empty: every patient. Otherwise the rule applies only while the patient is "
        "on this therapy (or family), from its before-start screens to the end of its "
        "after-stopping period.",
    )
    min_months_on_therapy = models.PositiveSmallIntegerField(
        "months on the therapy at least",
        null=True,
        blank=True,
        validators=[MaxValueValidator(240)],
        help_text="A rule of a therapy only: it applies once this many months have passed since "
        "the episode started (natalizumab's JCV index after 24 months).",
    )
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    objects = FlagRuleQuerySet.as_manager()

    class Meta:
        ordering = ["analyte__display_order", "condition", "threshold"]

    def __str__(self) -> str:
        text = f"{self.analyte}: {self.get_tier_display()} when {self.get_condition_display()}"
        return f"{text} ({self.get_therapy_display()})" if self.therapy else text

    def clean(self) -> None:
        combined = [self.with_analyte_id, self.with_condition, self.with_threshold is not None]
        if any(combined) and not all(combined):
            raise ValidationError(
                {"with_condition": "A combination needs its analyte, condition and threshold."}
            )
        if self.min_months_on_therapy is not None and not self.therapy:
            raise ValidationError(
                {
                    "min_months_on_therapy": "Months on a therapy need the therapy: choose it, "
                    "or leave the months empty."
                }
            )
        if self.condition == flagging.Condition.FLAGGED_AT_LEAST:
            raise ValidationError(
                {
                    "condition": "A result's own tier is what the rules decide; “flagged at "
                    "least” can only name the other result of a combination."
                }
            )
        problems = {}
        for field, analyte, condition in (
            ("condition", self.analyte if self.analyte_id else None, self.condition),
            ("with_condition", self.with_analyte, self.with_condition),
        ):
            if analyte is not None and analyte.is_ordinal and condition not in ORDINAL_CONDITIONS:
                problems[field] = (
                    f"{analyte.name} is graded on a scale ({', '.join(analyte.ordinal_scale)}): "
                    "compare its grade with the threshold (at least, exactly, below, above)."
                )
        if problems:
            raise ValidationError(problems)

    def as_flag_rule(self) -> flagging.FlagRule:
        with_analyte = self.with_analyte
        return flagging.FlagRule(
            analyte=self.analyte.code,
            tier=flagging.Tier(self.tier),
            condition=flagging.Condition(self.condition),
            threshold=self.threshold,
            next_action=self.next_action,
            rationale=self.rationale,
            with_analyte=with_analyte.code if with_analyte else "",
            with_condition=flagging.Condition(self.with_condition) if self.with_condition else None,
            with_threshold=self.with_threshold,
            threshold_label=self.analyte.grade_label(self.threshold),
            with_threshold_label=with_analyte.grade_label(self.with_threshold)
            if with_analyte
            else "",
            therapy=self.therapy,
            min_months_on_therapy=self.min_months_on_therapy,
        )
