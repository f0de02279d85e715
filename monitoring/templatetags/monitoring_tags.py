"""Colours for flag tiers and check statuses, in one place so every page agrees."""

from django import template

from monitoring.models.schedule import PANEL_SHORT_NAMES
from monitoring.results.charts import tier_colour_of

register = template.Library()

TIER_CLASSES = {
    "critical": "text-bg-danger border border-dark fw-bold",
    "red": "text-bg-danger",
    "amber": "text-bg-warning",
    "low": "text-bg-info",
    "high": "text-bg-info",
    "normal": "text-bg-light border",
}
STATUS_CLASSES = {
    "overdue": "text-bg-danger",
    "due": "text-bg-warning",
    "upcoming": "text-bg-light border",
    "completed": "text-bg-success",
    "completed_late": "text-bg-success opacity-75",
    "waived": "text-bg-secondary",
    "cancelled": "text-bg-secondary",
    # History from before the clinic tracked the patient: greyed, never alarming.
    "before_tracking": "bg-body-tertiary text-body-secondary border fw-normal",
}


@register.filter
def tier_class(tier: str) -> str:
    return TIER_CLASSES.get(tier, "text-bg-light")


@register.filter
def tier_colour(tier: str) -> str:
    return tier_colour_of(tier)


@register.filter
def status_class(status: str) -> str:
    return STATUS_CLASSES.get(status, "text-bg-light")


@register.filter
def status_label(status: str) -> str:
    return status.replace("_", " ")


@register.filter
def panel_short(panel: str) -> str:
    return PANEL_SHORT_NAMES.get(panel, panel)
