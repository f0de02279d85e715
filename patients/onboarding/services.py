"""Onboarding patients already in follow-up from a spreadsheet: check every row against the
clinic's records (a fixed number of queries whatever the file's length), show the preview, and
record the whole file in one transaction or nothing of it.

A row whose hospital number is stored exactly so updates that patient and adds the courses they
lack; a course the file gives differently from the stored one is a problem, never an overwrite.
A number that differs from a stored one only in case or spaces is refused as the same person
written differently, so a spreadsheet cannot make a second record. Courses before the tracking
start are recorded as given, later ones as planned.

The writes are set-based, as audit/bulk.py asks of anything that bypasses save(): one insert
for the patients, one for their first history versions and one for their audit entries, the
same for the courses, and the schedules planned by reconcile_in_batches.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Replace
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from audit.bulk import bulk_update_recorded, record_created
from monitoring.domain.csv_reading import (
    ImportProblem,
    decoded,
    file_problem,
    quoted,
    sha256_of,
)
from monitoring.models import MonitoringProtocol
from monitoring.schedule.services import reconcile_in_batches
from patients.models import Clinic, InfusionCourse, Onboarding, Patient, default_protocol_id

from .reading import CourseRow, PatientRow, course_column, course_rule_problems, file_rows

# The details a row may change on a stored patient. Empty optional cells leave them as stored:
# a spreadsheet without an e-mail column must not wipe the e-mail addresses.
DETAIL_FIELDS = ("given_name", "family_name", "date_of_birth", "sex")
OPTIONAL_DETAIL_FIELDS = ("email", "phone")
UPDATED_FIELDS = [
    *DETAIL_FIELDS,
    *OPTIONAL_DETAIL_FIELDS,
    "named_nurse",
    "protocol",
    "version",
    "updated_at",
]
# The model's own field checks (lengths, control characters, formulas, e-mail, phone) run on
# each row; these are looked up or checked here instead, without a query per row.
NOT_FIELD_CHECKED = [
    "clinic",
    "protocol",
    "named_nurse",
    "user",
    "hospital_number_key",
    "tracked_from",
    "follow_up_ends",
]
COURSE_NOT_FIELD_CHECKED = ["patient", "override_recorded_by", "daily_dose_mg", "days"]
COURSE_FIELD_CELLS = {
    "first_infusion_date": "first_day",
    "days_reason": "days_reason",
    "spacing_override_reason": "spacing_reason",
}


class OnboardingRejected(Exception):
    def __init__(self, problems: list[ImportProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass
class RowPlan:
    """What recording a row does: a new patient, or changes to a stored one."""

    row: PatientRow
    patient: Patient | None = None  # the stored patient the row updates; the new one, once made
    new: bool = True  # no stored patient has the row's number
    changes: dict = field(default_factory=dict)  # field name -> new value
    adding: list[CourseRow] = field(default_factory=list)
    nurse: object | None = None
    protocol: MonitoringProtocol | None = None

    @property
    def action(self) -> str:
        if self.new:
            return "create"
        return "update" if self.changes or self.adding else "unchanged"


@dataclass
class OnboardingPreview:
    plans: list[RowPlan]
    problems: list[ImportProblem]
    tracking_from: date | None

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, action: str) -> int:
        return sum(plan.action == action for plan in self.plans)

    @property
    def to_create(self) -> int:
        return self.count("create")

    @property
    def to_update(self) -> int:
        return self.count("update")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def courses_to_add(self) -> int:
        return sum(len(plan.adding) for plan in self.plans)


@dataclass(frozen=True)
class OnboardingOutcome:
    created: int
    updated: int
    unchanged: int
    courses: int
    tracking_from: date


def tracking_start(*, clinic: Clinic, tracking_from: date | None, today: date) -> tuple[date, str]:
    """The day the file's new patients are tracked from: the one given, else the clinic's
    go-live date, else today; and "" or why it is refused."""
    start = tracking_from or clinic.go_live_date or today
    if start > today:
        source = "The tracking date" if tracking_from else "The clinic's go-live date"
        return start, (
            f"{source} ({start:%d %b %Y}) is in the future (today is {today:%d %b %Y}): checks "
            "that fall overdue until then would be hidden as history. Give today or an "
            "earlier date."
        )
    return start, ""


def onboarding_read(
    *,
    clinic: Clinic,
    content: bytes,
    file_name: str = "",
    tracking_from: date | None = None,
    today: date | None = None,
    date_order: str = "",
) -> OnboardingPreview:
    """Check a file without storing anything: every problem, and what would be recorded."""
    text, problem = _decoded(content, file_name)
    if problem is not None:
        return OnboardingPreview(plans=[], problems=[problem], tracking_from=None)
    return read_text(
        clinic=clinic,
        text=text,
        tracking_from=tracking_from,
        today=today or clinic.today(),
        date_order=date_order,
    )


def _decoded(content: bytes, file_name: str):
    return decoded(content, file_name, settings.RESULT_IMPORT_MAX_BYTES)


def read_text(
    *,
    clinic: Clinic,
    text: str,
    tracking_from: date | None,
    today: date,
    date_order: str = "",
    lock: bool = False,
) -> OnboardingPreview:
    """`lock`: lock the stored patients the file names, for recording it (in a transaction)."""
    start, start_problem = tracking_start(clinic=clinic, tracking_from=tracking_from, today=today)
    file_problems = [ImportProblem(None, "tracking_from", start_problem)] if start_problem else []
    rows, problems = file_rows(text, order=date_order or clinic.csv_date_order, today=today)
    plans = _plans(clinic, rows, today, lock) if rows else []
    row_problems = [problem for plan in plans for problem in plan.row.problems]
    return OnboardingPreview(
        plans=plans,
        problems=[*file_problems, *row_problems, *problems],
        tracking_from=start,
    )


def _plans(clinic: Clinic, rows: list[PatientRow], today: date, lock: bool) -> list[RowPlan]:
    """Four queries however long the file: the stored patients, their courses (none to read
    when no row is a stored patient), the clinic's nurses and the protocols."""
    stored = _stored_patients(clinic, rows, lock)
    courses = defaultdict(dict)
    for course in InfusionCourse.objects.filter(
        patient__in=[patient for patients in stored.values() for patient in patients]
    ).exclude(status=InfusionCourse.Status.CANCELLED):
        courses[course.patient_id][course.number] = course
    nurses = _nurse_index(clinic)
    protocols = {protocol.slug: protocol for protocol in MonitoringProtocol.objects.alemtuzumab()}
    plans = []
    first_rows: dict[str, PatientRow] = {}
    for row in rows:
        plan = RowPlan(row=row)
        plans.append(plan)
        if row.problems and not row.key:
            continue
        if row.key and _repeated(row, first_rows):
            continue
        plan.patient = _stored_patient(row, stored.get(row.loose_key, []))
        plan.new = plan.patient is None
        _check_fields(row)
        plan.nurse = _nurse(row, nurses, clinic)
        plan.protocol = _protocol(row, protocols)
        stored_courses = courses[plan.patient.pk] if plan.patient else {}
        plan.adding = _courses_to_add(row, stored_courses)
        course_rule_problems(
            row, [course.facts() for course in stored_courses.values()], plan.adding, today
        )
        if plan.patient is not None:
            _check_stored_courses(row, stored_courses)
            plan.changes = _changes(plan)
    return plans


def _stored_patients(clinic, rows, lock) -> dict[str, list[Patient]]:
    loose = {row.loose_key for row in rows if row.key}
    found = (
        Patient.objects.filter(clinic=clinic)
        .annotate(loose_key=Replace(F("hospital_number_key"), Value(" "), Value("")))
        .filter(loose_key__in=loose)
        .order_by("pk")
    )
    if lock:
        found = found.select_for_update(of=("self",))
    stored = defaultdict(list)
    for patient in found:
        stored[patient.loose_key].append(patient)
    return stored


def _repeated(row: PatientRow, first_rows: dict[str, PatientRow]) -> bool:
    first = first_rows.setdefault(row.loose_key, row)
    if first is row:
        return False
    written = (
        ""
        if first.hospital_number == row.hospital_number
        else f" (written {quoted(first.hospital_number)} there)"
    )
    row.add_problem(
        "hospital_number",
        f"Row {first.row} is already this hospital number{written}: one patient has one row, "
        "with all their courses.",
    )
    return True


def _stored_patient(row: PatientRow, holders: list[Patient]) -> Patient | None:
    exact = [patient for patient in holders if patient.hospital_number == row.hospital_number]
    if exact:
        return exact[0]
    if holders:
        named = "; ".join(
            f"{patient} (record {patient.pk}, written {quoted(patient.hospital_number)})"
            for patient in holders
        )
        row.add_problem(
            "hospital_number",
            f"{quoted(row.hospital_number)} differs only in case or spaces from the hospital "
            f"number of {named}: probably the same person, so no second record is made. To "
            "update that record, write the number exactly as it is stored.",
        )
    return None


def _check_fields(row: PatientRow) -> None:
    """The model's field rules, without a query: the same words as the add-patient form."""
    patient = Patient(
        hospital_number=row.hospital_number,
        given_name=row.given_name,
        family_name=row.family_name,
        date_of_birth=row.date_of_birth,
        sex=row.sex or Patient.Sex.OTHER,
        email=row.email,
        phone=row.phone,
        protocol_id=None,  # given, so the default (a query) is not looked up for each row
    )
    said = {problem.column for problem in row.problems}
    key_limit = Patient._meta.get_field("hospital_number_key").max_length
    if len(row.key) > key_limit:
        # NFKC and case folding can lengthen a number past what its key column holds.
        row.add_problem("hospital_number", f"{quoted(row.hospital_number)} is too long.")
    try:
        patient.clean_fields(exclude=[*NOT_FIELD_CHECKED, "date_of_birth", "sex"])
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            if name not in said:
                for message in messages:
                    row.add_problem(name, message)


def _nurse_index(clinic: Clinic) -> dict[str, list]:
    index = defaultdict(list)
    for nurse in clinic.nurses.all():
        index[nurse.username.lower()].append(nurse)
        if nurse.email:
            index[nurse.email.lower()].append(nurse)
    return index


def _nurse(row: PatientRow, nurses: dict[str, list], clinic: Clinic):
    if not row.named_nurse:
        return None
    found = {nurse.pk: nurse for nurse in nurses.get(row.named_nurse.lower(), [])}
    if len(found) == 1:
        return next(iter(found.values()))
    if found:
        message = (
            f"{quoted(row.named_nurse)} is the e-mail of several of {clinic.name}'s nurses; "
            "give the nurse's username."
        )
    else:
        message = (
            f"{quoted(row.named_nurse)} is not the username or e-mail of a nurse of "
            f"{clinic.name}. Leave it empty for the clinic's nurse group."
        )
    row.add_problem("named_nurse", message)
    return None


def _protocol(row: PatientRow, protocols: dict[str, MonitoringProtocol]):
    if not row.protocol:
        return None
    protocol = protocols.get(row.protocol.strip().lower())
    if protocol is None:
        known = ", ".join(sorted(protocols)) or "none"
        row.add_problem(
            "protocol", f"{quoted(row.protocol)} is not a protocol. Known protocols: {known}."
        )
    return protocol


def _courses_to_add(row: PatientRow, stored: dict[int, InfusionCourse]) -> list[CourseRow]:
    adding = []
    for course in row.courses:
        if course.number not in stored:
            adding.append(course)
            _check_course_fields(row, course)
    return adding


def _check_course_fields(row: PatientRow, course: CourseRow) -> None:
    instance = InfusionCourse(
        number=course.number,
        first_infusion_date=course.first_day,
        days_reason=course.days_reason,
        spacing_override_reason=course.spacing_reason,
    )
    try:
        instance.clean_fields(exclude=[*COURSE_NOT_FIELD_CHECKED, "first_infusion_date"])
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            column = course_column(course.number, COURSE_FIELD_CELLS.get(name, "first_day"))
            for message in messages:
                row.add_problem(column, message)


def _check_stored_courses(row: PatientRow, stored: dict[int, InfusionCourse]) -> None:
    """A course the file gives for a number already stored must be that course: a file never
    overwrites a recorded course."""
    for course in row.courses:
        recorded = stored.get(course.number)
        if recorded is None:
            continue
        differences = [
            ("first_day", course.first_day, recorded.first_infusion_date, _day),
            ("days", course.days, recorded.days, str),
            ("dose_mg", course.dose_mg, recorded.daily_dose_mg, lambda dose: f"{dose:f} mg"),
        ]
        for cell, given, kept, shown in differences:
            if given is not None and given != kept:
                row.add_problem(
                    course_column(course.number, cell),
                    f"Course {course.number} is recorded with {shown(kept)}, not "
                    f"{shown(given)}. A file does not overwrite a recorded course: correct "
                    "the record or the file.",
                )
    if row.date_of_birth is not None:
        for recorded in stored.values():
            if recorded.first_infusion_date < row.date_of_birth:
                row.add_problem(
                    "date_of_birth",
                    f"The recorded course {recorded.number} ({_day(recorded.first_infusion_date)}) "
                    "is before this date of birth.",
                )


def _day(day: date) -> str:
    return f"{day:%d %b %Y}"


def _changes(plan: RowPlan) -> dict:
    row, patient = plan.row, plan.patient
    wanted = {name: getattr(row, name) for name in DETAIL_FIELDS}
    wanted |= {name: getattr(row, name) for name in OPTIONAL_DETAIL_FIELDS if getattr(row, name)}
    # By id: the stored patient's nurse and protocol are not loaded, and need not be.
    if plan.nurse is not None:
        wanted["named_nurse_id"] = plan.nurse.pk
    if plan.protocol is not None:
        wanted["protocol_id"] = plan.protocol.pk
    return {
        name: value
        for name, value in wanted.items()
        if value not in (None, "") and getattr(patient, name) != value
    }


# Storing


def onboarding_stage(
    *,
    clinic: Clinic,
    content: bytes,
    file_name: str,
    uploaded_by,
    tracking_from: date | None = None,
    date_order: str = "",
    today: date | None = None,
) -> tuple[Onboarding | None, OnboardingPreview]:
    """Keep the uploaded file for its preview, even when rows have problems. None when there
    is no text to keep (too big, not UTF-8, empty)."""
    text, problem = _decoded(content, file_name)
    if problem is not None:
        return None, OnboardingPreview(plans=[], problems=[problem], tracking_from=None)
    preview = read_text(
        clinic=clinic,
        text=text,
        tracking_from=tracking_from,
        today=today or clinic.today(),
        date_order=date_order,
    )
    onboarding = Onboarding.objects.create(
        clinic=clinic,
        file_name=file_name[: Onboarding._meta.get_field("file_name").max_length],
        sha256=sha256_of(content),
        content=text,
        tracking_from=tracking_from,
        date_order=date_order,
        uploaded_by=uploaded_by,
    )
    return onboarding, preview


def onboarding_preview(*, onboarding: Onboarding, today: date | None = None) -> OnboardingPreview:
    """A staged file's preview, read again against the records as they are now."""
    return read_text(
        clinic=onboarding.clinic,
        text=onboarding.content,
        tracking_from=onboarding.tracking_from,
        today=today or onboarding.clinic.today(),
        date_order=onboarding.date_order,
    )


def onboarding_record(
    *, onboarding: Onboarding, recorded_by, today: date | None = None
) -> OnboardingOutcome:
    """Check the staged file again under the clinic's lock and record all of it, or refuse it
    with every problem and store nothing (OnboardingRejected)."""
    with transaction.atomic():
        # The clinic's lock: patient_create takes it too, so a patient added by hand meanwhile
        # is seen by this check (and its hospital number refused or matched), never doubled.
        clinic = Clinic.objects.select_for_update().get(pk=onboarding.clinic_id)
        onboarding = Onboarding.objects.select_for_update().get(pk=onboarding.pk)
        if onboarding.status == Onboarding.Status.RECORDED:
            raise OnboardingRejected([file_problem(recorded_message(onboarding))])
        today = today or clinic.today()
        preview = read_text(
            clinic=clinic,
            text=onboarding.content,
            tracking_from=onboarding.tracking_from,
            today=today,
            date_order=onboarding.date_order,
            lock=True,
        )
        if not preview.ok:
            raise OnboardingRejected(preview.problems)
        reason = f"Onboarded from “{onboarding.file_name}”"
        created = _create_patients(clinic, preview, recorded_by, reason)
        updated = _update_patients(preview, recorded_by, reason)
        courses = _add_courses(preview, recorded_by, reason)
        touched = sorted({plan.patient.pk for plan in preview.plans if plan.action != "unchanged"})
        reconcile_in_batches(touched)
        onboarding.status = Onboarding.Status.RECORDED
        onboarding.recorded_by = recorded_by
        onboarding.recorded_at = timezone.now()
        onboarding.patients_created = created
        onboarding.patients_updated = updated
        onboarding.courses_added = courses
        onboarding.save(
            update_fields=[
                "status",
                "recorded_by",
                "recorded_at",
                "patients_created",
                "patients_updated",
                "courses_added",
            ]
        )
    return OnboardingOutcome(
        created=created,
        updated=updated,
        unchanged=preview.unchanged,
        courses=courses,
        tracking_from=preview.tracking_from,
    )


def recorded_message(onboarding: Onboarding) -> str:
    return (
        f"This file (“{onboarding.file_name}”) was recorded on "
        f"{timezone.localtime(onboarding.recorded_at, onboarding.clinic.zone):%d %b %Y %H:%M}; "
        "upload it again to check it against the records as they are now."
    )


def _create_patients(clinic, preview, user, reason) -> int:
    new = [plan for plan in preview.plans if plan.action == "create"]
    default_protocol = default_protocol_id()
    patients = []
    for plan in new:
        row = plan.row
        patient = Patient(
            clinic=clinic,
            hospital_number=row.hospital_number,
            hospital_number_key=row.key,
            given_name=row.given_name,
            family_name=row.family_name,
            date_of_birth=row.date_of_birth,
            sex=row.sex,
            email=row.email,
            phone=row.phone,
            named_nurse=plan.nurse,
            protocol_id=plan.protocol.pk if plan.protocol else default_protocol,
            tracked_from=preview.tracking_from,
        )
        patient._change_reason = f"{reason}, row {row.row}"
        patients.append(patient)
        plan.patient = patient
    if patients:
        # One insert for the patients, one for their first history versions, one for the
        # audit entries.
        bulk_create_with_history(patients, Patient, batch_size=1000, default_user=user)
        record_created(patients)
    return len(patients)


def _update_patients(preview, user, reason) -> int:
    changed = [plan for plan in preview.plans if plan.action == "update" and plan.changes]
    now = timezone.now()
    patients = []
    for plan in changed:
        patient = plan.patient
        for name, value in plan.changes.items():
            setattr(patient, name, value)
        # A new version, as a save() would make, so an edit form opened before is refused.
        patient.version += 1
        patient.updated_at = now
        patient._change_reason = f"{reason}, row {plan.row.row}"
        patients.append(patient)
    if patients:
        bulk_update_recorded(patients, UPDATED_FIELDS)
        Patient.history.bulk_history_create(patients, update=True, default_user=user)
    return len({plan.patient.pk for plan in preview.plans if plan.action == "update"})


def _add_courses(preview, user, reason) -> int:
    courses = []
    for plan in preview.plans:
        for course in plan.adding:
            # The patient's own tracking start: a stored patient keeps theirs.
            given = course.first_day < plan.patient.tracked_from
            record = InfusionCourse(
                patient=plan.patient,
                number=course.number,
                first_infusion_date=course.first_day,
                days=course.days,
                daily_dose_mg=course.dose_mg,
                # Before the tracking start a course is history; from it on, it is this
                # clinic's to give (and to confirm as given at the infusion).
                status=InfusionCourse.Status.GIVEN if given else InfusionCourse.Status.PLANNED,
                days_reason=course.days_reason,
                spacing_override_reason=course.spacing_reason,
                override_recorded_by=(
                    user if course.days_reason or course.spacing_reason else None
                ),
            )
            record._change_reason = f"{reason}, row {plan.row.row}"
            courses.append(record)
    if courses:
        bulk_create_with_history(courses, InfusionCourse, batch_size=1000, default_user=user)
        record_created(courses)
    return len(courses)
