"""Checking one typed or imported result before anything is stored. The entry form, the CSV
import and the recording service all call these, so every path refuses the same things with
the same words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.formats import date_format

from monitoring.domain.input_rules import CLINICAL_EARLIEST
from monitoring.domain.measurements import MeasurementError, read_measurement
from monitoring.models import Analyte


@dataclass(frozen=True)
class ResultInput:
    """One result as typed or imported, before checking."""

    analyte: Analyte
    value: str
    unit: str = ""
    reference_low: str = ""
    reference_high: str = ""
    # A lab's bound sent apart from its number ("<" with "5"), as a feed sends it; the form
    # and a file write it in the value ("<5"). Empty for a plain value.
    comparator: str = ""
    # monitoring.models.ResultStatus: a preliminary value is stored as such.
    status: str = "final"
    # The code the value was sent under (a LOINC code from a lab feed or a file), when it
    # was: a code of another property than its unit (mass, not moles) is refused.
    code: str = ""


@dataclass(frozen=True)
class CheckedResult:
    analyte: Analyte
    value_text: str
    unit: str
    canonical_value: Decimal
    reference_low: Decimal | None
    reference_high: Decimal | None
    comparator: str = ""
    status: str = "final"


def result_check(entry: ResultInput) -> CheckedResult:
    """The checked, converted result; MeasurementError names 'value', 'unit' or a range field."""
    analyte = entry.analyte
    # A bound comes in the value ("<5", from the form or a file) or apart (a feed's
    # comparator); either way it is stored apart, with the number as value_text.
    measurement = read_measurement(
        analyte.as_measurement_analyte(),
        entry.value,
        entry.unit,
        comparator=entry.comparator,
        code=entry.code,
    )
    low = _range_limit(analyte, "reference_low", entry.reference_low, entry.unit)
    high = _range_limit(analyte, "reference_high", entry.reference_high, entry.unit)
    if low is not None and high is not None and low > high:
        raise MeasurementError(
            "reference_low", f"{analyte.name}: the reference range's low limit is above its high."
        )
    return CheckedResult(
        analyte=analyte,
        value_text=measurement.value_text,
        unit=measurement.unit,
        canonical_value=measurement.canonical,
        reference_low=low,
        reference_high=high,
        comparator=measurement.comparator,
        status=entry.status,
    )


def _range_limit(analyte: Analyte, field_name: str, text: str, unit: str) -> Decimal | None:
    if not (text or "").strip():
        return None
    if analyte.is_ordinal:
        raise MeasurementError(field_name, f"{analyte.name} is a dipstick grade: no range.")
    label = "low" if field_name == "reference_low" else "high"
    try:
        # The lab's range is in the unit of its result, and is read by the same rules.
        limit = read_measurement(analyte.as_measurement_analyte(), text, unit)
    except MeasurementError as error:
        # The reader's message starts with the analyte's name; say it once.
        detail = error.message.removeprefix(f"{analyte.name}: ")
        raise MeasurementError(
            field_name, f"{analyte.name} reference range {label}: {detail}"
        ) from error
    if limit.comparator:
        raise MeasurementError(
            field_name,
            f"{analyte.name} reference range {label}: “{text.strip()}” is a bound; a range's "
            "limit is a number.",
        )
    return limit.canonical


def _day(value: date) -> str:
    """In the format of the language active for the request (the user's clinic's)."""
    return date_format(value, "DATE_FORMAT")


def sample_date_problems(
    *,
    sample_collected_on: date | None,
    reported_on: date | None,
    date_of_birth: date,
    today: date,
    what: str = "sample date",
) -> dict[str, str]:
    """Date problems keyed by field; empty when the dates are possible. `what` names the date
    in the messages: "date done" for a check done without a lab value."""
    problems: dict[str, str] = {}
    if sample_collected_on is None:
        problems["sample_collected_on"] = (
            "Enter the date the sample was collected."
            if what == "sample date"
            else f"Enter the {what}."
        )
    elif sample_collected_on > today:
        problems["sample_collected_on"] = (
            f"The {what} {_day(sample_collected_on)} is in the future."
        )
    elif sample_collected_on < CLINICAL_EARLIEST:
        problems["sample_collected_on"] = (
            f"The {what} {_day(sample_collected_on)} is before {_day(CLINICAL_EARLIEST)}, "
            "earlier than any result this service keeps."
        )
    elif sample_collected_on < date_of_birth:
        problems["sample_collected_on"] = (
            f"The {what} {_day(sample_collected_on)} is before the patient's birth."
        )
    if reported_on is not None:
        if reported_on > today:
            problems["reported_on"] = f"The report date {_day(reported_on)} is in the future."
        elif reported_on < CLINICAL_EARLIEST:
            problems["reported_on"] = (
                f"The report date {_day(reported_on)} is before {_day(CLINICAL_EARLIEST)}."
            )
        elif sample_collected_on and reported_on < sample_collected_on:
            problems["reported_on"] = "The report date is before the sample was collected."
    return problems
