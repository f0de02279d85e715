"""The adherence table as rows: the figures reports.figures.selectors.adherence_table reads
(what the overview shows), month by month and test by test, then per therapy (a shared draw
counted for each therapy), then per named nurse. Small
(24 months), so built at once; what keeps the export honest is that it is the same table."""

from __future__ import annotations

from collections.abc import Iterator

from reports.figures.definitions import Counts
from reports.figures.selectors import AdherenceTable

from .writers import Month, Share

MEASURES = ("On time", "Late", "Missed", "Waived", "Open", "Counted", "Adherence")


def counts_cells(counts: Counts) -> list:
    """One cell's figures, in the order of MEASURES (the export's and monitoring_report's)."""
    return [
        counts.on_time,
        counts.late,
        counts.missed,
        counts.waived,
        counts.open,
        counts.counted,
        Share(counts.adherence),
    ]


def adherence_rows(table: AdherenceTable, *, nurse_label: str) -> Iterator[list]:
    figures = table.figures
    yield ["Clinic", table.clinic.name, table.clinic.code]
    yield ["Figures as of", figures.as_of if figures else "never computed"]
    yield ["Patients", nurse_label]
    yield []
    header = ["Month"]
    for _value, label in table.panels:
        header += [f"{label}: {measure.lower()}" for measure in MEASURES]
    header += [f"All tests: {measure.lower()}" for measure in MEASURES]
    yield header
    for month in table.months:
        row: list = [Month(month)]
        for value, _label in table.panels:
            row += counts_cells(table.cell(value, month))
        yield row + counts_cells(table.by_month.get(month, Counts()))
    total: list = ["All months"]
    for value, _label in table.panels:
        total += counts_cells(table.by_panel.get(value, Counts()))
    yield total + counts_cells(table.overall)
    yield []
    yield ["Therapy (all tests, all months)", *MEASURES]
    for code, name in table.therapies:
        yield [name, *counts_cells(table.by_therapy[code])]
    yield []
    yield ["Named nurse (all tests, all months)", *MEASURES]
    for nurse in table.nurses:
        yield [nurse.name, *counts_cells(nurse.counts)]
