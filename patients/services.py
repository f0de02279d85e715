"""Writes to patients and courses. Every course change re-plans the patient's schedule in the
same transaction, so the schedule can never disagree with the courses it was planned from."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from accounts.roles import Role, is_staff_member, role_group_names
from monitoring.domain.input_rules import hospital_number_clean
from monitoring.models import MonitoringProtocol
from monitoring.outbox.store import notifications_withdraw
from monitoring.schedule.services import schedule_reconcile
from submissions.versions import field_differences, version_check

from .models import Clinic, InfusionCourse, Patient
from .selectors import baseline_checklist


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
    tracked_from: date | None = None,
    created_by=None,
) -> Patient:
    """A new patient, tracked from `tracked_from` (default: the clinic's today), so that a
    patient years into follow-up arrives with history, not hundreds of overdue checks."""
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
        tracked_from=tracked_from or clinic.today(),
    )
    if protocol is not None:
        patient.protocol = protocol
    with transaction.atomic():
        # Two people adding patients to one clinic take turns, so the second one's check of
        # the hospital number sees the first one's patient and names the field.
        Clinic.objects.select_for_update().filter(pk=clinic.pk).first()
        patient.full_clean()
        patient._history_user = created_by
        _save_holding_the_number(patient)
    return patient


COURSE_TAKEN = (
    "Course {number} has just been recorded by someone else; open the patient's page to see "
    "it before adding another course."
)


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


def patient_update(
    *,
    patient: Patient,
    reason: str,
    changed_by=None,
    opened_version: int | str | None = None,
    **fields,
) -> Patient:
    """Change a patient's details; the old version stays in the history with who and why.
    `opened_version` is the version the edit form was opened on: a newer one is refused
    (StaleEdit) rather than overwritten. A change of clinic is not an edit: it goes through
    patient_move."""
    if not reason.strip():
        raise ValueError("A change to a patient's record needs a reason.")
    if "clinic" in fields and fields["clinic"] != patient.clinic:
        raise ValidationError(
            {"clinic": "A patient moves to another clinic only through patient_move."}
        )
    if fields.get("user") is not None:
        refusal = portal_account_refusal(user=fields["user"], patient=patient)
        if refusal:
            raise ValidationError({"user": refusal})
    with transaction.atomic():
        stored = Patient.objects.select_for_update(of=("self",)).get(pk=patient.pk)
        version_check(
            what=str(stored),
            opened=opened_version,
            current=stored.version,
            differences=field_differences(stored, fields),
        )
        patient.version = stored.version
        for name, value in fields.items():
            setattr(patient, name, value)
        patient.full_clean()
        patient._history_user = changed_by
        patient._change_reason = reason
        _save_holding_the_number(patient)
        # A status that is not planned (withdrawn, deceased, transferred) cancels the open
        # checks here, and what was waiting in the outbox must not go out either.
        schedule_reconcile(patient=patient)
        if patient.status != stored.status and not patient.is_planned:
            notifications_withdraw(
                patient_id=patient.pk,
                reason=f"Not sent: the patient's status changed to "
                f"“{patient.get_status_display()}” ({reason.strip()}).",
            )
    return patient


# The statuses a member of staff sets by hand; "monitoring complete" follows from the plan.
STATUS_CHANGES = (
    Patient.Status.ACTIVE,
    Patient.Status.WITHDRAWN,
    Patient.Status.DECEASED,
    Patient.Status.TRANSFERRED,
)


def patient_status_change(
    *,
    patient: Patient,
    status: str,
    reason: str,
    changed_by=None,
    opened_version: int | str | None = None,
) -> Patient:
    """Withdrawn, deceased, transferred, or back to active monitoring. The record is kept; a
    status that is not monitored cancels the open checks and the notifications not yet sent
    (patient_update), and back to active re-plans the schedule from the courses."""
    if status not in STATUS_CHANGES:
        raise ValidationError({"status": "Choose active, withdrawn, deceased or transferred."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why the patient's status changes."})
    if status == patient.status:
        raise ValidationError(
            {"status": f"The status is already “{patient.get_status_display()}”."}
        )
    return patient_update(
        patient=patient,
        reason=reason,
        changed_by=changed_by,
        opened_version=opened_version,
        status=status,
    )


def portal_account_refusal(*, user, patient: Patient) -> str:
    """Why `user` cannot be `patient`'s portal sign-in, or "" when it can. A portal account is
    the patient's own: it holds the patient role and no staff role, and opens no other record
    (a staff account linked to a record would open it in the portal)."""
    if not user.groups.filter(name__in=role_group_names(Role.PATIENT)).exists():
        return "Choose an account with the patient role: this one is not a patient's."
    if is_staff_member(user):
        return "Choose a patient's own account: this one belongs to a member of staff."
    if Patient.objects.filter(user=user).exclude(pk=patient.pk).exists():
        return "This account already opens another patient's record."
    return ""


def patient_move(*, patient: Patient, clinic: Clinic, reason: str, moved_by) -> Patient:
    """Move a patient to another clinic: administrators only, with a reason kept in the
    record's history and the audit trail. A named nurse who is not one of the new clinic's
    nurses is cleared (the new clinic's nurse group is alerted until it names one), and the
    schedule is re-planned in the new clinic's calendar."""
    if moved_by is None or not moved_by.is_superuser:
        raise PermissionDenied("Only an administrator may move a patient to another clinic.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the patient is moving to another clinic."})
    with transaction.atomic():
        patient = Patient.objects.select_for_update(of=("self",)).get(pk=patient.pk)
        old_clinic = patient.clinic
        if clinic.pk == old_clinic.pk:
            raise ValidationError({"clinic": f"The patient is already in {clinic}."})
        clash = Patient.objects.filter(
            clinic=clinic, hospital_number_key=patient.hospital_number_key
        )
        if clash.exists():
            raise ValidationError(
                {"clinic": f"{clinic} already has a patient with this hospital number."}
            )
        patient.clinic = clinic
        if patient.named_nurse_id and not clinic.nurses.filter(pk=patient.named_nurse_id).exists():
            patient.named_nurse = None
        patient.full_clean()
        patient._history_user = moved_by
        patient._change_reason = f"Moved from {old_clinic} to {clinic}: {reason.strip()}"
        patient.save()
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
    baseline_override_reason: str = "",
    recorded_by=None,
) -> InfusionCourse:
    """Record a course (numbered next unless given) and re-plan the schedule. A `number`
    already taken (someone recorded that course a moment ago) is refused with a ValidationError
    on "number", which the course form shows above its fields. A course recorded as given
    passes the pre-infusion checklist (course_given_refusal)."""
    with transaction.atomic():
        Patient.objects.select_for_update(of=("self",)).filter(pk=patient.pk).first()
        live = patient.courses.exclude(status=InfusionCourse.Status.CANCELLED)
        if number is None:
            number = (live.aggregate(latest=Max("number"))["latest"] or 0) + 1
        elif live.filter(number=number).exists():
            raise ValidationError({"number": COURSE_TAKEN.format(number=number)})
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
            baseline_override_reason=baseline_override_reason,
        )
        if days_reason.strip() or spacing_override_reason.strip():
            course.override_recorded_by = recorded_by
        if baseline_override_reason:
            course.baseline_override_by = recorded_by
        course.full_clean()
        course._history_user = recorded_by
        try:
            with transaction.atomic():
                course.save()
        except IntegrityError as error:
            raise ValidationError({"number": f"Course {number} is already recorded."}) from error
        _reopen_monitoring(patient, course, recorded_by)
        schedule_reconcile(patient=patient)
        if status == InfusionCourse.Status.GIVEN:
            _given_confirm(course=course, recorded_by=recorded_by)
    return course


def _reopen_monitoring(patient: Patient, course: InfusionCourse, recorded_by) -> None:
    """A new course starts a new follow-up: a patient whose monitoring was complete is
    monitored again, and the history says why."""
    stored = Patient.objects.get(pk=patient.pk)
    if stored.status != Patient.Status.MONITORING_COMPLETE:
        return
    stored.status = patient.status = Patient.Status.ACTIVE
    stored._history_user = recorded_by
    stored._change_reason = f"{course} recorded: monitoring starts again."
    stored.save(update_fields=["status", "version", "updated_at"])
    patient.version = stored.version


def course_update(
    *,
    course: InfusionCourse,
    reason: str,
    changed_by=None,
    opened_version: int | str | None = None,
    **fields,
) -> InfusionCourse:
    """Move or correct a course; the previous version is kept in its history. A form opened
    on an older version than the stored one is refused (StaleEdit), as in patient_update."""
    if not reason.strip():
        raise ValueError("A change to an infusion course needs a reason.")
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=course.patient_id).first()
        stored = InfusionCourse.objects.get(pk=course.pk)
        version_check(
            what=str(stored),
            opened=opened_version,
            current=stored.version,
            differences=field_differences(stored, fields),
        )
        course.version = stored.version
        for name, value in fields.items():
            setattr(course, name, value)
        if {"days_reason", "spacing_override_reason"} & fields.keys():
            course.override_recorded_by = changed_by
        if fields.get("baseline_override_reason"):
            course.baseline_override_by = changed_by
        course.full_clean()
        course._history_user = changed_by
        course._change_reason = reason
        course.save()
        schedule_reconcile(patient=course.patient)
        given = InfusionCourse.Status.GIVEN
        if course.status == given and stored.status != given:
            _given_confirm(course=course, recorded_by=changed_by)
    return course


def course_cancel(
    *,
    course: InfusionCourse,
    reason: str,
    cancelled_by=None,
    opened_version: int | str | None = None,
) -> InfusionCourse:
    """Cancel a course (kept, never deleted); its checks leave the plan."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the course is cancelled."})
    return course_update(
        course=course,
        reason=reason,
        changed_by=cancelled_by,
        opened_version=opened_version,
        status=InfusionCourse.Status.CANCELLED,
        cancelled_reason=reason,
    )


def course_record_given(
    *,
    course: InfusionCourse,
    recorded_by,
    opened_version: int | str | None = None,
    baseline_override_reason: str = "",
) -> InfusionCourse:
    """A planned course was given: recorded once its baseline checks are complete, or with a
    clinician's reason for giving it without them (the pre-infusion checklist)."""
    if course.status != InfusionCourse.Status.PLANNED:
        raise ValidationError(
            {
                "status": f"Only a planned course is recorded as given; this one is "
                f"{course.get_status_display().lower()}."
            }
        )
    fields = {"status": InfusionCourse.Status.GIVEN}
    reason = "Recorded as given."
    if baseline_override_reason:
        fields["baseline_override_reason"] = baseline_override_reason
        reason = f"Recorded as given without all its baselines: {baseline_override_reason.strip()}"
    return course_update(
        course=course,
        reason=reason,
        changed_by=recorded_by,
        opened_version=opened_version,
        **fields,
    )


OVERRIDE_FIELD = "baseline_override_reason"


def course_given_refusal(*, course: InfusionCourse, recorded_by) -> str:
    """Why `course` cannot be recorded as given now, or "" when it can.

    The pre-infusion checklist: every baseline check of the course (its pre-course checks,
    in the 30 days before day 1) is completed, or a clinician (a nurse or the clinic lead, not
    clinic staff) has recorded why it was given without them. A course whose first day is
    before the patient's tracking start is history entered during onboarding: exempt."""
    reason = course.baseline_override_reason.strip()
    checklist = baseline_checklist(course, today=course.patient.clinic.today())
    if checklist.ready:
        return ""
    missing = [check.get_panel_display() for check in checklist.missing]
    if not reason:
        return (
            f"Its baseline checks are not all completed: {', '.join(missing)}. Record their "
            "results first, or a nurse or the clinic lead records why the course is given "
            "without them."
        )
    if recorded_by is None or not recorded_by.has_perm("patients.override_baseline_checklist"):
        return (
            "Only a nurse or the clinic lead may record a course as given without its "
            f"baseline checks ({', '.join(missing)})."
        )
    return ""


def _given_confirm(*, course: InfusionCourse, recorded_by) -> None:
    """Refuse, inside the caller's transaction (so nothing is kept), a course recorded as given
    that fails the checklist. Run after the re-plan: a new course's checks exist only then."""
    refusal = course_given_refusal(course=course, recorded_by=recorded_by)
    if refusal:
        raise ValidationError({OVERRIDE_FIELD: refusal})
