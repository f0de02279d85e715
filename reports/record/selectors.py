"""The monitoring record of one patient, read once into plain frozen values that both the PDF
(reports.record.pdf) and the FHIR document (labfeeds.fhir.document) print. Seven queries
however long the record: courses, checks, results, acknowledgements (of results, checks and
symptom reports at once), symptom reports, and, for a patient whose monitoring is complete,
when it became so (the one read of history: nothing else on the patient says when).

Each check carries the results of the report that completed it, so the baselines of a course
and the results of a check are found without a query of their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q

from monitoring.domain.check_status import CheckStatus
from monitoring.models import Acknowledgement, LabReport, LabResult, ScheduledCheck, SymptomReport
from patients.models import InfusionCourse, Patient


def person_name(user) -> str:
    """How the record names a member of staff: their full name, else their username."""
    if user is None:
        return ""
    return user.get_full_name() or user.username


@dataclass(frozen=True)
class AcknowledgementEntry:
    by: str
    at: datetime
    action: str  # what was done, as the form offers it
    note: str
    tier: str = ""  # of a result: the tier acknowledged


@dataclass(frozen=True)
class ResultEntry:
    pk: int
    analyte: str
    value_text: str
    unit: str
    comparator: str
    sample_collected_on: date
    tier: str  # code: normal, low, high, amber, red, critical
    tier_label: str
    reasons: tuple[str, ...]
    next_action: str
    in_error: bool
    acknowledgements: tuple[AcknowledgementEntry, ...] = ()

    @property
    def value(self) -> str:
        return f"{self.comparator}{self.value_text} {self.unit}".strip()


@dataclass(frozen=True)
class CheckEntry:
    pk: int
    due_date: date
    test: str
    kind: str
    status: CheckStatus
    completed_on: date | None
    course_number: int | None  # of a pre-course check
    results: tuple[ResultEntry, ...] = ()
    acknowledgements: tuple[AcknowledgementEntry, ...] = ()
    waived_at: datetime | None = None
    waived_by: str = ""
    waived_reason: str = ""

    @property
    def is_waived(self) -> bool:
        return self.waived_at is not None


@dataclass(frozen=True)
class CourseEntry:
    pk: int
    number: int
    first_infusion_date: date
    last_infusion_date: date
    days: int
    daily_dose_mg: Decimal
    status: str  # code: planned, given, cancelled
    status_label: str
    reasons: tuple[str, ...]  # each "what: why (who)"
    baselines: tuple[CheckEntry, ...] = ()


@dataclass(frozen=True)
class SymptomEntry:
    pk: int
    reported_at: datetime
    symptoms: tuple[str, ...]
    details: str
    acknowledgement: AcknowledgementEntry | None


@dataclass(frozen=True)
class Identity:
    pk: int
    given_name: str
    family_name: str
    date_of_birth: date
    sex: str  # code: F, M, X
    sex_label: str
    hospital_number: str
    clinic: str
    clinic_pk: int
    status: str
    status_label: str
    protocol: str
    follow_up_months: int
    named_nurse: str
    tracked_from: date
    follow_up_ends: date | None
    complete_since: datetime | None  # when monitoring became complete, for a complete patient

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@dataclass(frozen=True)
class RecordRows:
    """The rows the FHIR builders of labfeeds.fhir.resources take as they are (a CarePlan of
    checks with their status, an Observation of a result with its analyte and report): read
    here with the record, so the document reads nothing again."""

    checks: tuple = ()
    results: tuple = ()


@dataclass(frozen=True)
class MonitoringRecord:
    identity: Identity
    courses: tuple[CourseEntry, ...]
    checks: tuple[CheckEntry, ...]  # planned and urgent, not cancelled, by due date
    cancelled_checks: int
    symptom_reports: tuple[SymptomEntry, ...]  # oldest first
    today: date
    # Every result, oldest sample first; those of a report that completed no check (a repeat
    # the same month, say) are listed by the PDF on their own.
    results: tuple[ResultEntry, ...] = ()
    unchecked_results: tuple[ResultEntry, ...] = ()
    rows: RecordRows = field(default_factory=RecordRows)

    @property
    def waived(self) -> tuple[CheckEntry, ...]:
        return tuple(check for check in self.checks if check.is_waived)

    @property
    def years(self) -> list[tuple[int, list[CheckEntry]]]:
        """The checks by year of due date: the PDF prints a table a year."""
        by_year: dict[int, list[CheckEntry]] = {}
        for check in self.checks:
            by_year.setdefault(check.due_date.year, []).append(check)
        return list(by_year.items())


def _acknowledgement(ack: Acknowledgement) -> AcknowledgementEntry:
    return AcknowledgementEntry(
        by=person_name(ack.acknowledged_by),
        at=ack.acknowledged_at,
        action=ack.get_action_display(),
        note=ack.note,
        tier=ack.tier,
    )


def _course_reasons(course: InfusionCourse) -> tuple[str, ...]:
    reasons = []
    override_by = person_name(course.override_recorded_by)
    if course.days_reason:
        reasons.append(f"Days: {course.days_reason}")
    if course.spacing_override_reason:
        who = f" (recorded by {override_by})" if override_by else ""
        reasons.append(f"Spacing: {course.spacing_override_reason}{who}")
    if course.baseline_override_reason:
        who = person_name(course.baseline_override_by)
        reasons.append(
            f"Given without its baselines: {course.baseline_override_reason}"
            + (f" (recorded by {who})" if who else "")
        )
    if course.cancelled_reason:
        reasons.append(f"Cancelled: {course.cancelled_reason}")
    return tuple(reasons)


def _complete_since(patient: Patient):
    """When the patient last became monitoring complete: the first version of the latest run of
    complete versions. One query over the patient's versions (a handful: one per edit)."""
    complete = Patient.Status.MONITORING_COMPLETE
    since = None
    versions = Patient.history.filter(id=patient.pk).order_by("history_date", "history_id")
    for status, when in versions.values_list("status", "history_date"):
        if status != complete:
            since = None
        elif since is None:
            since = when
    return since


def monitoring_record(patient: Patient, *, today: date) -> MonitoringRecord:
    """`patient` with its clinic, protocol and named nurse read with it (patients.access
    patient_for does). Seven queries at most, whatever the number of checks and results."""
    courses = list(
        patient.courses.select_related("override_recorded_by", "baseline_override_by").order_by(
            "number", "first_infusion_date"
        )
    )
    checks = list(
        ScheduledCheck.objects.filter(patient=patient)
        .with_status(today)
        .select_related("protocol_item", "waived_by")
        .order_by("due_date", "panel", "pk")
    )
    reports_in_error = LabReport.objects.filter(
        pk=OuterRef("report_id"), entered_in_error_at__isnull=False
    )
    results = list(
        LabResult.objects.filter(patient=patient)
        .select_related("analyte", "report")
        .annotate(report_in_error=Exists(reports_in_error))
        .order_by("sample_collected_on", "report_id", "analyte__display_order", "pk")
    )
    acknowledgements = list(
        Acknowledgement.objects.filter(
            Q(result__patient=patient)
            | Q(scheduled_check__patient=patient)
            | Q(symptom_report__patient=patient)
        )
        .select_related("acknowledged_by")
        .order_by("acknowledged_at", "pk")
    )
    symptom_reports = list(SymptomReport.objects.filter(patient=patient).order_by("created_at"))
    complete_since = None
    if patient.status == Patient.Status.MONITORING_COMPLETE:
        complete_since = _complete_since(patient)

    acks_of_result, acks_of_check, ack_of_symptoms = {}, {}, {}
    for ack in acknowledgements:
        entry = _acknowledgement(ack)
        if ack.result_id:
            acks_of_result.setdefault(ack.result_id, []).append(entry)
        elif ack.scheduled_check_id:
            acks_of_check.setdefault(ack.scheduled_check_id, []).append(entry)
        elif ack.symptom_report_id:
            ack_of_symptoms.setdefault(ack.symptom_report_id, entry)

    results_of_report: dict[int, list[ResultEntry]] = {}
    result_entries = []
    for result in results:
        result_entries.append(
            ResultEntry(
                pk=result.pk,
                analyte=result.analyte.name,
                value_text=result.value_text,
                unit=result.unit,
                comparator=result.comparator,
                sample_collected_on=result.sample_collected_on,
                tier=result.tier,
                tier_label=result.get_tier_display(),
                reasons=tuple(result.reasons or ()),
                next_action=result.next_action,
                in_error=bool(result.entered_in_error_at or result.report_in_error),
                acknowledgements=tuple(acks_of_result.get(result.pk, ())),
            )
        )
        results_of_report.setdefault(result.report_id, []).append(result_entries[-1])

    number_of_course = {course.pk: course.number for course in courses}
    entries, cancelled = [], 0
    for check in checks:
        if check.cancelled_at is not None:
            cancelled += 1
            continue
        entries.append(
            CheckEntry(
                pk=check.pk,
                due_date=check.due_date,
                test=check.get_panel_display(),
                kind=check.kind,
                status=CheckStatus(check.status),
                completed_on=check.completed_on,
                course_number=number_of_course.get(check.course_id),
                results=tuple(results_of_report.get(check.completed_by_id, ())),
                acknowledgements=tuple(acks_of_check.get(check.pk, ())),
                waived_at=check.waived_at,
                waived_by=person_name(check.waived_by),
                waived_reason=check.waived_reason,
            )
        )
    baselines_of: dict[int, list[CheckEntry]] = {}
    for check, entry in zip([c for c in checks if c.cancelled_at is None], entries, strict=True):
        if check.kind == ScheduledCheck.Kind.PRE_COURSE and check.course_id:
            baselines_of.setdefault(check.course_id, []).append(entry)

    completing = {check.completed_by_id for check in checks if check.completed_by_id}
    identity = Identity(
        pk=patient.pk,
        given_name=patient.given_name,
        family_name=patient.family_name,
        date_of_birth=patient.date_of_birth,
        sex=patient.sex,
        sex_label=patient.get_sex_display(),
        hospital_number=patient.hospital_number,
        clinic=patient.clinic.name,
        clinic_pk=patient.clinic_id,
        status=patient.status,
        status_label=patient.get_status_display(),
        protocol=patient.protocol.name,
        follow_up_months=patient.protocol.follow_up_months,
        named_nurse=person_name(patient.named_nurse),
        tracked_from=patient.tracked_from,
        follow_up_ends=patient.follow_up_ends,
        complete_since=complete_since,
    )
    return MonitoringRecord(
        identity=identity,
        courses=tuple(
            CourseEntry(
                pk=course.pk,
                number=course.number,
                first_infusion_date=course.first_infusion_date,
                last_infusion_date=course.last_infusion_date,
                days=course.days,
                daily_dose_mg=course.daily_dose_mg,
                status=course.status,
                status_label=course.get_status_display(),
                reasons=_course_reasons(course),
                baselines=tuple(baselines_of.get(course.pk, ())),
            )
            for course in courses
        ),
        checks=tuple(entries),
        cancelled_checks=cancelled,
        symptom_reports=tuple(
            SymptomEntry(
                pk=report.pk,
                reported_at=report.created_at,
                symptoms=tuple(report.symptom_labels),
                details=report.details,
                acknowledgement=ack_of_symptoms.get(report.pk),
            )
            for report in symptom_reports
        ),
        today=today,
        results=tuple(result_entries),
        unchecked_results=tuple(
            entry
            for report_id, entries_of in results_of_report.items()
            if report_id not in completing
            for entry in entries_of
        ),
        rows=RecordRows(
            checks=tuple(checks),
            results=tuple(results),
        ),
    )
