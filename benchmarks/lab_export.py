"""Benchmark data: many two-course patients with their stored schedules, written in bulk
(PostgreSQL COPY where available) so a 10,000-patient data set takes about a minute, not the
several minutes one reconcile per patient would. For scratch databases only."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from monitoring.domain import planning
from monitoring.models import MonitoringProtocol, ScheduledCheck
from monitoring.schedule.services import NEW_FIELDS
from patients.models import Clinic, InfusionCourse, Patient

# Checks that closed more than this long ago are completed; the rest of the past is overdue,
# so every patient has a few overdue checks, as in a real clinic on a bad month.
COMPLETED_BEFORE_DAYS = 45


def bench_clinic_populate(*, count: int, today: date) -> tuple[Clinic, list[Patient]]:
    clinic = Clinic.objects.create(
        name="Benchmark clinic", code=f"bench-{timezone.now():%Y%m%d%H%M%S%f}"[:32]
    )
    protocol = MonitoringProtocol.objects.get(is_default=True)
    people = Patient.objects.bulk_create(
        (
            Patient(
                clinic=clinic,
                hospital_number=f"B{n:07d}",
                given_name=f"Given{n}",
                family_name=f"Family{n:05d}",
                date_of_birth=date(1975, 1, 1) + timedelta(days=n % 9000),
                sex="F" if n % 3 else "M",
                protocol=protocol,
            )
            for n in range(count)
        ),
        batch_size=5000,
    )
    courses = []
    for n, patient in enumerate(people):
        first = today - timedelta(days=200 + n % 1900)
        courses.append(bench_course(patient, 1, first, 5))
        courses.append(bench_course(patient, 2, first + timedelta(days=370), 3))
    InfusionCourse.objects.bulk_create(courses, batch_size=5000)
    _store_schedules(people, courses, protocol, today)
    return clinic, people


def bench_course(patient: Patient, number: int, first_day: date, days: int) -> InfusionCourse:
    """A given 12 mg/day course, unsaved, for bulk creation."""
    return InfusionCourse(
        patient=patient,
        number=number,
        first_infusion_date=first_day,
        days=days,
        daily_dose_mg=Decimal(12),
        status=InfusionCourse.Status.GIVEN,
    )


# The columns a stored check is written with, as the app's own schedule storage writes them.
COLUMNS = NEW_FIELDS


def _store_schedules(people, courses, protocol, today) -> None:
    plan_protocol = protocol.as_plan_protocol()
    by_patient: dict[int, list[planning.Course]] = {}
    for course in courses:
        by_patient.setdefault(course.patient_id, []).append(
            planning.Course(
                number=course.number,
                first_day=course.first_infusion_date,
                days=course.days,
                key=course.pk,
            )
        )
    now = timezone.now()
    done_before = today - timedelta(days=COMPLETED_BEFORE_DAYS)
    rows = (
        (
            patient.pk,
            check.item_key,
            check.panel,
            check.kind,
            check.month_offset,
            check.course_key if check.kind == planning.PRE_COURSE else None,
            check.due,
            check.window_opens,
            check.overdue_after,
            check.due if check.overdue_after < done_before else None,
            "",
            "",
            now,
            now,
        )
        for patient in people
        for check in planning.plan_schedule(
            courses=by_patient[patient.pk], protocol=plan_protocol, sex=patient.sex
        ).checks
    )
    if connection.vendor == "postgresql":
        _copy(rows)
        # Fresh statistics, as autovacuum would gather soon after a real bulk load; without
        # them the planner guesses from an empty table.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        ScheduledCheck.objects.bulk_create(
            (ScheduledCheck(**dict(zip(COLUMNS, row, strict=True))) for row in rows),
            batch_size=2000,
        )


def _copy(rows) -> None:
    table = ScheduledCheck._meta.db_table
    with connection.cursor() as cursor:
        copy_sql = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)


def csv_of_results(patients: list[Patient], *, rows: int, start: date) -> bytes:
    """A lab export of `rows` results: a full blood count and creatinine each month for as many
    patients as it takes, with a realistic few abnormal platelet counts."""
    per_sample = [
        ("platelets", "10^9/L"),
        ("wbc", "10^9/L"),
        ("neutrophils", "10^9/L"),
        ("lymphocytes", "10^9/L"),
        ("haemoglobin", "g/L"),
        ("creatinine", "umol/L"),
    ]
    values = {
        "platelets": "230",
        "wbc": "6.1",
        "neutrophils": "3.9",
        "lymphocytes": "1.5",
        "haemoglobin": "136",
        "creatinine": "74",
    }
    out = io.StringIO()
    out.write("hospital_number,sample_date,analyte,value,unit\n")
    written = 0
    months = 0
    while written < rows:
        for n, patient in enumerate(patients):
            day = start + timedelta(days=30 * months)
            for code, unit in per_sample:
                value = "88" if code == "platelets" and n % 50 == 7 else values[code]
                out.write(f"{patient.hospital_number},{day:%Y-%m-%d},{code},{value},{unit}\n")
                written += 1
                if written >= rows:
                    return out.getvalue().encode()
        months += 1
    return out.getvalue().encode()
