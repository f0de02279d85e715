"""The pure planning function, without a database (clinical-rules.md section 2)."""

from collections import Counter
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta

from monitoring.domain.planning import (
    PRE_COURSE,
    RECURRING,
    Course,
    PlanningError,
    Protocol,
    ProtocolItem,
    add_months,
    plan_schedule,
)


def recurring(panel, months, window, **extra):
    return ProtocolItem(
        key=f"{panel}-{months}",
        panel=panel,
        kind=RECURRING,
        interval_months=months,
        window_before_days=window,
        grace_after_days=window,
        **extra,
    )


def pre_course(panel, **extra):
    return ProtocolItem(
        key=f"pre-{panel}",
        panel=panel,
        kind=PRE_COURSE,
        interval_months=None,
        window_before_days=30,
        grace_after_days=0,
        **extra,
    )


ITEMS = (
    recurring("blood_count", 1, 7),
    recurring("thyroid", 3, 14),
    recurring("skin", 12, 30, from_baseline=True),
    recurring("cervical", 12, 30, from_baseline=True, applies_to_sex="F"),
    pre_course("blood_count"),
    pre_course("infection_screen", first_course_only=True),
)
FIVE_YEARS = Protocol(follow_up_months=60, items=ITEMS)
LABEL = Protocol(follow_up_months=48, items=ITEMS)

COURSE_1 = Course(number=1, first_day=date(2024, 1, 31), days=5, key="c1")
COURSE_2 = Course(number=2, first_day=date(2025, 1, 31), days=3, key="c2")


def dues(plan, panel, kind=RECURRING):
    return [c.due for c in plan.checks if c.panel == panel and c.kind == kind]


def test_monthly_checks_from_the_31st_follow_month_ends_without_drifting():
    plan = plan_schedule(courses=[COURSE_1], protocol=FIVE_YEARS, sex="F")
    assert dues(plan, "blood_count")[:5] == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
        date(2024, 6, 30),
    ]


def test_leap_day_falls_back_to_28_february_in_ordinary_years():
    course = Course(number=1, first_day=date(2024, 2, 29), days=5)
    plan = plan_schedule(courses=[course], protocol=FIVE_YEARS, sex="M")
    blood = dues(plan, "blood_count")
    assert date(2025, 2, 28) in blood
    assert date(2028, 2, 29) in blood  # the next leap year keeps the 29th
    assert blood[:2] == [date(2024, 3, 29), date(2024, 4, 29)]


def test_windows_open_before_and_close_after_the_due_date():
    plan = plan_schedule(courses=[COURSE_1], protocol=FIVE_YEARS, sex="F")
    first_blood = next(c for c in plan.checks if c.panel == "blood_count" and c.kind == RECURRING)
    assert first_blood.window_opens == date(2024, 2, 22)
    assert first_blood.overdue_after == date(2024, 3, 7)
    first_thyroid = next(c for c in plan.checks if c.panel == "thyroid")
    assert (first_thyroid.window_opens, first_thyroid.due, first_thyroid.overdue_after) == (
        date(2024, 4, 16),
        date(2024, 4, 30),
        date(2024, 5, 14),
    )


def test_one_course_ends_follow_up_sixty_months_after_its_last_infusion():
    plan = plan_schedule(courses=[COURSE_1], protocol=FIVE_YEARS, sex="F")
    assert plan.end_of_follow_up == date(2029, 2, 4)
    assert dues(plan, "blood_count")[-1] == date(2029, 1, 31)
    assert len(dues(plan, "blood_count")) == 60


def test_course_two_moves_end_of_follow_up_to_sixty_months_after_its_last_infusion():
    plan = plan_schedule(courses=[COURSE_1, COURSE_2], protocol=FIVE_YEARS, sex="F")
    assert plan.end_of_follow_up == date(2030, 2, 2)
    assert dues(plan, "blood_count")[-1] == date(2030, 1, 31)
    assert len(dues(plan, "blood_count")) == 72


def test_label_protocol_ends_forty_eight_months_after_course_two():
    plan = plan_schedule(courses=[COURSE_1, COURSE_2], protocol=LABEL, sex="F")
    assert plan.end_of_follow_up == date(2029, 2, 2)
    assert dues(plan, "blood_count")[-1] == date(2029, 1, 31)


def test_quarterly_thyroid_checks_fall_on_every_third_month_from_the_anchor():
    plan = plan_schedule(courses=[COURSE_1, COURSE_2], protocol=FIVE_YEARS, sex="F")
    thyroid = dues(plan, "thyroid")
    assert thyroid[:5] == [
        date(2024, 4, 30),
        date(2024, 7, 31),
        date(2024, 10, 31),
        date(2025, 1, 31),
        date(2025, 4, 30),
    ]
    offsets = [c.month_offset for c in plan.checks if c.panel == "thyroid"]
    assert offsets == list(range(3, 73, 3))


def test_yearly_checks_start_at_baseline_and_cervical_only_for_women():
    women = plan_schedule(courses=[COURSE_1], protocol=FIVE_YEARS, sex="F")
    men = plan_schedule(courses=[COURSE_1], protocol=FIVE_YEARS, sex="M")
    assert dues(women, "skin") == [date(2024 + k, 1, 31) for k in range(6)]
    assert dues(women, "cervical") == dues(women, "skin")
    assert dues(men, "cervical") == []
    assert dues(men, "skin") == dues(women, "skin")


def test_pre_course_checks_for_each_course_and_infection_screen_before_course_one_only():
    plan = plan_schedule(courses=[COURSE_1, COURSE_2], protocol=FIVE_YEARS, sex="F")
    pre = [c for c in plan.checks if c.kind == PRE_COURSE]
    assert Counter(c.panel for c in pre) == {"blood_count": 2, "infection_screen": 1}
    before_two = next(c for c in pre if c.course_key == "c2")
    assert before_two.due == date(2025, 1, 31)
    assert before_two.window_opens == date(2025, 1, 1)
    assert before_two.overdue_after == date(2025, 1, 31)


def test_a_cancelled_course_left_out_plans_back_to_the_one_course_schedule():
    with_two = plan_schedule(courses=[COURSE_1, COURSE_2], protocol=FIVE_YEARS, sex="F")
    back = plan_schedule(courses=[COURSE_1], protocol=FIVE_YEARS, sex="F")
    only_one = plan_schedule(courses=[COURSE_1], protocol=FIVE_YEARS, sex="F")
    assert back == only_one
    assert len(with_two.checks) > len(back.checks)
    assert not [c for c in back.checks if c.course_key == "c2"]


def test_courses_are_ordered_by_date_whatever_order_they_come_in():
    forwards = plan_schedule(courses=[COURSE_1, COURSE_2], protocol=FIVE_YEARS, sex="F")
    backwards = plan_schedule(courses=[COURSE_2, COURSE_1], protocol=FIVE_YEARS, sex="F")
    assert forwards == backwards
    assert forwards.anchor == date(2024, 1, 31)


def test_no_courses_means_no_checks_and_no_end_of_follow_up():
    plan = plan_schedule(courses=[], protocol=FIVE_YEARS, sex="F")
    assert plan.checks == ()
    assert plan.end_of_follow_up is None


def test_checks_are_sorted_by_due_date_and_slots_are_unique():
    plan = plan_schedule(courses=[COURSE_1, COURSE_2], protocol=FIVE_YEARS, sex="F")
    assert [c.due for c in plan.checks] == sorted(c.due for c in plan.checks)
    assert len({c.slot for c in plan.checks}) == len(plan.checks)


def test_a_recurring_item_without_an_interval_is_refused():
    broken = Protocol(follow_up_months=60, items=(recurring("thyroid", 0, 14),))
    with pytest.raises(PlanningError, match="interval"):
        plan_schedule(courses=[COURSE_1], protocol=broken, sex="F")


def test_add_months_agrees_with_relativedelta_on_every_day_of_four_years():
    day = date(2023, 1, 1)
    while day < date(2027, 1, 1):
        for months in (0, 1, 3, 11, 12, 13, 59, 60, 61):
            assert add_months(day, months) == day + relativedelta(months=months), (day, months)
        day += timedelta(days=1)
