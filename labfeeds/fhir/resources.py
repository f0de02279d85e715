"""What the FHIR API shows: our patients, results and schedules as FHIR R4 resources (plain
dicts, written as JSON by labfeeds.fhir.outcomes.fhir_json; the tests validate each with
fhir.resources' R4B models, which are R4's for these resources). Each read is a fixed number
of queries however many results or checks it shows.

The mappings, written once here:
- Observation.status: our final, preliminary and corrected as themselves; a result entered in
  error, or on a report entered in error, is "entered-in-error". Never "amended": a result's
  versions (history) change for re-flagging too, so they cannot tell an amended value apart.
- Observation.interpretation (v3 ObservationInterpretation) from our tier: normal N, low L,
  high H, amber A (abnormal: a nurse acknowledges it), red and critical AA (critical
  abnormal: act today, or at once). The tier itself is the coding's text.
- CarePlan.status: active monitoring "active", monitoring complete "completed", withdrawn,
  transferred or deceased "revoked".
- CarePlan.activity.detail.status from the check's status: upcoming "scheduled"; due (its
  window is open) "in-progress"; overdue "not-started" (the window has closed with nothing
  done; statusReason says overdue); completed (on time or late) "completed"; waived
  "stopped"; cancelled "cancelled"; before the patient's tracking start "unknown" (history
  the clinic never tracked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db.models import Exists, OuterRef, QuerySet

from labfeeds.fhir.reading import LOINC, UCUM
from labfeeds.intake import clinic_identifier_system
from monitoring.domain.check_status import CheckStatus
from monitoring.domain.units import unit_key
from monitoring.models import LabReport, LabResult, ScheduledCheck
from monitoring.schedule.visits import therapy_words
from patients.models import Patient

INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATIONS = {
    "normal": ("N", "Normal"),
    "low": ("L", "Low"),
    "high": ("H", "High"),
    "amber": ("A", "Abnormal"),
    "red": ("AA", "Critical abnormal"),
    "critical": ("AA", "Critical abnormal"),
}
# The catalogue's units (docs/clinical-reference.md section 4) as UCUM codes: those that are
# valid UCUM as written, and the few the catalogue writes otherwise.
UCUM_OF_UNIT = {
    unit_key(spelling): code
    for spelling, code in (
        ("g/L", "g/L"),
        ("g/dL", "g/dL"),
        ("umol/L", "umol/L"),
        ("mg/dL", "mg/dL"),
        ("pmol/L", "pmol/L"),
        ("ng/dL", "ng/dL"),
        ("U/L", "U/L"),
        ("mU/L", "mU/L"),
        ("10^9/L", "10*9/L"),
        ("10^3/uL", "10*3/uL"),
        ("uIU/mL", "u[IU]/mL"),
        ("/hpf", "/[HPF]"),
    )
}
PATIENT_GENDERS = {Patient.Sex.FEMALE: "female", Patient.Sex.MALE: "male"}
CARE_PLAN_STATUSES = {
    Patient.Status.ACTIVE: "active",
    Patient.Status.MONITORING_COMPLETE: "completed",
}
ACTIVITY_STATUSES = {
    CheckStatus.UPCOMING: "scheduled",
    CheckStatus.DUE: "in-progress",
    CheckStatus.OVERDUE: "not-started",
    CheckStatus.COMPLETED: "completed",
    CheckStatus.COMPLETED_LATE: "completed",
    CheckStatus.WAIVED: "stopped",
    CheckStatus.CANCELLED: "cancelled",
    CheckStatus.BEFORE_TRACKING: "unknown",
}


def patient_resource(patient: Patient) -> dict:
    resource = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "identifier": [
            {
                "use": "usual",
                "system": clinic_identifier_system(patient.clinic),
                "value": patient.hospital_number,
            }
        ],
        "name": [{"family": patient.family_name, "given": [patient.given_name]}],
        "birthDate": patient.date_of_birth.isoformat(),
        "managingOrganization": {"display": patient.clinic.name},
    }
    # "Other / not stated" is two FHIR genders (other, unknown): nothing is said rather
    # than the wrong one.
    if patient.sex in PATIENT_GENDERS:
        resource["gender"] = PATIENT_GENDERS[patient.sex]
    return resource


@dataclass(frozen=True)
class ObservationSearch:
    patient: Patient
    analyte_ids: tuple[int, ...] | None = None  # of the LOINC codes asked for; None: all
    date_from: date | None = None  # inclusive
    date_to: date | None = None  # inclusive
    count: int = 50
    offset: int = 0


def observations_found(search: ObservationSearch) -> tuple[list[LabResult], int]:
    """One page of the patient's results, newest sample first, and how many there are in all:
    two queries (the page, with its analytes and reports; the total)."""
    results = _results(search)
    total = results.count()
    page = list(results[search.offset : search.offset + search.count])
    return page, total


def observation_in(patients: QuerySet[Patient], pk: int) -> LabResult | None:
    """The result `pk` if its patient is among `patients`: one query."""
    return (
        _with_report_state(LabResult.objects.filter(pk=pk, patient__in=patients))
        .select_related("patient")
        .first()
    )


def _with_report_state(results: QuerySet[LabResult]) -> QuerySet[LabResult]:
    reports_in_error = LabReport.objects.filter(
        pk=OuterRef("report_id"), entered_in_error_at__isnull=False
    )
    return results.select_related("analyte", "report").annotate(
        report_in_error=Exists(reports_in_error)
    )


def _results(search: ObservationSearch) -> QuerySet[LabResult]:
    results = _with_report_state(LabResult.objects.filter(patient=search.patient)).order_by(
        "-sample_collected_on", "analyte__display_order", "-pk"
    )
    if search.analyte_ids is not None:
        results = results.filter(analyte_id__in=search.analyte_ids)
    if search.date_from is not None:
        results = results.filter(sample_collected_on__gte=search.date_from)
    if search.date_to is not None:
        results = results.filter(sample_collected_on__lte=search.date_to)
    return results


def observation_resource(result: LabResult) -> dict:
    """One result. `result` comes from observations_found (its analyte, its report and
    whether that is in error read with it)."""
    analyte = result.analyte
    in_error = result.is_entered_in_error or getattr(result, "report_in_error", False)
    resource = {
        "resourceType": "Observation",
        "id": str(result.pk),
        "meta": {"lastUpdated": result.updated_at.isoformat()},
        "status": "entered-in-error" if in_error else result.status,
        "category": [{"coding": [{"system": CATEGORY, "code": "laboratory"}]}],
        "code": _analyte_code(analyte),
        "subject": {"reference": f"Patient/{result.patient_id}"},
        "effectiveDateTime": result.sample_collected_on.isoformat(),
        "issued": result.report.entered_at.isoformat(),
    }
    if analyte.is_ordinal:
        resource["valueCodeableConcept"] = {"text": result.value_text}
    else:
        resource["valueQuantity"] = _quantity(result.value_text, result.unit, result.comparator)
    if not in_error:
        code, display = INTERPRETATIONS.get(result.tier, ("", ""))
        if code:
            resource["interpretation"] = [
                {
                    "coding": [{"system": INTERPRETATION, "code": code, "display": display}],
                    "text": result.get_tier_display(),
                }
            ]
    low, high = result.reference_range
    if not analyte.is_ordinal and (low is not None or high is not None):
        # Stored (and here given) in the analyte's canonical unit, which may not be the
        # unit the value was entered in.
        reference = {}
        if low is not None:
            reference["low"] = _quantity(format(low.normalize(), "f"), analyte.canonical_unit)
        if high is not None:
            reference["high"] = _quantity(format(high.normalize(), "f"), analyte.canonical_unit)
        resource["referenceRange"] = [reference]
    if result.report.lab_name:
        resource["performer"] = [{"display": result.report.lab_name}]
    return resource


def _analyte_code(analyte) -> dict:
    if not analyte.loinc:
        return {"text": analyte.name}  # an outcome of a check done without a value
    return {
        "coding": [{"system": LOINC, "code": analyte.loinc, "display": analyte.name}],
        "text": analyte.name,
    }


def _quantity(value_text: str, unit: str, comparator: str = "") -> dict:
    quantity: dict = {}
    try:
        quantity["value"] = Decimal(value_text)
    except InvalidOperation:
        return {"unit": unit} if unit else {}
    if comparator:
        quantity["comparator"] = comparator
    if unit:
        quantity["unit"] = unit
        code = UCUM_OF_UNIT.get(unit_key(unit))
        if code:
            quantity["system"] = UCUM
            quantity["code"] = code
    return quantity


def care_plan_checks(patient: Patient) -> list[ScheduledCheck]:
    """Every check of the patient's schedule, with its status on the clinic's today, its
    protocol item and its episode with the episode's protocol (the therapy it is for): one
    query."""
    return list(
        ScheduledCheck.objects.filter(patient=patient)
        .with_status(patient.clinic.today())
        .select_related("protocol_item", "episode__protocol")
        .order_by("due_date", "panel", "pk")
    )


def care_plan_resource(patient: Patient, checks: list[ScheduledCheck]) -> dict:
    """The patient's schedule as one CarePlan, one activity per scheduled check.

    A visit two therapies share keeps both activities (each is its therapy's check, with its
    own status, and a reader counting a therapy's checks finds them all), and the one on the
    other's visit says so in its description, naming the check whose visit and draw it
    shares, so a reader listing visits can show it once."""
    hosts = {(check.panel, check.due_date): check for check in checks if not check.shares_visit}
    resource = {
        "resourceType": "CarePlan",
        "id": f"schedule-{patient.pk}",
        "status": CARE_PLAN_STATUSES.get(patient.status, "revoked"),
        "intent": "plan",
        "title": "Monitoring after alemtuzumab",
        "description": (
            f"The checks of {patient.protocol.name}, the monitoring protocol this patient "
            "follows: each activity is one check, its window from when it opens to when it "
            "is overdue."
        ),
        "subject": {"reference": f"Patient/{patient.pk}"},
        "activity": [{"detail": _activity(check, hosts)} for check in checks],
    }
    if patient.other_therapies:
        # Not alemtuzumab's plan alone: each activity names its therapy's protocol.
        protocols = sorted(
            {check.episode.protocol.name for check in checks if check.episode_id}
            | ({patient.protocol.name} if any(not c.episode_id for c in checks) else set())
        )
        resource["title"] = "Monitoring of disease-modifying therapies"
        resource["description"] = (
            f"The checks of {', '.join(protocols) or 'no protocol yet'}, the monitoring "
            "protocols this patient follows: each activity is one check, its window from when "
            "it opens to when it is overdue; a check on another therapy's visit says so."
        )
    if checks:
        period = {"start": min(check.window_opens for check in checks).isoformat()}
        # The end of follow-up is alemtuzumab's: another therapy runs until it is stopped.
        if patient.follow_up_ends and not patient.other_therapies:
            period["end"] = patient.follow_up_ends.isoformat()
        resource["period"] = period
    if not checks:
        del resource["activity"]
    return resource


def _activity(check: ScheduledCheck, hosts: dict) -> dict:
    status = CheckStatus(check.status)
    description = _activity_description(check, status)
    if check.shares_visit:
        host = hosts.get((check.panel, check.due_date))
        description += f" For {therapy_words(check)}: "
        description += (
            f"on the same visit and blood draw as the {therapy_words(host)} check."
            if host is not None
            else "on the same visit and blood draw as another therapy's check."
        )
    detail = {
        "kind": "ServiceRequest",
        "code": {"text": check.get_panel_display()},
        "status": ACTIVITY_STATUSES[status],
        "scheduledPeriod": {
            "start": check.window_opens.isoformat(),
            "end": check.overdue_after.isoformat(),
        },
        "description": description,
    }
    reason = _status_reason(check, status)
    if reason:
        detail["statusReason"] = {"text": reason}
    return detail


def _activity_description(check: ScheduledCheck, status: CheckStatus) -> str:
    what = check.protocol_item.tests if check.protocol_item else check.get_kind_display()
    text = f"{what}: due {check.due_date.isoformat()}"
    if check.completed_on:
        text += f", done {check.completed_on.isoformat()}"
    return f"{text} ({status.label.lower()})."


def _status_reason(check: ScheduledCheck, status: CheckStatus) -> str:
    if status == CheckStatus.OVERDUE:
        return f"Overdue: not done by {check.overdue_after.isoformat()}."
    if status == CheckStatus.COMPLETED_LATE:
        return "Completed after its window."
    if status == CheckStatus.WAIVED:
        return f"Waived: {check.waived_reason}" if check.waived_reason else "Waived."
    if status == CheckStatus.CANCELLED:
        return check.cancelled_reason or "Cancelled."
    if status == CheckStatus.BEFORE_TRACKING:
        return "Overdue before the clinic began tracking this patient: history, not work."
    return ""
