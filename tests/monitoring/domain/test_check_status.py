"""A check's status is derived from its dates and today, never stored."""

from datetime import date, timedelta

import pytest

from monitoring.domain.check_status import CheckStatus, check_status

OPENS, OVERDUE_AFTER = date(2024, 2, 22), date(2024, 3, 7)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (OPENS - timedelta(days=1), CheckStatus.UPCOMING),
        (OPENS, CheckStatus.DUE),
        (OVERDUE_AFTER, CheckStatus.DUE),
        (OVERDUE_AFTER + timedelta(days=1), CheckStatus.OVERDUE),
    ],
)
def test_open_check_status_follows_the_window(today, expected):
    assert check_status(today=today, window_opens=OPENS, overdue_after=OVERDUE_AFTER) == expected


def test_completion_inside_the_window_is_on_time_and_after_it_is_late():
    on_time = check_status(
        today=date(2025, 1, 1),
        window_opens=OPENS,
        overdue_after=OVERDUE_AFTER,
        completed_on=OVERDUE_AFTER,
    )
    late = check_status(
        today=date(2025, 1, 1),
        window_opens=OPENS,
        overdue_after=OVERDUE_AFTER,
        completed_on=OVERDUE_AFTER + timedelta(days=1),
    )
    assert (on_time, late) == (CheckStatus.COMPLETED, CheckStatus.COMPLETED_LATE)


def test_cancelled_and_waived_win_over_dates():
    common = {"today": date(2030, 1, 1), "window_opens": OPENS, "overdue_after": OVERDUE_AFTER}
    assert check_status(**common, waived=True) == CheckStatus.WAIVED
    assert check_status(**common, waived=True, cancelled=True) == CheckStatus.CANCELLED
