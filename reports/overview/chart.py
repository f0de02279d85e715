"""The adherence chart: one line per test and one for all tests, over the months the overview
shows, drawn on the server as SVG (pygal) so the page needs no script. Nothing in the drawing
points outside the app and nothing runs: no scripts (js=[], and pygal's configuration
script taken out), no fonts or links fetched, no comments naming pygal's website."""

from __future__ import annotations

import re

import pygal
from pygal.style import Style

from reports.figures.definitions import Counts
from reports.figures.selectors import AdherenceTable

# pygal's comments name its website; its one script holds its own configuration (for the
# interactive tooltips it would load from the web, which js=[] turns off): both go.
_LEFT_OUT = re.compile(r"<!--.*?-->|<script\b.*?</script>", re.DOTALL)

# The Bootstrap palette the pages use, the overall line first and darkest.
_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#212529",
    foreground_strong="#212529",
    foreground_subtle="#6c757d",
    font_family="system-ui, sans-serif",
    colors=("#212529", "#0d6efd", "#198754", "#dc3545", "#fd7e14", "#6f42c1", "#20c997"),
)


def _share(counts) -> float | None:
    share = counts.adherence
    return None if share is None else round(share * 100, 1)


def adherence_chart_svg(table: AdherenceTable) -> str:
    """The table's adherence per month (percent; a gap where no check counted yet)."""
    chart = pygal.Line(
        js=[],
        style=_STYLE,
        width=900,
        height=420,
        range=(0, 100),
        include_x_axis=True,
        show_dots=True,
        dots_size=2,
        allow_interruptions=True,
        x_label_rotation=45,
        legend_at_bottom=True,
        value_formatter=lambda value: f"{value:.0f}%",
        disable_xml_declaration=True,
        no_data_text="No checks counted yet",
        title="Checks done within their window, per month",
    )
    chart.x_labels = [month.strftime("%b %Y") for month in table.months]
    chart.add("All tests", [_share(table.by_month.get(month, Counts())) for month in table.months])
    for panel, label in table.panels:
        chart.add(label, [_share(table.cell(panel, month)) for month in table.months])
    return _LEFT_OUT.sub("", chart.render(is_unicode=True))
