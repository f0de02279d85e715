"""Trend charts drawn as inline SVG on the server: no chart library to download, nothing to
fetch from the internet, and the same picture with scripts off. This module only computes
coordinates; the template draws them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from monitoring.domain import flagging

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 90, 12, 28
TIER_COLOURS = {
    "critical": "#7a0010",
    "red": "#dc3545",
    "amber": "#e0a800",
    "low": "#0aa2c0",
    "high": "#0aa2c0",
    "normal": "#198754",
}


def tier_colour_of(tier: str) -> str:
    return TIER_COLOURS.get(tier, "#6c757d")


@dataclass(frozen=True)
class SeriesPoint:
    """One result as a chart reads it: plain values, not a model."""

    sample_collected_on: date
    canonical_value: Decimal
    tier: str


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    tier: str
    label: str


@dataclass(frozen=True)
class ChartLine:
    y: float
    tier: str
    label: str


@dataclass(frozen=True)
class TrendChart:
    title: str
    unit: str
    width: int
    height: int
    points: tuple[ChartPoint, ...]
    lines: tuple[ChartLine, ...]
    x_labels: tuple[tuple[float, str], ...]
    y_labels: tuple[tuple[float, str], ...]

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def points_svg(self) -> SafeString:
        """Every point as an SVG circle with its label: five years are some sixty points a
        chart, drawn here rather than by a template loop (a tenth of the time)."""
        return format_html_join(
            "",
            '<circle cx="{}" cy="{}" r="3.5" fill="{}"><title>{}</title></circle>',
            ((f"{p.x:.1f}", f"{p.y:.1f}", tier_colour_of(p.tier), p.label) for p in self.points),
        )

    @property
    def plot_bottom(self) -> int:
        return self.height - BOTTOM

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT

    @property
    def line_label_x(self) -> int:
        return self.width - RIGHT + 4


def threshold_lines(
    rules: Sequence[flagging.FlagRule],
    *,
    reference_low: Decimal | None,
    reference_high: Decimal | None,
    baseline: Decimal | None,
) -> list[tuple[Decimal, str, str]]:
    """(value, tier, label) of every rule limit that can be drawn as a horizontal line."""
    C = flagging.Condition
    lines: dict[Decimal, tuple[str, str]] = {}

    def add(value, tier: flagging.Tier, label: str) -> None:
        kept = lines.get(value)
        if kept is None or flagging.Tier(kept[0]).rank < tier.rank:
            lines[value] = (tier.value, label)

    for rule in rules:
        if rule.with_analyte:
            continue  # a combination depends on another result: no single line to draw
        if rule.therapy:
            continue  # one therapy's limit, in force for part of the chart's years only
        match rule.condition:
            case C.BELOW | C.ABOVE:
                add(rule.threshold, rule.tier, f"{rule.tier.value} {_plain(rule.threshold)}")
            case C.BELOW_REFERENCE if reference_low is not None:
                add(reference_low, rule.tier, f"{rule.tier.value} (ref. low)")
            case C.ABOVE_REFERENCE_TIMES if reference_high is not None:
                times = _plain(rule.threshold)
                label = "ULN" if times == "1" else f"{times}x ULN"
                add(rule.threshold * reference_high, rule.tier, f"{rule.tier.value} {label}")
            case C.RISE_FROM_BASELINE_TIMES if baseline:
                label = f"{rule.tier.value} {_plain(rule.threshold)}x baseline"
                add(rule.threshold * baseline, rule.tier, label)
    return [(value, tier, label) for value, (tier, label) in sorted(lines.items())]


def trend_chart(*, analyte, series: Sequence, rules, baseline: Decimal | None) -> TrendChart:
    """A chart of `series` (results with sample_collected_on, canonical_value, tier), oldest
    first, with the analyte's rule limits drawn across it."""
    limits = threshold_lines(
        rules,
        reference_low=analyte.reference_low,
        reference_high=analyte.reference_high,
        baseline=baseline,
    )
    values = [r.canonical_value for r in series]
    top = max([*values, *(value for value, _, _ in limits), Decimal(1)]) * Decimal("1.1")
    first, last = series[0].sample_collected_on, series[-1].sample_collected_on
    span = max((last - first).days, 1)

    def x_of(day: date) -> float:
        if first == last:
            return LEFT + (WIDTH - LEFT - RIGHT) / 2
        return LEFT + (day - first).days / span * (WIDTH - LEFT - RIGHT)

    def y_of(value: Decimal) -> float:
        return TOP + float(1 - value / top) * (HEIGHT - TOP - BOTTOM)

    points = tuple(
        ChartPoint(
            x=x_of(r.sample_collected_on),
            y=y_of(r.canonical_value),
            tier=r.tier,
            label=f"{date_format(r.sample_collected_on)}: {_plain(r.canonical_value)} "
            f"{analyte.canonical_unit} ({r.tier})",
        )
        for r in series
    )
    lines = tuple(ChartLine(y=y_of(value), tier=tier, label=label) for value, tier, label in limits)
    years = sorted({r.sample_collected_on.year for r in series})
    x_labels = tuple((x_of(max(date(year, 1, 1), first)), str(year)) for year in years)
    y_labels = tuple((y_of(top * k / 4), _tick(top * k / 4, top)) for k in range(5))
    return TrendChart(
        title=f"{analyte.name} ({analyte.canonical_unit})",
        unit=analyte.canonical_unit,
        width=WIDTH,
        height=HEIGHT,
        points=points,
        lines=lines,
        x_labels=x_labels,
        y_labels=y_labels,
    )


def _plain(number: Decimal) -> str:
    """150.000 -> "150", 0.500 -> "0.5": never exponent notation."""
    return f"{number.normalize():f}"


def _tick(value: Decimal, top: Decimal) -> str:
    return f"{value:.0f}" if top >= 20 else f"{value:.2f}".rstrip("0").rstrip(".")
