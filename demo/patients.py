"""Realistic demo data for a newcomer's first look: one clinic, its people, and patients at
every stage of monitoring. Dates are relative to the clinic's today, so the demo never ages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.text import slugify

from accounts.roles import Role, grant_role
from demo.devices import demo_device_ensure
from demo.results import demo_results_record
from monitoring.alerts.services import result_acknowledge
from monitoring.models import ACKNOWLEDGE_TIERS, Acknowledgement, LabResult, ScheduledCheck
from patients.course_rules import earliest_start
from patients.models import Clinic, InfusionCourse, Patient
from patients.services import course_add, patient_create, patient_update

DEMO_CLINIC_CODE = "demo"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    roles: tuple[Role, ...] = ()


LOGINS = [
    DemoLogin("admin", "demo-admin-password", "superuser (everything)"),
    DemoLogin(
        "lead",
        "demo-lead-password",
        "clinic lead (everything below, protocols, flag rules, audit trail)",
        (Role.CLINIC_LEAD,),
    ),
    DemoLogin(
        "staff",
        "demo-staff-password",
        "clinic staff (patients, courses, results)",
        (Role.CLINIC_STAFF,),
    ),
    DemoLogin(
        "nurse",
        "demo-nurse-password",
        "nurse (worklist; Elena Rossi's named nurse)",
        (Role.NURSE,),
    ),
    DemoLogin(
        "nurse2",
        "demo-nurse2-password",
        "nurse (worklist; Farid Haddad's named nurse)",
        (Role.NURSE,),
    ),
]
# Elena Rossi's own portal sign-in: a patient, so no second factor and no staff access.
PORTAL_LOGIN = DemoLogin(
    "patient",
    "demo-patient-password",
    "patient portal (Elena Rossi's own tests, results, symptom report)",
    (Role.PATIENT,),
)
PORTAL_PATIENT = ("Elena", "Rossi")
TEST_INSTRUCTIONS = (
    "Blood and urine tests: the blood test clinic, ground floor of Demo Hospital, Monday to "
    "Friday 8:00 to 16:00, no appointment needed. Bring your blood test form. Skin checks and "
    "cervical screening: the clinic books these with you."
)
# The clinic's nurse group; with a named nurse, a patient's alerts go to that nurse alone.
NURSES = ("nurse", "nurse2")
# How far back results go: enough for a short trend, and for the latest quarterly thyroid test.
# Older checks are marked done on their due date instead. Recording a report takes tens of
# milliseconds: five years of them for 30 patients would take many minutes, and even a year
# each takes most of a minute.
RESULT_MONTHS = 4


class Stage(StrEnum):
    """Where a demo patient is in the treatment: how `manage.py demo_data` groups them."""

    COURSE_ONE_PLANNED = "Course 1 planned"
    BETWEEN_COURSES = "Between courses 1 and 2"
    AFTER_COURSE_TWO = "After course 2"
    COURSE_THREE = "Course 3 given or planned"
    DEEP_FOLLOW_UP = "Deep in follow-up (2-3 years after the last course)"
    LATE_FOLLOW_UP = "Late follow-up (over 3 years after the last course)"
    COMPLETE = "Monitoring complete"


@dataclass(frozen=True)
class DemoPatient:
    # Kept for good: a later load recognises a patient already there by this number alone.
    number: int
    given: str
    family: str
    sex: str
    born: date
    stage: Stage
    # Months since course 1's first infusion; negative when course 1 is planned that far ahead.
    course_one: int
    # One entry per later course: months after the earliest start the label allows. A course
    # whose first day is still ahead is recorded as planned.
    later_courses: tuple[int, ...] = ()
    # Values on the latest sample of their panel (analyte code -> value as the lab sends it).
    abnormal: Mapping[str, str] = field(default_factory=dict)
    # A nurse has already acknowledged the abnormal results; otherwise they wait in the worklist.
    acknowledged: bool = False
    # No result for the checks due in this many days before today, so they show as overdue.
    overdue_days: int = 0
    named_nurse: str = ""

    @property
    def hospital_number(self) -> str:
        return f"DEMO{self.number:04d}"

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"

    def attention(self) -> str:
        """What a nurse would act on, in a few words; empty when nothing."""
        parts = [", ".join(f"{ANALYTE_NAMES[code]} {v}" for code, v in self.abnormal.items())]
        if self.abnormal:
            parts[0] += " (acknowledged)" if self.acknowledged else " (not acknowledged)"
        if self.overdue_days:
            parts.append(f"no tests for {self.overdue_days} days")
        return "; ".join(part for part in parts if part)


ANALYTE_NAMES = {
    "platelets": "platelets",
    "neutrophils": "neutrophils",
    "tsh": "TSH",
    "free_t4": "free T4",
    "alt": "ALT",
    "creatinine": "creatinine",
    "urine_blood": "urine blood",
    "urine_protein": "urine protein",
}
S = Stage
# fmt: off
# Numbers 1 to 8 are the first demo's patients; a database loaded by it gets the others added.
PATIENTS = [
    DemoPatient(1, "Amara", "Okafor", "F", date(1990, 3, 14), S.COURSE_ONE_PLANNED, -1),
    DemoPatient(9, "Mateo", "Fernández", "M", date(1994, 10, 5), S.COURSE_ONE_PLANNED, -2),
    DemoPatient(10, "Ioana", "Popescu", "F", date(1999, 6, 23), S.COURSE_ONE_PLANNED, -1),
    DemoPatient(2, "Ben", "Hughes", "M", date(1984, 11, 2), S.BETWEEN_COURSES, 4),
    DemoPatient(3, "Chloe", "Martin", "F", date(1992, 7, 21), S.BETWEEN_COURSES, 11),
    # The expected platelet dip in the two months after an infusion: flagged, and said so.
    DemoPatient(
        11, "Aoife", "Byrne", "F", date(1995, 4, 8), S.BETWEEN_COURSES, 2,
        abnormal={"platelets": "128"},
    ),
    DemoPatient(
        12, "Kwame", "Mensah", "M", date(1989, 12, 30), S.BETWEEN_COURSES, 3,
        abnormal={"neutrophils": "0.8"},
    ),
    DemoPatient(13, "Sofia", "Lindqvist", "F", date(1993, 9, 14), S.BETWEEN_COURSES, 7),
    DemoPatient(
        14, "Yusuf", "Demir", "M", date(1987, 3, 3), S.BETWEEN_COURSES, 9,
        abnormal={"tsh": "5.6"}, acknowledged=True,
    ),
    DemoPatient(15, "Marta", "Nowak", "F", date(1991, 1, 27), S.BETWEEN_COURSES, 11, (0,)),
    DemoPatient(
        4, "Daniel", "Kowalski", "M", date(1979, 1, 9), S.AFTER_COURSE_TWO, 20, (0,),
        abnormal={"urine_blood": "1+", "urine_protein": "1+"},
    ),
    DemoPatient(
        6, "Farid", "Haddad", "M", date(1986, 9, 17), S.AFTER_COURSE_TWO, 30, (1,),
        abnormal={"tsh": "0.05", "free_t4": "31"}, named_nurse="nurse2",
    ),
    DemoPatient(16, "Priya", "Sharma", "F", date(1990, 5, 16), S.AFTER_COURSE_TWO, 14, (0,)),
    DemoPatient(
        17, "Jonas", "Becker", "M", date(1982, 7, 7), S.AFTER_COURSE_TWO, 26, (0,),
        overdue_days=45,
    ),
    DemoPatient(
        18, "Lucía", "Navarro", "F", date(1985, 11, 11), S.AFTER_COURSE_TWO, 33, (0,),
        abnormal={"alt": "140"},
    ),
    DemoPatient(
        19, "Niamh", "Gallagher", "F", date(1994, 2, 22), S.AFTER_COURSE_TWO, 24, (0,),
        abnormal={"platelets": "88"}, acknowledged=True,
    ),
    DemoPatient(
        20, "Ahmed", "Rahman", "M", date(1981, 6, 18), S.COURSE_THREE, 40, (0, 2),
        abnormal={"tsh": "12.4"},
    ),
    DemoPatient(21, "Camille", "Dubois", "F", date(1986, 10, 2), S.COURSE_THREE, 30, (0, 0)),
    DemoPatient(22, "Anna", "Schmidt", "F", date(1978, 3, 29), S.COURSE_THREE, 23, (0, 0)),
    DemoPatient(
        23, "Nikos", "Papadopoulos", "M", date(1980, 8, 12), S.COURSE_THREE, 62, (1, 3)
    ),
    DemoPatient(
        5, "Elena", "Rossi", "F", date(1988, 5, 30), S.DEEP_FOLLOW_UP, 38, (0,),
        abnormal={"platelets": "45"}, overdue_days=60, named_nurse="nurse",
    ),
    DemoPatient(
        24, "Tomás", "Silva", "M", date(1984, 1, 15), S.DEEP_FOLLOW_UP, 37, (0,),
        abnormal={"creatinine": "118", "urine_blood": "1+"},
    ),
    DemoPatient(
        25, "Fatima", "Benali", "F", date(1983, 5, 9), S.DEEP_FOLLOW_UP, 44, (0,),
        overdue_days=120,
    ),
    DemoPatient(7, "Grace", "O'Neill", "F", date(1975, 12, 3), S.LATE_FOLLOW_UP, 52, (0,)),
    DemoPatient(
        26, "Ingrid", "Johansson", "F", date(1972, 12, 8), S.LATE_FOLLOW_UP, 58, (0,),
        abnormal={"platelets": "132"}, acknowledged=True,
    ),
    DemoPatient(
        27, "Emre", "Kaya", "M", date(1977, 4, 14), S.LATE_FOLLOW_UP, 67, (0,),
        overdue_days=40,
    ),
    DemoPatient(
        28, "Katarzyna", "Zielińska", "F", date(1974, 2, 17), S.LATE_FOLLOW_UP, 69, (0,)
    ),
    DemoPatient(8, "Hiro", "Tanaka", "M", date(1983, 4, 25), S.COMPLETE, 75, (0,)),
    DemoPatient(29, "Hannah", "Cohen", "F", date(1973, 6, 6), S.COMPLETE, 86, (0,)),
    DemoPatient(30, "Pierre", "Lefebvre", "M", date(1970, 11, 25), S.COMPLETE, 100, (0, 1)),
]
# fmt: on


def patients_by_stage() -> dict[Stage, list[DemoPatient]]:
    return {stage: [row for row in PATIENTS if row.stage == stage] for stage in Stage}


def demo_load(*, today: date | None = None) -> tuple[Clinic, bool]:
    """Load the demo once: True when this call added anything, False when it changed nothing."""
    clinic, added = demo_populate(today=today)
    return clinic, bool(added)


def demo_populate(*, today: date | None = None) -> tuple[Clinic, list[DemoPatient]]:
    """Add what the demo is missing and return the patients added. Patients already there
    (by hospital number) are never touched, so a second call changes nothing and a database
    loaded by an older, smaller demo gets only the new patients."""
    with transaction.atomic():
        clinic, _ = Clinic.objects.get_or_create(
            code=DEMO_CLINIC_CODE,
            defaults={"name": "Demo MS Centre", "time_zone": "Europe/London"},
        )
        _users(clinic)
    today = today or clinic.today()
    present = set(clinic.patients.values_list("hospital_number", flat=True))
    added = [row for row in PATIENTS if row.hospital_number not in present]
    for row in added:
        # One transaction each: a load stopped half-way resumes with the next patient.
        with transaction.atomic():
            _patient(clinic, row, today)
    # Also on a demo loaded before the portal existed; changes nothing once done.
    _portal(clinic)
    return clinic, added


def _portal(clinic: Clinic) -> None:
    if not clinic.test_instructions:
        clinic.test_instructions = TEST_INSTRUCTIONS
        clinic.save(update_fields=["test_instructions"])
    given, family = PORTAL_PATIENT
    patient = Patient.objects.filter(clinic=clinic, given_name=given, family_name=family).first()
    if patient is None or patient.user_id is not None:
        return
    user, created = get_user_model().objects.get_or_create(
        username=PORTAL_LOGIN.username,
        defaults={"email": patient.email, "first_name": given, "last_name": family},
    )
    if created:
        user.set_password(PORTAL_LOGIN.password)
        user.save()
    grant_role(user, *PORTAL_LOGIN.roles)
    patient.user = user
    patient._change_reason = "Demo: portal account for the patient."
    patient.save(update_fields=["user", "updated_at"])


def _users(clinic: Clinic) -> None:
    User = get_user_model()
    for login in LOGINS:
        user, created = User.objects.get_or_create(
            username=login.username, defaults={"email": f"{login.username}@demo.invalid"}
        )
        if created:
            # The admin site is for the superuser and the lead (protocols, flag rules).
            user.is_staff = login.username in ("admin", "lead")
            user.is_superuser = login.username == "admin"
            user.set_password(login.password)
            user.save()
        grant_role(user, *login.roles)
        if login.roles or user.is_superuser:
            demo_device_ensure(user)
        if login.username != "admin":
            clinic.staff.add(user)
        if login.username in NURSES:
            clinic.nurses.add(user)
        if login.username == "lead" and clinic.lead_id is None:
            clinic.lead = user
            clinic.save(update_fields=["lead"])


def _patient(clinic: Clinic, row: DemoPatient, today: date) -> None:
    User = get_user_model()
    patient = patient_create(
        clinic=clinic,
        hospital_number=row.hospital_number,
        given_name=row.given,
        family_name=row.family,
        date_of_birth=row.born,
        sex=row.sex,
        email=f"{slugify(row.given)}.{slugify(row.family)}@demo.invalid",
        # Named before any result is recorded, so the demo's alerts go to that nurse.
        named_nurse=User.objects.get(username=row.named_nurse) if row.named_nurse else None,
        # The demo clinic has tracked each patient since before course 1: its overdue checks
        # are work, as they would be in a clinic that has used the tracker all along.
        tracked_from=today - relativedelta(months=max(row.course_one, 0) + 2),
    )
    _courses(patient, row, today)
    # Results stop where an overdue patient's gap begins, or where a finished schedule ended.
    open_from = today - timedelta(days=row.overdue_days)
    last_due = patient.scheduled_checks.active().aggregate(last=Max("due_date"))["last"]
    until = min(open_from, last_due + timedelta(days=1)) if last_due else open_from
    since = until - relativedelta(months=RESULT_MONTHS)
    # The older checks first: each result recorded then looks through fewer open checks.
    _mark_done(patient, before=since)
    # A trend where a result is abnormal; the latest results alone for the others, which keeps
    # the load quick.
    demo_results_record(
        patient, since=since, until=until, abnormal=row.abnormal, latest_only=not row.abnormal
    )
    _mark_done(patient, before=open_from)
    if row.acknowledged:
        _acknowledge(patient, User.objects.get(username=row.named_nurse or "nurse"))
    if row.course_one > 0 and not patient.scheduled_checks.active().filter(due_date__gte=today):
        patient_update(
            patient=patient,
            reason="Demo: the follow-up after the last course has ended.",
            status=Patient.Status.MONITORING_COMPLETE,
        )


def _mark_done(patient: Patient, *, before: date) -> None:
    """Mark the open checks overdue before `before` done on their due date, without a result:
    the demo's stand-in for years of history that would take minutes to record."""
    # pending(), not open(): the checks sharing a visit are done with their host.
    ScheduledCheck.objects.pending().filter(
        patient=patient, before_tracking=False, overdue_after__lt=before
    ).update(completed_on=F("due_date"))


def _courses(patient: Patient, row: DemoPatient, today: date) -> None:
    # Spread over the month (0 to 27 days earlier), so the patients' checks do not all fall due
    # on the same day of the month as today. Planned courses stay in the future.
    first_day = today - relativedelta(months=row.course_one, days=row.number * 11 % 28)
    course = _course(patient, first_day, today)
    for months_late in row.later_courses:
        # A few days past the earliest allowed start, so month-end rounding never breaks it.
        earliest = earliest_start(course.number + 1, course.facts())
        course = _course(patient, earliest + relativedelta(months=months_late, days=3), today)


def _course(patient: Patient, first_day: date, today: date) -> InfusionCourse:
    given = first_day <= today
    return course_add(
        patient=patient,
        first_infusion_date=first_day,
        daily_dose_mg=Decimal(12),
        status=InfusionCourse.Status.GIVEN if given else InfusionCourse.Status.PLANNED,
        # The demo loads results for recent months only, so a course given years ago has no
        # baseline results to show: the demo nurse says so, as the pre-infusion checklist asks.
        baseline_override_reason=DEMO_BASELINES if given else "",
        recorded_by=get_user_model().objects.get(username="nurse") if given else None,
    )


DEMO_BASELINES = "Demo: the baselines were done before this course; their results are not loaded."


def _acknowledge(patient: Patient, nurse) -> None:
    flagged = LabResult.objects.current().filter(patient=patient, tier__in=ACKNOWLEDGE_TIERS)
    for result in flagged:
        result_acknowledge(
            result=result,
            action=Acknowledgement.Action.CALLED_PATIENT,
            note="Demo: called the patient, no symptoms; repeat test booked for next week.",
            acknowledged_by=nurse,
            now=timezone.now(),
        )
