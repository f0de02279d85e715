"""The monitoring record as a FHIR R4 document: a Bundle of type "document" whose first entry is
a Composition, built from the same reports.record.selectors.MonitoringRecord the PDF prints
(so the two cannot say different things), plus the rows it read for the existing builders of
labfeeds.fhir.resources (the CarePlan of the schedule, one Observation per result). It reads
nothing itself.

Choices, written once here:
- Composition.type: LOINC 18776-5 "Plan of care note": the record documents the monitoring plan
  and how it was followed (checks due, done, waived), which is what that code names; no LOINC
  document code names risk-management monitoring as such.
- Courses are Procedures, not MedicationAdministrations: a course may be planned or cancelled,
  and Procedure's statuses say so (planned "preparation", given "completed", cancelled
  "not-done" with its reason); MedicationAdministration has no status for "not yet given". The
  daily dose and days are in the Procedure's note and text.
- Symptom reports are Communications from the patient (sent, payload in their words), the
  nurse's acknowledgement a note on it. Acknowledgements of results are notes on their
  Observations; a check's acknowledgements and a waiver are in the CarePlan's narrative and
  the waivers section (the CarePlan activity of a waived check is "stopped" with its reason).
- The author is the clinic, an Organization; every narrative is XHTML built from escaped text.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from html import escape

from labfeeds.fhir.resources import care_plan_resource, observation_resource, patient_resource
from reports.record.selectors import AcknowledgementEntry, MonitoringRecord

LOINC = "http://loinc.org"
PLAN_OF_CARE_NOTE = {"system": LOINC, "code": "18776-5", "display": "Plan of care note"}
XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'
PROCEDURE_STATUSES = {"planned": "preparation", "given": "completed", "cancelled": "not-done"}
TITLE = "Monitoring record"


def _narrative(lines: list[str]) -> dict:
    """A generated narrative: each line escaped, one paragraph each."""
    body = "".join(f"<p>{escape(line)}</p>" for line in lines) or "<p>Nothing recorded.</p>"
    return {"status": "generated", "div": f"<div {XHTML}>{body}</div>"}


def _ack_text(ack: AcknowledgementEntry, zone) -> str:
    return (
        f"Acknowledged by {ack.by} on {ack.at.astimezone(zone):%d %b %Y %H:%M}: "
        f"{ack.action}. {ack.note}"
    )


def _annotation(ack: AcknowledgementEntry) -> dict:
    return {
        "authorString": ack.by,
        "time": ack.at.isoformat(),
        "text": f"{ack.action}. {ack.note}",
    }


def monitoring_document(
    record: MonitoringRecord, *, patient, base: str, now: datetime, zone
) -> dict:
    """The document Bundle. `patient` is the record's patient row (for the Patient builder),
    `base` the server's base URL ending in "/" (each entry's fullUrl is base + Type/id)."""
    person = record.identity
    organization = {
        "resourceType": "Organization",
        "id": f"clinic-{person.clinic_pk}",
        "name": person.clinic,
    }
    patient_ref = {"reference": f"Patient/{person.pk}", "display": person.name}
    clinic_ref = {"reference": f"Organization/{organization['id']}", "display": person.clinic}

    procedures = []
    for course in record.courses:
        dose = f"{course.daily_dose_mg.normalize():f} mg a day for {course.days} days"
        procedure = {
            "resourceType": "Procedure",
            "id": f"course-{course.pk}",
            "status": PROCEDURE_STATUSES.get(course.status, "unknown"),
            "code": {"text": f"Alemtuzumab (Lemtrada) infusion course {course.number}"},
            "subject": patient_ref,
            "performedPeriod": {
                "start": course.first_infusion_date.isoformat(),
                "end": course.last_infusion_date.isoformat(),
            },
            "note": [{"text": dose}] + [{"text": reason} for reason in course.reasons],
        }
        if course.status == "cancelled":
            reason = next((r for r in course.reasons if r.startswith("Cancelled")), "Cancelled.")
            procedure["statusReason"] = {"text": reason}
        procedures.append(procedure)

    care_plan = care_plan_resource(patient, list(record.rows.checks))
    entries_by_result = {result.pk: result for result in record.results}
    observations = []
    for row in record.rows.results:
        observation = observation_resource(row)
        entry = entries_by_result.get(row.pk)
        acks = entry.acknowledgements if entry else ()
        if acks:
            observation["note"] = [_annotation(ack) for ack in acks]
        observations.append(observation)

    communications = []
    for symptom in record.symptom_reports:
        text = "; ".join(symptom.symptoms)
        if symptom.details:
            text = f"{text}. In the patient's words: {symptom.details}" if text else symptom.details
        communication = {
            "resourceType": "Communication",
            "id": f"symptom-report-{symptom.pk}",
            "status": "completed",
            "category": [{"text": "Symptom report through the patient portal"}],
            "subject": patient_ref,
            "sender": patient_ref,
            "sent": symptom.reported_at.isoformat(),
            "payload": [{"contentString": text or "A symptom report."}],
        }
        if symptom.acknowledgement:
            communication["note"] = [_annotation(symptom.acknowledgement)]
        communications.append(communication)

    def ref(resource: dict) -> dict:
        return {"reference": f"{resource['resourceType']}/{resource['id']}"}

    course_lines = [
        f"Course {c.number}: from {c.first_infusion_date:%d %b %Y}, {c.days} days, "
        f"{c.daily_dose_mg.normalize():f} mg a day, {c.status_label.lower()}."
        + "".join(f" {reason}." for reason in c.reasons)
        for c in record.courses
    ]
    check_lines = [
        f"{check.due_date:%d %b %Y} {check.test}: {check.status.label.lower()}"
        + (f", done {check.completed_on:%d %b %Y}" if check.completed_on else "")
        + "."
        + "".join(f" {_ack_text(ack, zone)}" for ack in check.acknowledgements)
        for check in record.checks
    ]
    if record.cancelled_checks:
        check_lines.append(f"{record.cancelled_checks} cancelled checks are not listed.")
    result_lines = [
        f"{result.sample_collected_on:%d %b %Y} {result.analyte}: {result.value}"
        + (" (entered in error)" if result.in_error else f", {result.tier_label.lower()}")
        + "".join(f" {reason}" for reason in result.reasons if result.tier != "normal")
        + (f" Next: {result.next_action}" if result.next_action else "")
        + "".join(f" {_ack_text(ack, zone)}" for ack in result.acknowledgements)
        for result in record.results
    ]
    waiver_lines = [
        f"{check.due_date:%d %b %Y} {check.test}: waived by {check.waived_by} on "
        f"{check.waived_at.astimezone(zone):%d %b %Y %H:%M}. {check.waived_reason}"
        for check in record.waived
    ]
    symptom_lines = [
        f"{s.reported_at.astimezone(zone):%d %b %Y %H:%M}: {'; '.join(s.symptoms)}. {s.details} "
        + (_ack_text(s.acknowledgement, zone) if s.acknowledgement else "Awaiting a nurse.")
        for s in record.symptom_reports
    ]
    if person.follow_up_ends:
        end_lines = [f"Follow-up ends on {person.follow_up_ends:%d %b %Y}."]
    else:
        end_lines = ["No end of follow-up yet: no course is planned or given."]
    if person.complete_since:
        end_lines.append(
            f"Monitoring complete since {person.complete_since.astimezone(zone):%d %b %Y}."
        )
    else:
        end_lines.append(f"Status: {person.status_label}.")

    def section(title: str, code: str, lines: list[str], resources: list[dict]) -> dict:
        made = {"title": title, "code": {"text": code}, "text": _narrative(lines)}
        if resources:
            made["entry"] = [ref(resource) for resource in resources]
        else:
            made["emptyReason"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                        "code": "nilknown",
                        "display": "Nil Known",
                    }
                ]
            }
        return made

    waived_plan = [care_plan] if record.waived else []
    composition = {
        "resourceType": "Composition",
        "id": f"monitoring-record-{person.pk}",
        "status": "final",
        "type": {"coding": [PLAN_OF_CARE_NOTE], "text": TITLE},
        "subject": patient_ref,
        "date": now.isoformat(),
        "author": [clinic_ref],
        "custodian": clinic_ref,
        "title": TITLE,
        "section": [
            section("Courses", "Alemtuzumab courses", course_lines, procedures),
            section("Checks", "Monitoring checks", check_lines, [care_plan]),
            section("Results", "Laboratory results", result_lines, observations),
            section("Waivers", "Checks waived", waiver_lines, waived_plan),
            section("Symptom reports", "Symptoms reported", symptom_lines, communications),
            section("End of follow-up", "End of follow-up", end_lines, [care_plan]),
        ],
    }
    resources = [
        composition,
        patient_resource(patient),
        organization,
        *procedures,
        care_plan,
        *observations,
        *communications,
    ]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": "document",
        "timestamp": now.isoformat(),
        "entry": [
            {"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }
