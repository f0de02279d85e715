"""Writes to patients and courses. Every course change re-plans the patient's schedule in the
same transaction, so the schedule can never disagree with the courses it was planned from."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max

from monitoring.domain.input_rules import hospital_number_clean
from monitoring.models import MonitoringProtocol
from monitoring.schedule.services import schedule_reconcile

from .models import Clinic, InfusionCourse, Patient


def patient_create(
    *,
    clinic: Clinic,
    hospital_number: str,
    given_name: str,
    family_name: str,
    date_of_birth: date,
    sex: str,
    email: str = "",
    phone: str = "",
    protocol: MonitoringProtocol | None = None,
    named_nurse=None,
    email_reminders: bool = True,
    reminder_leads: str = Patient.ReminderLeads.SEVEN_AND_ONE,
    created_by=None,
) -> Patient:
    patient = Patient(
        clinic=clinic,
        hospital_number=hospital_number_clean(hospital_number),
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        date_of_birth=date_of_birth,
        sex=sex,
        email=email.strip(),
        phone=phone.strip(),
        named_nurse=named_nurse,
        email_reminders=email_reminders,
        reminder_leads=reminder_leads,
    )
    if protocol is not None:
        patient.protocol = protocol
    patient.full_clean()
    patient._history_user = created_by
    _save_holding_the_number(patient)
    return patient


def _save_holding_the_number(patient: Patient) -> None:
    """Save; when another save took the same hospital number since full_clean() looked, the
    database's constraint refuses it and this says so as clean() would have."""
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError:
        if (
            not Patient.objects.filter(
                clinic_id=patient.clinic_id, hospital_number_key=patient.hospital_number_key
            )
            .exclude(pk=patient.pk)
            .exists()
        ):
            raise
        patient.clean()  # raises the hospital number's field error, naming the record
        raise


def patient_update(*, patient: Patient, reason: str, changed_by=None, **fields) -> Patient:
    """Change a patient's details; the old version stays in the history with who and why."""
    if not reason.strip():
        raise ValueError("A change to a patient's record needs a reason.")
    with transaction.atomic():
        for name, value in fields.items():
            setattr(patient, name, value)
        patient.full_clean()
        patient._history_user = changed_by
        patient._change_reason = reason
        _save_holding_the_number(patient)
        schedule_reconcile(patient=patient)
    return patient


def course_add(
    *,
    patient: Patient,
    first_infusion_date: date,
    daily_dose_mg: Decimal,
    days: int | None = None,
    number: int | None = None,
    status: str = InfusionCourse.Status.PLANNED,
    days_reason: str = "",
    spacing_override_reason: str = "",
    cancelled_reason: str = "",
    recorded_by=None,
) -> InfusionCourse:
    """Record a course (numbered next unless given) and re-plan the schedule."""
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        if number is None:
            latest = patient.courses.exclude(status=InfusionCourse.Status.CANCELLED).aggregate(
                latest=Max("number")
            )["latest"]
            number = (latest or 0) + 1
        course = InfusionCourse(
            patient=patient,
            number=number,
            first_infusion_date=first_infusion_date,
            days=days if days is not None else (5 if number == 1 else 3),
            daily_dose_mg=daily_dose_mg,
            status=status,
            days_reason=days_reason,
            spacing_override_reason=spacing_override_reason,
            cancelled_reason=cancelled_reason,
        )
        if days_reason.strip() or spacing_override_reason.strip():
            course.override_recorded_by = recorded_by
        course.full_clean()
        course._history_user = recorded_by
        course.save()
        schedule_reconcile(patient=patient)
    return course


def course_update(
    *, course: InfusionCourse, reason: str, changed_by=None, **fields
) -> InfusionCourse:
    """Move or correct a course; the previous version is kept in its history."""
    if not reason.strip():
        raise ValueError("A change to an infusion course needs a reason.")
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=course.patient_id).first()
        for name, value in fields.items():
            setattr(course, name, value)
        if {"days_reason", "spacing_override_reason"} & fields.keys():
            course.override_recorded_by = changed_by
        course.full_clean()
        course._history_user = changed_by
        course._change_reason = reason
        course.save()
        schedule_reconcile(patient=course.patient)
    return course


def course_cancel(*, course: InfusionCourse, reason: str, cancelled_by=None) -> InfusionCourse:
    """Cancel a course (kept, never deleted); its checks leave the plan."""
    return course_update(
        course=course,
        reason=reason,
        changed_by=cancelled_by,
        status=InfusionCourse.Status.CANCELLED,
        cancelled_reason=reason,
    )
