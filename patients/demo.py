"""Realistic demo data for a newcomer's first look: one clinic, its people, and patients at
every stage of monitoring. Dates are relative to the clinic's today, so the demo never ages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F

from accounts.demo_devices import demo_device_ensure
from accounts.roles import Role, grant_role
from monitoring.models import ScheduledCheck

from .demo_results import demo_results_record
from .models import Clinic, Patient
from .services import course_add, patient_create

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
NAMED_NURSES = {"Rossi": "nurse", "Haddad": "nurse2"}

# (given, family, sex, born, months since course 1 (negative: planned), months from course 1 to
# course 2 or None, what the patient shows)
PATIENTS = [
    ("Amara", "Okafor", "F", date(1990, 3, 14), -1, None, "course 1 planned next month"),
    ("Ben", "Hughes", "M", date(1984, 11, 2), 4, None, "early after course 1"),
    ("Chloe", "Martin", "F", date(1992, 7, 21), 11, None, "between courses"),
    ("Daniel", "Kowalski", "M", date(1979, 1, 9), 20, 12, "after course 2"),
    ("Elena", "Rossi", "F", date(1988, 5, 30), 38, 12, "deep in follow-up, overdue checks"),
    ("Farid", "Haddad", "M", date(1986, 9, 17), 30, 13, "deep in follow-up"),
    ("Grace", "O'Neill", "F", date(1975, 12, 3), 52, 12, "late follow-up"),
    ("Hiro", "Tanaka", "M", date(1983, 4, 25), 75, 12, "monitoring complete"),
]


def demo_load(*, today: date | None = None) -> tuple[Clinic, bool]:
    """Create the demo clinic once; a second call finds it and changes nothing."""
    with transaction.atomic():
        clinic, created = Clinic.objects.get_or_create(
            code=DEMO_CLINIC_CODE,
            defaults={"name": "Demo MS Centre", "time_zone": "Europe/London"},
        )
        _users(clinic)
        if created:
            today = today or clinic.today()
            for number, row in enumerate(PATIENTS, start=1):
                _patient(clinic, number, today, *row[:-1])
        # Also on a demo loaded before the portal existed; changes nothing once done.
        _portal(clinic)
    return clinic, created


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


def _patient(clinic, number, today, given, family, sex, born, months_ago, course_two):
    # Named before any result is recorded, so the demo's alerts go to that nurse.
    nurse = NAMED_NURSES.get(family)
    patient = patient_create(
        clinic=clinic,
        hospital_number=f"DEMO{number:04d}",
        given_name=given,
        family_name=family,
        date_of_birth=born,
        sex=sex,
        email=f"{given.lower()}@demo.invalid",
        named_nurse=get_user_model().objects.get(username=nurse) if nurse else None,
    )
    first_day = today - relativedelta(months=months_ago)
    given_status = "given" if months_ago > 0 else "planned"
    course_add(
        patient=patient,
        first_infusion_date=first_day,
        daily_dose_mg=Decimal(12),
        status=given_status,
    )
    if course_two is not None:
        course_add(
            patient=patient,
            first_infusion_date=first_day + relativedelta(months=course_two, days=3),
            daily_dose_mg=Decimal(12),
            status="given",
        )
    # The last year's checks get results (some abnormal); older ones are marked done on their
    # due date to keep the demo quick to load. Elena's last two months are left open so the
    # demo shows overdue checks.
    leave_open_from = today - timedelta(days=60) if family == "Rossi" else today
    demo_results_record(patient, since=today - relativedelta(months=12), until=leave_open_from)
    ScheduledCheck.objects.open().filter(patient=patient, overdue_after__lt=leave_open_from).update(
        completed_on=F("due_date")
    )
    if months_ago >= 70:
        patient.status = Patient.Status.MONITORING_COMPLETE
        patient.save(update_fields=["status"])
