"""A scheduled check's status, derived from its dates and today; never stored, so never stale."""

from __future__ import annotations

import enum
from datetime import date


class CheckStatus(enum.StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    BEFORE_TRACKING = "before_tracking"
    COMPLETED = "completed"
    COMPLETED_LATE = "completed_late"
    WAIVED = "waived"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


def check_status(
    *,
    today: date,
    window_opens: date,
    overdue_after: date,
    completed_on: date | None = None,
    waived: bool = False,
    cancelled: bool = False,
    before_tracking: bool = False,
) -> CheckStatus:
    """Cancelled and waived win over everything; a completion after the window is late; a
    check that fell overdue before the patient's tracking start is history, not overdue."""
    if cancelled:
        return CheckStatus.CANCELLED
    if waived:
        return CheckStatus.WAIVED
    if completed_on is not None:
        if completed_on > overdue_after:
            return CheckStatus.COMPLETED_LATE
        return CheckStatus.COMPLETED
    if before_tracking:
        return CheckStatus.BEFORE_TRACKING
    if today < window_opens:
        return CheckStatus.UPCOMING
    if today <= overdue_after:
        return CheckStatus.DUE
    return CheckStatus.OVERDUE
