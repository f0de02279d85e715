"""The episode planner and shared visits, without a database (clinical-reference.md section 6).

The protocol items below have the shapes of the seeded protocols (monitoring migration 0029):
interferon beta's CBC at months 1, 3 and 6 then every 6 months from month 12, natalizumab's
JCV antibody every 6 months and MRI after stopping, cladribine's lymphocyte counts before and
2 and 6 months after each treatment year, and so on; built here as plain planning values.
"""

from datetime import date, timedelta

import pytest

from monitoring.domain.episode_planning import Dose, Episode, plan_episode, share_visits
from monitoring.domain.planning import (
    AFTER_DOSE,
    AFTER_END,
    AFTER_STOP,
    AT_MONTHS,
    BEFORE_DOSE,
    BEFORE_START,
    ON_THERAPY,
    PRE_COURSE,
    RECURRING,
    PlannedCheck,
    PlanningError,
    Protocol,
    ProtocolItem,
)

# The seed's windows: six-monthly checks +/-14 days, fixed early months +/-7, yearly +/-30.
MONTHS = {"window_before_days": 14, "grace_after_days": 14}
MONTHLY = {"window_before_days": 7, "grace_after_days": 7}
YEARLY = {"window_before_days": 30, "grace_after_days": 30}


def every(key, panel, months, *, first=None, window=MONTHS):
    return ProtocolItem(
        key=key,
        panel=panel,
        kind=ON_THERAPY,
        interval_months=months,
        first_month=first,
        **window,
    )


def at(key, panel, *months, window=MONTHS, kind=AT_MONTHS):
    return ProtocolItem(
        key=key, panel=panel, kind=kind, interval_months=None, months=tuple(months), **window
    )


def before(key, panel, days):
    return ProtocolItem(
        key=key,
        panel=panel,
        kind=BEFORE_START,
        interval_months=None,
        window_before_days=days,
        grace_after_days=0,
    )


def before_dose(key, panel, days, *, first_only=False):
    return ProtocolItem(
        key=key,
        panel=panel,
        kind=BEFORE_DOSE,
        interval_months=None,
        window_before_days=days,
        grace_after_days=0,
        first_course_only=first_only,
    )


def protocol(*items, horizon=120):
    return Protocol(follow_up_months=horizon, items=items)


def plan(protocol_, *, start, stop=None, doses=(), key="episode"):
    episode = Episode(key=key, started_on=start, stopped_on=stop, doses=tuple(doses))
    return plan_episode(episode=episode, protocol=protocol_, sex="F").checks


def dues(checks, item_key):
    return [check.due for check in checks if check.item_key == item_key]


# --- On therapy -----------------------------------------------------------------------------


def test_on_therapy_repeats_one_interval_apart_up_to_the_horizon():
    # Natalizumab's JCV antibody index every 6 months, planned two years ahead.
    checks = plan(protocol(every("jcv", "jcv_antibody", 6), horizon=24), start=date(2024, 1, 15))
    assert dues(checks, "jcv") == [
        date(2024, 7, 15),
        date(2025, 1, 15),
        date(2025, 7, 15),
        date(2026, 1, 15),  # the horizon itself is planned
    ]
    first = checks[0]
    assert (first.kind, first.month_offset, first.episode_key, first.dose_key) == (
        ON_THERAPY,
        6,
        "episode",
        None,
    )
    assert first.window_opens == date(2024, 7, 1)
    assert first.overdue_after == date(2024, 7, 29)
    assert not first.shares_visit


def test_on_therapy_from_its_first_month_after_the_fixed_months():
    # Interferon beta's CBC at months 1, 3 and 6, then every 6 months from month 12.
    items = protocol(
        at("cbc-early", "blood_count", 1, 3, 6, window=MONTHLY),
        every("cbc", "blood_count", 6, first=12),
        horizon=36,
    )
    checks = plan(items, start=date(2024, 3, 10))
    assert dues(checks, "cbc-early") == [date(2024, 4, 10), date(2024, 6, 10), date(2024, 9, 10)]
    assert [c.month_offset for c in checks if c.item_key == "cbc"] == [12, 18, 24, 30, 36]


def test_on_therapy_checks_stop_before_the_stop_day():
    items = protocol(every("cbc", "blood_count", 6))
    # Stopped on the day month 12 falls due: that check is not planned, month 6 is.
    assert dues(plan(items, start=date(2024, 1, 15), stop=date(2025, 1, 15)), "cbc") == [
        date(2024, 7, 15)
    ]
    # A day later, it is.
    assert dues(plan(items, start=date(2024, 1, 15), stop=date(2025, 1, 16)), "cbc") == [
        date(2024, 7, 15),
        date(2025, 1, 15),
    ]


def test_a_stopped_episode_is_not_planned_to_the_horizon():
    items = protocol(every("cbc", "blood_count", 1), horizon=120)
    checks = plan(items, start=date(2024, 1, 15), stop=date(2024, 4, 20))
    assert dues(checks, "cbc") == [date(2024, 2, 15), date(2024, 3, 15), date(2024, 4, 15)]


# --- At fixed months ------------------------------------------------------------------------


def test_at_months_falls_at_each_month_from_the_start():
    checks = plan(protocol(at("lft", "liver", 6, 1, 3)), start=date(2024, 5, 31))
    assert dues(checks, "lft") == [date(2024, 6, 30), date(2024, 8, 31), date(2024, 11, 30)]
    assert [c.month_offset for c in checks] == [1, 3, 6]


def test_at_months_only_before_the_stop():
    items = protocol(at("lft", "liver", 1, 3, 6))
    # Month 3 is the stop day itself: not planned.
    assert dues(plan(items, start=date(2024, 1, 15), stop=date(2024, 4, 15)), "lft") == [
        date(2024, 2, 15)
    ]


def test_at_months_beyond_the_horizon_are_not_planned():
    checks = plan(protocol(at("lft", "liver", 1, 3, 6), horizon=4), start=date(2024, 1, 15))
    assert dues(checks, "lft") == [date(2024, 2, 15), date(2024, 4, 15)]


# --- Before starting ------------------------------------------------------------------------


def test_before_start_is_due_at_the_start_with_its_window_before():
    # Natalizumab's MRI within 3 months before starting.
    (check,) = plan(protocol(before("mri", "mri", 90)), start=date(2024, 3, 1))
    assert (check.kind, check.due, check.window_opens, check.overdue_after) == (
        BEFORE_START,
        date(2024, 3, 1),
        date(2023, 12, 2),
        date(2024, 3, 1),
    )
    assert check.month_offset == 0


# --- Doses ----------------------------------------------------------------------------------

NATALIZUMAB_DOSES = (
    Dose(number=1, day=date(2024, 1, 10), key="d1"),
    Dose(number=2, day=date(2024, 2, 7), key="d2"),
    Dose(number=3, day=date(2024, 3, 6), key="d3"),
)


def test_before_dose_is_due_on_every_dose_day():
    # Ocrelizumab's immunoglobulins before each infusion.
    checks = plan(
        protocol(before_dose("igs", "immunoglobulins", 30)),
        start=date(2024, 1, 10),
        doses=NATALIZUMAB_DOSES,
    )
    assert [(c.due, c.dose_key, c.month_offset) for c in checks] == [
        (date(2024, 1, 10), "d1", 0),
        (date(2024, 2, 7), "d2", 0),
        (date(2024, 3, 6), "d3", 0),
    ]
    assert checks[1].window_opens == date(2024, 1, 8)
    assert checks[1].overdue_after == date(2024, 2, 7)


def test_before_the_first_dose_only():
    checks = plan(
        protocol(before_dose("igs", "immunoglobulins", 30, first_only=True)),
        start=date(2024, 1, 10),
        # Given out of order: the first dose is the earliest.
        doses=tuple(reversed(NATALIZUMAB_DOSES)),
    )
    assert [(c.due, c.dose_key) for c in checks] == [(date(2024, 1, 10), "d1")]


def test_no_dose_no_dose_checks():
    items = protocol(
        before_dose("cbc-pre", "blood_count", 30),
        at("cbc", "blood_count", 2, 6, kind=AFTER_DOSE),
    )
    assert plan(items, start=date(2024, 1, 10)) == ()


CLADRIBINE = protocol(
    before_dose("cbc-pre", "blood_count", 30),
    at("cbc-after", "blood_count", 2, 6, kind=AFTER_DOSE),
)
TREATMENT_YEARS = (
    Dose(number=1, day=date(2024, 1, 31), key="year1"),
    Dose(number=2, day=date(2025, 1, 31), key="year2"),
)


def test_after_dose_months_follow_each_dose():
    checks = plan(CLADRIBINE, start=date(2024, 1, 31), doses=TREATMENT_YEARS)
    after = [(c.due, c.dose_key, c.month_offset) for c in checks if c.item_key == "cbc-after"]
    assert after == [
        (date(2024, 3, 31), "year1", 2),
        (date(2024, 7, 31), "year1", 6),
        (date(2025, 3, 31), "year2", 2),
        (date(2025, 7, 31), "year2", 6),
    ]
    assert dues(checks, "cbc-pre") == [date(2024, 1, 31), date(2025, 1, 31)]


def test_after_dose_checks_are_kept_after_a_stop():
    # Stopped a month after year 1: its lymphocyte counts at 2 and 6 months still stand.
    checks = plan(
        CLADRIBINE, start=date(2024, 1, 31), stop=date(2024, 2, 29), doses=TREATMENT_YEARS[:1]
    )
    assert dues(checks, "cbc-after") == [date(2024, 3, 31), date(2024, 7, 31)]


# --- After stopping -------------------------------------------------------------------------


def test_after_stop_months_from_the_stop_day():
    # Natalizumab's MRI 3 and 6 months after stopping.
    items = protocol(at("mri-after", "mri", 3, 6, window=YEARLY, kind=AFTER_STOP))
    checks = plan(items, start=date(2023, 1, 10), stop=date(2024, 8, 31))
    assert [(c.due, c.month_offset, c.kind) for c in checks] == [
        (date(2024, 11, 30), 3, AFTER_STOP),
        (date(2025, 2, 28), 6, AFTER_STOP),
    ]
    assert checks[0].window_opens == date(2024, 10, 31)


def test_after_stop_nothing_while_running():
    items = protocol(at("mri-after", "mri", 3, 6, kind=AFTER_STOP))
    assert plan(items, start=date(2023, 1, 10)) == ()


# --- Month ends and leap years --------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2028, 1, 31), [date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30)]),
        (date(2027, 1, 31), [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]),
    ],
    ids=["leap year", "common year"],
)
def test_months_from_the_31st_clamp_to_the_month_end_and_never_drift(start, expected):
    checks = plan(protocol(every("alt", "liver", 1), horizon=3), start=start)
    assert dues(checks, "alt") == expected


def test_a_start_on_29_february_falls_on_28_february_until_the_next_leap_year():
    checks = plan(
        protocol(every("tsh", "thyroid", 12, window=YEARLY), horizon=48), start=date(2028, 2, 29)
    )
    assert dues(checks, "tsh") == [
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
    ]


def test_after_stop_from_a_month_end():
    items = protocol(at("cbc-after", "blood_count", 1, 3, kind=AFTER_STOP))
    checks = plan(items, start=date(2027, 6, 1), stop=date(2028, 1, 31))
    assert dues(checks, "cbc-after") == [date(2028, 2, 29), date(2028, 4, 30)]


def test_stopped_on_the_start_day():
    items = protocol(
        before("cbc-pre", "blood_count", 30),
        at("lft-early", "liver", 1, 3),
        every("cbc", "blood_count", 6),
        at("cbc-after", "blood_count", 3, kind=AFTER_STOP),
    )
    checks = plan(items, start=date(2024, 5, 31), stop=date(2024, 5, 31))
    assert [(c.item_key, c.due) for c in checks] == [
        ("cbc-pre", date(2024, 5, 31)),
        ("cbc-after", date(2024, 8, 31)),
    ]


def test_items_for_one_sex_only():
    item = ProtocolItem(
        key="men-only",
        panel="blood_count",
        kind=BEFORE_START,
        interval_months=None,
        window_before_days=30,
        grace_after_days=0,
        applies_to_sex="M",
    )
    assert plan(protocol(item), start=date(2024, 1, 1)) == ()  # plan() plans for sex F


# --- Planning errors ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [AT_MONTHS, AFTER_DOSE, AFTER_STOP])
def test_an_item_without_its_months_is_refused(kind):
    item = at("no-months", "liver", kind=kind)
    dose = Dose(number=1, day=date(2024, 1, 1), key="d1")
    with pytest.raises(PlanningError, match=r"'no-months'.*needs the months"):
        plan(protocol(item), start=date(2024, 1, 1), stop=date(2024, 6, 1), doses=[dose])


@pytest.mark.parametrize("interval", [None, 0])
def test_an_on_therapy_item_without_an_interval_is_refused(interval):
    item = every("no-interval", "liver", interval)
    with pytest.raises(PlanningError, match=r"'no-interval'.*interval of at least one month"):
        plan(protocol(item), start=date(2024, 1, 1))


def test_an_episode_cannot_stop_before_it_starts():
    with pytest.raises(PlanningError, match="stop before it starts"):
        plan(
            protocol(every("cbc", "blood_count", 6)), start=date(2024, 5, 2), stop=date(2024, 5, 1)
        )


@pytest.mark.parametrize("kind", [RECURRING, PRE_COURSE, AFTER_END])
def test_an_alemtuzumab_kind_in_an_episode_protocol_is_refused(kind):
    item = ProtocolItem(
        key="alem",
        panel="blood_count",
        kind=kind,
        interval_months=1,
        window_before_days=7,
        grace_after_days=7,
    )
    with pytest.raises(PlanningError, match="not a shape of a therapy episode"):
        plan(protocol(item), start=date(2024, 1, 1))


# --- Shared visits --------------------------------------------------------------------------


def check(key, panel, due, *, episode="alemtuzumab", before=7, after=7, month=1):
    return PlannedCheck(
        item_key=key,
        panel=panel,
        kind=RECURRING if episode == "alemtuzumab" else ON_THERAPY,
        due=due,
        window_opens=due - timedelta(days=before),
        overdue_after=due + timedelta(days=after),
        month_offset=month,
        episode_key=None if episode == "alemtuzumab" else episode,
    )


HOST = check("alem-cbc", "blood_count", date(2025, 3, 15))


def shared(plans, **options):
    """share_visits' result, each plan's checks apart (by their episode key)."""
    result = share_visits(plans, **options)
    assert len(result) == sum(len(p) for p in plans)  # nothing dropped or added
    return result


@pytest.mark.parametrize("days", [7, -7, 3, 0])
def test_within_seven_days_a_later_check_takes_the_hosts_dates(days):
    guest = check(
        "nat-cbc",
        "blood_count",
        HOST.due + timedelta(days=days),
        episode="nat",
        before=14,
        after=14,
    )
    host, moved = shared([[HOST], [guest]])
    assert host == HOST
    assert (moved.due, moved.window_opens, moved.overdue_after, moved.shares_visit) == (
        HOST.due,
        HOST.window_opens,
        HOST.overdue_after,
        True,
    )
    # It stays its own check (its own slot), only on the host's visit.
    assert moved.slot == guest.slot


@pytest.mark.parametrize("days", [8, -8])
def test_eight_days_apart_are_two_visits(days):
    guest = check("nat-cbc", "blood_count", HOST.due + timedelta(days=days), episode="nat")
    assert shared([[HOST], [guest]]) == [HOST, guest]


def test_an_earlier_plan_never_moves():
    guest = check("nat-cbc", "blood_count", date(2025, 3, 12), episode="nat")
    # In the other order of precedence the natalizumab check is the host and stays.
    moved_host, moved = shared([[guest], [HOST]])
    assert moved_host == guest
    assert moved.due == guest.due and moved.shares_visit
    # Within its own plan, two checks near each other are never merged.
    again = check("alem-cbc", "blood_count", date(2025, 3, 18), month=2)
    assert shared([[HOST, again]]) == [HOST, again]


def test_a_taken_host_does_not_host():
    guest = check("nat-cbc", "blood_count", date(2025, 3, 17), episode="nat")
    # The host was done (or waived, or cancelled): its draw happened, or will not.
    assert shared([[HOST], [guest]], taken={HOST.slot}) == [HOST, guest]


def test_a_host_takes_one_check_of_each_later_plan():
    first = check("nat-cbc", "blood_count", date(2025, 3, 13), episode="nat", month=6)
    second = check("nat-pre", "blood_count", date(2025, 3, 19), episode="nat", month=0)
    _, moved, stayed = shared([[HOST], [first, second]])
    assert moved.due == HOST.due and moved.shares_visit
    assert stayed == second


def test_three_plans():
    nat = check("nat-cbc", "blood_count", date(2025, 3, 18), episode="nat")
    nat_later = check("nat-cbc", "blood_count", date(2025, 9, 18), episode="nat", month=12)
    dmf = check("dmf-cbc", "blood_count", date(2025, 3, 21), episode="dmf")
    dmf_later = check("dmf-cbc", "blood_count", date(2025, 9, 13), episode="dmf", month=9)
    host, nat_moved, nat_own, dmf_moved, dmf_on_nat = shared(
        [[HOST], [nat, nat_later], [dmf, dmf_later]]
    )
    assert host == HOST
    # Both later plans join alemtuzumab's check (one each); a check that moved hosts nothing,
    # so dmf's is measured against the host, 6 days away, not natalizumab's moved one.
    assert nat_moved.due == dmf_moved.due == HOST.due
    assert nat_moved.shares_visit and dmf_moved.shares_visit
    # Natalizumab's own check, with no earlier one near, hosts dimethyl fumarate's.
    assert nat_own == nat_later
    assert (dmf_on_nat.due, dmf_on_nat.window_opens, dmf_on_nat.shares_visit) == (
        nat_later.due,
        nat_later.window_opens,
        True,
    )


def test_a_check_moved_onto_a_host_is_no_host_itself():
    # dmf's check is 3 days from natalizumab's moved check but 9 from where it now sits.
    nat = check("nat-cbc", "blood_count", date(2025, 3, 21), episode="nat")
    dmf = check("dmf-cbc", "blood_count", date(2025, 3, 24), episode="dmf")
    _, nat_moved, dmf_after = shared([[HOST], [nat], [dmf]])
    assert nat_moved.shares_visit
    assert dmf_after == dmf


def test_the_nearest_host_is_chosen():
    near = check("alem-cbc", "blood_count", date(2025, 3, 20), month=2)
    guest = check("nat-cbc", "blood_count", date(2025, 3, 19), episode="nat")
    *_, moved = shared([[HOST, near], [guest]])
    assert moved.due == near.due


def test_different_panels_never_join():
    liver = check("nat-lft", "liver", HOST.due, episode="nat")
    assert shared([[HOST], [liver]]) == [HOST, liver]
