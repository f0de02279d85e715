"""Analytes as the catalogue seeds them (docs/clinical-reference.md section 4), as plain
values for the domain's tests."""

from decimal import Decimal

from monitoring.domain.measurements import Analyte

PLATELETS = Analyte(
    code="platelets",
    name="Platelets",
    canonical_unit="10^9/L",
    unit_factors={"10^3/uL": Decimal(1)},
    plausible_max=Decimal(3000),
    decimal_places=0,
)
CREATININE = Analyte(
    code="creatinine",
    name="Creatinine",
    canonical_unit="umol/L",
    unit_factors={"mg/dL": Decimal("88.4")},
    plausible_max=Decimal(3000),
    decimal_places=1,
)
URINE_BLOOD = Analyte(
    code="urine_blood",
    name="Urine blood",
    canonical_unit="",
    ordinal_scale=("negative", "trace", "1+", "2+", "3+"),
)
