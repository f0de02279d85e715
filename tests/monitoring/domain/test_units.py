"""Units as labs and people write them: each spelling of a catalogue unit is that unit, kept as
written; a unit the catalogue does not list is refused, naming the ones it does; a LOINC code
sent with a unit of another property is refused (pure, no database)."""

from decimal import Decimal

import pytest

from monitoring.domain.measurements import Analyte, MeasurementError, read_measurement
from monitoring.domain.units import unit_key
from tests.monitoring.domain.analytes import PLATELETS

TIMES = "\u00d7"  # the multiplication sign of a printed "x10⁹/L" (U+00D7)

# As the catalogue is seeded (docs/clinical-reference.md section 4).
HAEMOGLOBIN = Analyte(
    code="haemoglobin",
    name="Haemoglobin",
    canonical_unit="g/L",
    unit_factors={"g/dL": Decimal(10)},
    plausible_max=Decimal(250),
    decimal_places=0,
)
CREATININE = Analyte(
    code="creatinine",
    name="Creatinine",
    canonical_unit="umol/L",
    unit_factors={"mg/dL": Decimal("88.4")},
    plausible_max=Decimal(3000),
    decimal_places=0,
    units_by_code={"14682-9": ("umol/L",), "2160-0": ("mg/dL",)},
)
TSH = Analyte(
    code="tsh",
    name="TSH",
    canonical_unit="mU/L",
    unit_factors={"uIU/mL": Decimal(1)},
    plausible_max=Decimal(500),
)
FREE_T4 = Analyte(
    code="free_t4",
    name="Free T4",
    canonical_unit="pmol/L",
    unit_factors={"ng/dL": Decimal("12.87")},
    plausible_max=Decimal(200),
    decimal_places=1,
    units_by_code={"14920-3": ("pmol/L",)},
)
BILIRUBIN = Analyte(
    code="bilirubin",
    name="Total bilirubin",
    canonical_unit="umol/L",
    unit_factors={"mg/dL": Decimal("17.1")},
    plausible_max=Decimal(1000),
    decimal_places=0,
    units_by_code={"14631-6": ("umol/L",)},
)
ALT = Analyte(code="alt", name="ALT", canonical_unit="U/L", plausible_max=Decimal(20000))
URINE_RBC = Analyte(
    code="urine_rbc", name="Urine red cells", canonical_unit="/hpf", plausible_max=Decimal(1000)
)


def refusal(analyte, value, unit, **given):
    with pytest.raises(MeasurementError) as error:
        read_measurement(analyte, value, unit, **given)
    return error.value.field, error.value.message


@pytest.mark.parametrize(
    ("analyte", "unit", "value", "canonical"),
    [
        # Counts: UCUM, printouts, typing, the multiplication sign and superscripts.
        (PLATELETS, "10*9/L", "145", 145),
        (PLATELETS, "10*3/uL", "145", 145),
        (PLATELETS, "x10^9/L", "145", 145),
        (PLATELETS, "X10^9/L", "145", 145),
        (PLATELETS, "x10E9/L", "145", 145),
        (PLATELETS, "10^9/l", "145", 145),
        (PLATELETS, f"{TIMES}10⁹/L", "145", 145),
        (PLATELETS, f"{TIMES}10^9/L", "145", 145),
        (PLATELETS, "10⁹/L", "145", 145),
        (PLATELETS, "10e9/L", "145", 145),
        (PLATELETS, "10 ^ 9 / L", "145", 145),
        (PLATELETS, "10³/µL", "145", 145),
        (PLATELETS, "x10^3/μL", "145", 145),
        (PLATELETS, "K/uL", "145", 145),
        # Concentrations: micro as µ, μ or u, any case of L.
        (CREATININE, "umol/L", "80", 80),
        (CREATININE, "µmol/L", "80", 80),
        (CREATININE, "μmol/l", "80", 80),
        (CREATININE, "mg/dL", "1.2", 106),
        (CREATININE, "mg/dl", "1.2", 106),
        (HAEMOGLOBIN, "g/dL", "13.5", 135),
        (HAEMOGLOBIN, "g/L", "135", 135),
        (FREE_T4, "pmol/L", "15", 15),
        (FREE_T4, "ng/dL", "1.2", Decimal("15.4")),
        (BILIRUBIN, "mg/dL", "1", 17),
        # International units: UCUM's brackets, IU and U of the same unit.
        (TSH, "mU/L", "2.5", Decimal("2.5")),
        (TSH, "mIU/L", "2.5", Decimal("2.5")),
        (TSH, "m[IU]/L", "2.5", Decimal("2.5")),
        (TSH, "uIU/mL", "2.5", Decimal("2.5")),
        (TSH, "µIU/mL", "2.5", Decimal("2.5")),
        (TSH, "u[IU]/mL", "2.5", Decimal("2.5")),
        (ALT, "U/L", "30", 30),
        (ALT, "[IU]/L", "30", 30),
        (ALT, "IU/L", "30", 30),
        (URINE_RBC, "/[HPF]", "3", 3),
        (URINE_RBC, "/HPF", "3", 3),
    ],
)
def test_each_spelling_of_an_accepted_unit_is_that_unit_kept_as_written(
    analyte, unit, value, canonical
):
    reading = read_measurement(analyte, value, unit)
    assert reading.canonical == canonical
    assert reading.unit == unit.strip()  # stored as entered, never rewritten
    assert reading.value_text == value


@pytest.mark.parametrize(
    ("analyte", "unit"),
    [
        (PLATELETS, "10*6/L"),  # a millionth of the unit, not a spelling of it
        (PLATELETS, "10^6/L"),
        (PLATELETS, "10*12/L"),  # red cells' unit
        (PLATELETS, "10^3/L"),
        (PLATELETS, "K/L"),
        (PLATELETS, "10^9/mL"),
        (PLATELETS, "/uL"),
        (CREATININE, "mg/L"),  # a tenth of mg/dL
        (CREATININE, "mmol/L"),  # a thousand umol/L: a factor the catalogue does not list
        (CREATININE, "umol"),
        (HAEMOGLOBIN, "mmol/L"),
        (HAEMOGLOBIN, "mg/dL"),
        (TSH, "mIU/mL"),  # a thousand mIU/L
        (TSH, "U/L"),
        (FREE_T4, "ng/L"),
        (FREE_T4, "nmol/L"),
        (ALT, "U/mL"),
        (ALT, "ukat/L"),
        (URINE_RBC, "/LPF"),
    ],
)
def test_a_unit_the_catalogue_does_not_list_is_refused_naming_the_accepted_ones(analyte, unit):
    field, message = refusal(analyte, "5", unit)
    accepted = ", ".join([analyte.canonical_unit, *analyte.unit_factors])
    assert field == "unit"
    assert message == (f"{analyte.name}: “{unit}” is not an accepted unit ({accepted}).")


def test_a_key_says_how_a_unit_is_written_not_how_it_converts():
    assert unit_key(f"{TIMES}10⁹/L") == unit_key("10*9/L") == unit_key("x10E9/l") == "10^9/l"
    assert unit_key("10*3/uL") == unit_key("K/uL") == unit_key("10³/µL") == "10^3/ul"
    assert unit_key("m[IU]/L") == unit_key("mU/L") == "mu/l"
    # Different units stay different, however close their spelling.
    assert len({unit_key(u) for u in ("10^9/L", "10^6/L", "10^3/uL", "10^12/L")}) == 4
    assert unit_key("mIU/mL") != unit_key("mIU/L")
    assert unit_key("mg/L") != unit_key("mg/dL")


@pytest.mark.parametrize(
    ("code", "unit"),
    [("2160-0", "mg/dL"), ("2160-0", "mg/dl"), ("14682-9", "umol/L"), ("14682-9", "µmol/L")],
)
def test_a_loinc_code_takes_the_units_of_its_own_property(code, unit):
    assert read_measurement(CREATININE, "1", unit, code=code).unit == unit


def test_creatinine_by_mass_in_moles_is_refused_naming_the_code_and_the_unit():
    field, message = refusal(CREATININE, "80", "umol/L", code="2160-0")
    assert field == "unit"
    assert message == (
        "Creatinine: LOINC 2160-0 is reported in mg/dL, not “umol/L” (a value in umol/L is "
        "sent as 14682-9); the code and the unit disagree, so check both with the lab."
    )


def test_creatinine_by_moles_in_mass_is_refused():
    field, message = refusal(CREATININE, "1.1", "mg/dL", code="14682-9")
    assert field == "unit"
    assert "LOINC 14682-9 is reported in umol/L, not “mg/dL”" in message
    assert "sent as 2160-0" in message


@pytest.mark.parametrize(
    ("analyte", "code", "unit"),
    [(FREE_T4, "14920-3", "ng/dL"), (BILIRUBIN, "14631-6", "mg/dL")],
)
def test_the_moles_codes_of_free_t4_and_bilirubin_refuse_a_mass_unit(analyte, code, unit):
    field, message = refusal(analyte, "1.2", unit, code=code)
    assert field == "unit"
    assert f"LOINC {code} is reported in" in message


@pytest.mark.parametrize(
    ("analyte", "code", "unit"),
    [
        # The clinic's own codes, as its specification lists them, take both units.
        (FREE_T4, "3024-7", "pmol/L"),
        (FREE_T4, "3024-7", "ng/dL"),
        (BILIRUBIN, "1975-2", "umol/L"),
        (BILIRUBIN, "1975-2", "mg/dL"),
        (FREE_T4, "14920-3", "pmol/L"),
        # No code (the form), or a code not restricted: every accepted unit.
        (CREATININE, "", "umol/L"),
        (CREATININE, "", "mg/dL"),
    ],
)
def test_a_code_not_restricted_takes_every_accepted_unit(analyte, code, unit):
    assert read_measurement(analyte, "1.2", unit, code=code).unit == unit


def test_an_unknown_unit_is_refused_before_the_code_is_looked_at():
    field, message = refusal(CREATININE, "80", "mmol/L", code="14682-9")
    assert (field, message) == (
        "unit",
        "Creatinine: “mmol/L” is not an accepted unit (umol/L, mg/dL).",
    )
