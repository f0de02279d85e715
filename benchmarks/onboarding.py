"""An onboarding file of a programme's patients at every stage, for `manage.py bench_onboarding`.

Patient n's course 1 is spread over the last nine years, so that some finished follow-up long
ago, most are in it, and one in twenty is booked for course 1 next month; course 2 follows
thirteen months later for four in five (if that is past), course 3 two years after course 2
for one in ten. One in three has a named nurse; one in four follows the label's 48 months.
"""

from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

HEADER = (
    "hospital_number,given_name,family_name,date_of_birth,sex,email,phone,named_nurse,"
    "protocol,course_1_first_day,course_1_days,course_1_dose_mg,course_2_first_day,"
    "course_2_days,course_2_dose_mg,course_3_first_day,course_3_days,course_3_dose_mg"
)


def onboarding_csv(*, patients: int, today: date, nurse: str, prefix: str = "ONB") -> bytes:
    lines = [HEADER]
    for n in range(patients):
        courses = _courses(n, today)
        cells = [
            f"{prefix}{n:06d}",
            f"Given{n:06d}",
            f"Family{n:06d}",
            date(1960 + n % 40, 1 + n % 12, 1 + n % 28).isoformat(),
            "F" if n % 3 else "M",
            f"patient{n}@example.org",
            f"+44 20 7946 {n % 10000:04d}",
            nurse if n % 3 == 0 else "",
            "label-48m" if n % 4 == 0 else "default-60m",
        ]
        for number in range(3):
            if number < len(courses):
                first_day, days = courses[number]
                cells += [first_day.isoformat(), str(days), "12"]
            else:
                cells += ["", "", ""]
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def _courses(n: int, today: date) -> list[tuple[date, int]]:
    if n % 20 == 0:
        return [(today + timedelta(days=30 + n % 20), 5)]  # booked for course 1
    first = today - timedelta(days=30 + (n * 7919) % (9 * 365))
    courses = [(first, 5)]
    second = first + relativedelta(months=13)
    if n % 5 and second < today:
        courses.append((second, 3))
        third = second + relativedelta(years=2)
        if n % 10 == 1 and third < today:
            courses.append((third, 3))
    return courses
