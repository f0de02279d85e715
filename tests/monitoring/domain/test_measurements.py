"""Reading lab values: every kind of bad input is refused by name (pure, no database)."""

from decimal import Decimal

import pytest

from monitoring.domain.measurements import MeasurementError, read_measurement
from tests.monitoring.domain.analytes import CREATININE, PLATELETS, URINE_BLOOD


def refusal(analyte, value, unit):
    with pytest.raises(MeasurementError) as error:
        read_measurement(analyte, value, unit)
    return error.value.field, error.value.message


def test_a_value_is_kept_as_entered_and_converted_to_the_canonical_unit():
    reading = read_measurement(CREATININE, " 1.2 ", "mg/dL")
    assert (reading.value_text, reading.unit, reading.canonical) == (
        "1.2",
        "mg/dL",
        Decimal("106.1"),
    )


def test_platelets_in_thousands_per_microlitre_are_the_same_number():
    assert read_measurement(PLATELETS, "145", "10³/µL".replace("³", "^3")).canonical == 145


def test_zero_platelets_is_a_valid_result():
    assert read_measurement(PLATELETS, "0", "10^9/L").canonical == 0


@pytest.mark.parametrize(
    ("value", "unit", "field", "words"),
    [
        ("", "10^9/L", "value", "enter a value"),
        ("abc", "10^9/L", "value", "“abc” is not a number"),
        ("NaN", "10^9/L", "value", "“NaN” is not a number"),
        ("Infinity", "10^9/L", "value", "“Infinity” is not a number"),
        ("1e5", "10^9/L", "value", "“1e5” is not a number"),
        ("-5", "10^9/L", "value", "cannot be negative"),
        ("50000", "10^9/L", "value", "beyond any plausible result"),
        ("123.456789012", "10^9/L", "value", "has 12 digits"),
        ("=1+1", "10^9/L", "value", "looks like a spreadsheet formula"),
        ("@SUM(A1)", "10^9/L", "value", "looks like a spreadsheet formula"),
        ("150", "", "unit", "enter the unit (10^9/L, 10^3/uL)"),
        ("150", "g/L", "unit", "“g/L” is not an accepted unit"),
    ],
)
def test_bad_values_are_refused_naming_the_field(value, unit, field, words):
    got_field, message = refusal(PLATELETS, value, unit)
    assert got_field == field
    assert words in message
    assert message.startswith("Platelets")


def test_dipstick_grades_are_read_on_their_scale():
    assert read_measurement(URINE_BLOOD, "2+", None).canonical == 3
    assert read_measurement(URINE_BLOOD, "Trace", "").value_text == "trace"
    assert refusal(URINE_BLOOD, "5+", None)[1].endswith(
        "is not one of negative, trace, 1+, 2+, 3+."
    )
    assert refusal(URINE_BLOOD, "1+", "mg/dL")[0] == "unit"
