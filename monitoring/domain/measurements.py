"""Reading a lab value as typed or imported: pure functions over plain values.

A value is kept as entered (text and unit) and converted to the analyte's canonical unit for
the flag rules (docs/clinical-reference.md section 4). A unit is recognised however it is
spelled (monitoring.domain.units) but only if the catalogue lists it; a bound ("<5") is kept as
its comparator and its number; a code is checked against the unit it came with. Anything
doubtful is refused with a message that names the field; nothing is guessed, least of all a
unit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from monitoring.domain.input_rules import ascii_digits, non_ascii_digits
from monitoring.domain.units import unit_key

MAX_SIGNIFICANT_DIGITS = 8
# A leading =, +, @ or a tab/CR can make a spreadsheet run the cell as a formula.
FORMULA_START = re.compile(r"^[=+@\t\r]|^-[^0-9.]")
NUMBER = re.compile(r"^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
# A lab's bound, as typed before the number ("<5", "<= 5", "≥1000"); stored in ASCII.
COMPARATORS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "≤": "<=", "≥": ">="}
LEADING_COMPARATOR = re.compile(r"^(<=|>=|<|>|≤|≥)\s*")
COMPARATOR_WORDS = "<, <=, >, >="


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
    # The units a code may be sent in, for the codes that name one property (mass or moles):
    # LOINC 2160-0 is creatinine by mass, in mg/dL only. A code not listed takes every unit.
    units_by_code: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_ordinal(self) -> bool:
        return bool(self.ordinal_scale)


@dataclass(frozen=True)
class Measurement:
    value_text: str  # the number as entered, without its comparator
    unit: str  # as entered
    canonical: Decimal  # of a bound, the bound
    comparator: str = ""  # "<", "<=", ">", ">=", or "" for a plain value


def read_measurement(
    analyte: Analyte,
    value: str | None,
    unit: str | None,
    *,
    comparator: str = "",
    code: str = "",
) -> Measurement:
    """Check and convert one value; raise MeasurementError naming 'value' or 'unit'.
    A bound is read from the value ("<5") or given apart (`comparator`, as a lab feed sends
    it); `code` is the code the value was sent under, checked against its unit."""
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
    bound, text = _comparator(analyte, text, comparator)
    if analyte.is_ordinal:
        if bound:
            raise MeasurementError(
                "value",
                f"{analyte.name} is a grade on a scale, not a number: it takes no comparator "
                f"(got “{bound}{text}”).",
            )
        return _read_ordinal(analyte, text, unit)
    measurement = _read_number(analyte, text, unit, bound)
    _check_code(analyte, code, measurement.unit)
    return measurement


def _comparator(analyte: Analyte, text: str, given: str) -> tuple[str, str]:
    """The bound (ASCII) and the rest of the value. A feed gives the comparator apart; the form
    and a file give it in the value. Both at once must agree, or nothing is guessed."""
    given = given.strip()
    if given and given != "=" and given not in COMPARATORS:
        raise MeasurementError(
            "value", f"{analyte.name}: “{given}” is not a comparator ({COMPARATOR_WORDS})."
        )
    given = COMPARATORS.get(given, "")
    typed = ""
    if match := LEADING_COMPARATOR.match(text):
        typed, text = COMPARATORS[match.group(1)], text[match.end() :]
        if not text:
            raise MeasurementError(
                "value", f"{analyte.name}: give the number after “{match.group(1)}”."
            )
    if given and typed and given != typed:
        raise MeasurementError(
            "value",
            f"{analyte.name}: the value “{typed}{text}” has its own comparator, and "
            f"“{given}” was sent with it; which one the lab meant is not clear.",
        )
    return given or typed, text


def _read_ordinal(analyte: Analyte, text: str, unit: str | None) -> Measurement:
    if unit and unit_key(unit):
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


def _read_number(analyte: Analyte, text: str, unit: str | None, bound: str) -> Measurement:
    shown = f"{bound}{text}"
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
        raise MeasurementError("value", f"{analyte.name} cannot be negative (got {shown}).")
    if number == 0 and bound == "<":
        raise MeasurementError(
            "value", f"{analyte.name}: “{shown}” would be below zero, which no result can be."
        )
    entered_unit = unit_key(unit or "")
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
            f"{analyte.name}: {shown} {unit} is beyond any plausible result "
            f"(over {analyte.plausible_max} {analyte.canonical_unit}); check the value and unit.",
        )
    return Measurement(value_text=text, unit=unit.strip(), canonical=canonical, comparator=bound)


def _factor(analyte: Analyte, key: str) -> Decimal | None:
    """The factor of the catalogue's unit spelled like `key` (units.unit_key); None if none."""
    if key == unit_key(analyte.canonical_unit):
        return Decimal(1)
    for name, factor in analyte.unit_factors.items():
        if unit_key(name) == key:
            return Decimal(factor)
    return None


def _check_code(analyte: Analyte, code: str, unit: str) -> None:
    """A code that names one property (mass, moles) with a unit of another is a contradiction
    in the lab's message: refused, since either the code or the unit is wrong."""
    allowed = analyte.units_by_code.get(code.strip()) if code else None
    key = unit_key(unit)
    if not allowed or any(unit_key(name) == key for name in allowed):
        return
    others = [
        other
        for other, units in analyte.units_by_code.items()
        if any(unit_key(name) == key for name in units)
    ]
    sent_as = f" (a value in {unit} is sent as {' or '.join(others)})" if others else ""
    raise MeasurementError(
        "unit",
        f"{analyte.name}: LOINC {code.strip()} is reported in {', '.join(allowed)}, not "
        f"“{unit}”{sent_as}; the code and the unit disagree, so check both with the lab.",
    )


def _accepted(analyte: Analyte) -> str:
    return ", ".join([analyte.canonical_unit, *analyte.unit_factors])
