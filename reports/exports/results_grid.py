"""A patient's results as a grid: a row per sample date, a column per analyte (its unit in the
header), each cell the current value with its comparator, and the worst flag of the date.

One query over LabResult (current results only: entered-in-error results, and those of
reports entered in error, are left out). One patient's results fit in memory; they must all
be read before the first row, since the columns are the analytes the patient has results
for. Two reports of one date with the same analyte: the later entered one is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from monitoring.domain.tiers import Tier
from monitoring.models import LabResult


def results_grid_rows(patient) -> Iterator[list]:
    results = (
        LabResult.objects.current()
        .filter(patient=patient)
        .order_by("sample_collected_on", "report_id", "pk")
        .values_list(
            "sample_collected_on",
            "analyte_id",
            "analyte__name",
            "analyte__canonical_unit",
            "analyte__display_order",
            "analyte__ordinal_scale",
            "value_text",
            "canonical_value",
            "comparator",
            "tier",
        )
    )
    analytes: dict[int, tuple] = {}
    cells: dict[tuple[date, int], object] = {}
    worst: dict[date, str] = {}
    for sampled, analyte_id, name, unit, order, scale, text, value, comparator, tier in results:
        analytes[analyte_id] = (order, name, unit)
        cells[(sampled, analyte_id)] = _value(text, value, comparator, scale)
        if sampled not in worst or Tier(tier).rank > Tier(worst[sampled]).rank:
            worst[sampled] = tier
    columns = sorted(analytes, key=lambda pk: analytes[pk][:2])
    yield [
        "Sample date",
        *(_heading(*analytes[pk][1:]) for pk in columns),
        "Worst flag",
    ]
    for sampled in sorted(worst):
        yield [
            sampled,
            *(cells.get((sampled, pk)) for pk in columns),
            worst[sampled].capitalize(),
        ]


def _heading(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit else name


def _value(text: str, value, comparator: str, scale):
    """A number stays a number (in the analyte's own unit); a bound keeps its comparator and
    is text ("<5"); a grade on a scale (a dipstick, an outcome) is its word."""
    if scale:
        return f"{comparator}{text}"
    number = value.normalize()
    if comparator:
        return f"{comparator}{number:f}"
    return number
