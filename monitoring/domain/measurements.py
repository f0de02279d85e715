"""Reading a lab value as typed or imported: pure functions over plain values.

A value is kept as entered (text and unit) and converted to the analyte's canonical unit for
the flag rules (docs/clinical-reference.md section 4). Anything doubtful is refused with a
message that names the field; nothing is guessed, least of all a unit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from monitoring.domain.input_rules import ascii_digits, non_ascii_digits

MAX_SIGNIFICANT_DIGITS = 8
# A leading =, +, @ or a tab/CR can make a spreadsheet run the cell as a formula.
FORMULA_START = re.compile(r"^[=+@\t\r]|^-[^0-9.]")
NUMBER = re.compile(r"^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")


class MeasurementError(ValueError):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Analyte:
    code: str
    name: str
    canonical_unit: str
    # Multiply a value in the unit by its factor to get the canonical value.
    unit_factors: Mapping[str, Decimal] = field(default_factory=dict)
    # Dipstick results: the ordered scale; the canonical value is the position on it.
    ordinal_scale: tuple[str, ...] = ()
    plausible_max: Decimal | None = None
    decimal_places: int = 2

    @property
    def is_ordinal(self) -> bool:
        return bool(self.ordinal_scale)


@dataclass(frozen=True)
class Measurement:
    value_text: str
    unit: str
    canonical: Decimal


def normalise_unit(unit: str) -> str:
    return unit.strip().replace("µ", "u").replace("μ", "u").replace(" ", "")


def read_measurement(analyte: Analyte, value: str | None, unit: str | None) -> Measurement:
    """Check and convert one value; raise MeasurementError naming 'value' or 'unit'."""
    text = (value or "").strip()
    if not text:
        raise MeasurementError("value", f"{analyte.name}: enter a value.")
    if FORMULA_START.match(text):
        raise MeasurementError(
            "value", f"{analyte.name}: “{text}” looks like a spreadsheet formula, not a result."
        )
    if non_ascii_digits(text):
        # Refused rather than converted: the record shows what was typed, and a reader of
        # "٤٥" may not see 45. The message gives the plain form to type instead.
        raise MeasurementError(
            "value",
            f"{analyte.name}: write “{text}” with the digits 0-9, as {ascii_digits(text)}.",
        )
    if analyte.is_ordinal:
        return _read_ordinal(analyte, text, unit)
    return _read_number(analyte, text, unit)


def _read_ordinal(analyte: Analyte, text: str, unit: str | None) -> Measurement:
    if unit and normalise_unit(unit):
        raise MeasurementError(
            "unit", f"{analyte.name} is a dipstick grade and takes no unit (got “{unit}”)."
        )
    scale = {grade.lower(): position for position, grade in enumerate(analyte.ordinal_scale)}
    position = scale.get(text.lower().replace(" ", ""))
    if position is None:
        grades = ", ".join(analyte.ordinal_scale)
        raise MeasurementError("value", f"{analyte.name}: “{text}” is not one of {grades}.")
    return Measurement(
        value_text=analyte.ordinal_scale[position], unit="", canonical=Decimal(position)
    )


def _read_number(analyte: Analyte, text: str, unit: str | None) -> Measurement:
    if not NUMBER.match(text):
        raise MeasurementError("value", f"{analyte.name}: “{text}” is not a number.")
    try:
        number = Decimal(text)
    except InvalidOperation as error:  # pragma: no cover - the pattern already refused it
        raise MeasurementError("value", f"{analyte.name}: “{text}” is not a number.") from error
    digits = len(number.as_tuple().digits)
    if digits > MAX_SIGNIFICANT_DIGITS:
        raise MeasurementError(
            "value",
            f"{analyte.name}: “{text}” has {digits} digits; no lab reports more than "
            f"{MAX_SIGNIFICANT_DIGITS}.",
        )
    if number < 0:
        raise MeasurementError("value", f"{analyte.name} cannot be negative (got {text}).")
    entered_unit = normalise_unit(unit or "")
    if not entered_unit:
        raise MeasurementError("unit", f"{analyte.name}: enter the unit ({_accepted(analyte)}).")
    factor = _factor(analyte, entered_unit)
    if factor is None:
        raise MeasurementError(
            "unit",
            f"{analyte.name}: “{unit}” is not an accepted unit ({_accepted(analyte)}).",
        )
    canonical = (number * factor).quantize(Decimal(1).scaleb(-analyte.decimal_places))
    if analyte.plausible_max is not None and canonical > analyte.plausible_max:
        raise MeasurementError(
            "value",
            f"{analyte.name}: {text} {unit} is beyond any plausible result "
            f"(over {analyte.plausible_max} {analyte.canonical_unit}); check the value and unit.",
        )
    return Measurement(value_text=text, unit=unit.strip(), canonical=canonical)


def _factor(analyte: Analyte, unit: str) -> Decimal | None:
    wanted = unit.lower()
    if wanted == normalise_unit(analyte.canonical_unit).lower():
        return Decimal(1)
    for name, factor in analyte.unit_factors.items():
        if normalise_unit(name).lower() == wanted:
            return Decimal(factor)
    return None


def _accepted(analyte: Analyte) -> str:
    return ", ".join([analyte.canonical_unit, *analyte.unit_factors])
