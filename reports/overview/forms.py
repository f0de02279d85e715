"""The overview's address parameters, read leniently (nonsense is ignored, never an error:
these come from links and bookmarks), and its one form, "Refresh now"."""

from __future__ import annotations

import re
from datetime import date

from django import forms

from monitoring.models import Panel
from reports.figures.definitions import Outcome, Stage, VisitState
from reports.figures.selectors import ALL_NURSES, NO_NAMED_NURSE
from submissions.forms import SubmissionKeyMixin

from .behind import ChecksWanted

# A database id fits in a signed 32-bit column; a longer number names no one.
MAX_ID = 2**31 - 1
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class RefreshForm(SubmissionKeyMixin, forms.Form):
    """Recompute the clinic's figures now rather than at the next hourly refresh."""


def id_of(value: str | None) -> int | None:
    value = (value or "").strip()
    if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def nurse_of(params) -> str:
    """The nurse filter: "all", "none" or a user id as text."""
    value = params.get("nurse", "")
    if value == NO_NAMED_NURSE:
        return NO_NAMED_NURSE
    nurse_id = id_of(value)
    return str(nurse_id) if nurse_id else ALL_NURSES


def month_of(value: str | None) -> date | None:
    match = _MONTH.fullmatch((value or "").strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not (1900 <= year <= 2999 and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def _choice(value: str | None, kind):
    try:
        return kind(value)
    except ValueError:
        return None


def checks_wanted(params) -> ChecksWanted:
    panel = params.get("panel", "")
    return ChecksWanted(
        panel=panel if panel in Panel.values else None,
        month=month_of(params.get("month")),
        outcome=_choice(params.get("outcome"), Outcome),
        nurse=nurse_of(params),
    )


def stage_of(params) -> Stage | None:
    return _choice(params.get("stage"), Stage)


def visit_state_of(params) -> VisitState | None:
    return _choice(params.get("visits"), VisitState)
