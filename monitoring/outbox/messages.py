"""What a batch of outbox rows says. E-mail is not a private channel, so messages carry no
result values: staff get the patient's hospital number, the kind and tier of the alert and the
next action, with a link to sign in; patients get only which tests are due and when."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format, time_format

from monitoring.domain.tiers import urgency_rank
from monitoring.models import Acknowledgement, Notification, SymptomReport
from monitoring.outbox.channels import OutgoingMessage

Kind = Notification.Kind
Delivery = Notification.Delivery

SUBJECTS = {
    Delivery.AT_ONCE: "Urgent: {count} monitoring alert{s} {need} action today",
    Delivery.NURSE_DIGEST: "Daily monitoring digest: {count} item{s}",
    Delivery.PATIENT_DAILY: "Your monitoring tests",
}


ENDED_SUBJECT = "Your routine monitoring has ended"


def relevant_rows(rows: list[Notification]) -> list[Notification]:
    """The rows still worth sending: the check is still open, the result still current, at
    the same tier and not acknowledged, the symptom report not acknowledged. One query for the
    acknowledgements, and one for the symptom reports when a row is about one (which also
    gives `describe` their time without a query per row)."""
    result_ids = [row.result_id for row in rows if row.result_id]
    acknowledged = set(
        Acknowledgement.objects.filter(result_id__in=result_ids).values_list("result_id", "tier")
        if result_ids
        else []
    )
    report_ids = {row.symptom_report_id for row in rows if row.symptom_report_id}
    if report_ids:
        reports = SymptomReport.objects.in_bulk(report_ids)
        for row in rows:
            if row.symptom_report_id:
                row.symptom_report = reports[row.symptom_report_id]
    return [row for row in rows if _still_relevant(row, acknowledged)]


def _still_relevant(row: Notification, acknowledged: set) -> bool:
    if row.kind == Kind.MONITORING_ENDED:
        # Not once a new course has re-opened monitoring, nor after a status change.
        return row.patient.status == row.patient.Status.MONITORING_COMPLETE
    if not row.patient.is_planned:
        # Withdrawn, deceased or transferred: their queued rows were cancelled with the change
        # of status, and nothing created since (a late result) goes to them or about them.
        return False
    if row.symptom_report_id and not row.symptom_report.awaits_acknowledgement:
        # A nurse has dealt with the report: neither her alert nor the lead's escalation is
        # needed any more (the urgent check's own overdue alerts follow the check).
        return False
    if row.scheduled_check_id:
        return row.scheduled_check.is_open
    if row.result_id:
        result = row.result
        return (
            not result.is_entered_in_error
            and not result.report.is_entered_in_error
            and result.tier == row.tier
            and (result.pk, result.tier) not in acknowledged
        )
    return True


def message_for(
    delivery: str, recipient, rows: list[Notification], reference: uuid.UUID
) -> OutgoingMessage:
    count = len(
        {(row.kind, row.scheduled_check_id, row.result_id, row.symptom_report_id) for row in rows}
    )
    # Dates in the clinic's format (a nurse of several clinics: the first patient's clinic).
    locale = rows[0].patient.clinic.date_locale if rows else settings.LANGUAGE_CODE
    with translation.override(locale):
        return _message(delivery, rows, count, recipient, reference)


def _message(delivery: str, rows: list[Notification], count: int, recipient, reference: uuid.UUID):
    context = {
        "recipient": recipient,
        "lines": [describe(row) for row in sorted(rows, key=_urgency)],
        "worklist_url": settings.SITE_URL.rstrip("/") + reverse("monitoring:worklist"),
        "clinic_name": rows[0].patient.clinic.name if rows else "",
        "symptom_reported": any(row.kind == Kind.SYMPTOM_REPORT for row in rows),
        "fallback_note": _fallback_note(rows),
    }
    one = count == 1
    subject = SUBJECTS[delivery].format(
        count=count, s="" if one else "s", need="needs" if one else "need"
    )
    if delivery == Delivery.NURSE_DIGEST:
        context.update(_digest(rows))
    if delivery == Delivery.PATIENT_DAILY:
        checks = [row for row in rows if row.scheduled_check_id]
        context["lines"] = [_patient_line(row) for row in _patient_checks(checks)]
        if getattr(recipient, "user_id", None):
            # A patient with a portal account can change the reminders there.
            context["reminders_url"] = settings.SITE_URL.rstrip("/") + reverse("portal:reminders")
        ended = [row for row in rows if row.kind == Kind.MONITORING_ENDED]
        if ended:
            context["monitoring_ended_on"] = _day(ended[0].patient.follow_up_ends)
            if not checks:
                subject = ENDED_SUBJECT
    return OutgoingMessage(
        subject=subject,
        body=render_to_string(f"notifications/{delivery}.txt", context),
        reference=str(reference),
    )


def _fallback_note(rows: list[Notification]) -> str:
    """Why a nurse or lead gets alerts that were not addressed to them (the fallback chain)."""
    missed = {
        row.fallback_for.recipient_user.get_full_name() or row.fallback_for.recipient_user.username
        for row in rows
        if row.fallback_for_id and row.fallback_for.recipient_user_id
    }
    if not missed:
        return ""
    names = " or ".join(sorted(missed))
    return f"Some of these could not be delivered to {names}, so they come to you instead."


def _urgency(row: Notification):
    tier_rank = urgency_rank(row.tier)
    kinds = [
        Kind.SYMPTOM_REPORT,
        Kind.ESCALATION,
        Kind.ABNORMAL_RESULT,
        Kind.OVERDUE,
        Kind.DUE_SOON,
        Kind.MONITORING_ENDED,
    ]
    kind_rank = kinds.index(row.kind)
    return (kind_rank, tier_rank, row.patient.family_name, row.created_at)


def _patient_checks(rows: list[Notification]):
    """Each check once, even when its 7-day and 1-day reminders fall on the same day."""
    seen = {}
    for row in sorted(rows, key=lambda row: row.scheduled_check.due_date):
        seen.setdefault(row.scheduled_check_id, row)
    return list(seen.values())


def _day(value) -> str:
    return date_format(value, "DATE_FORMAT")


def _patient_label(patient) -> str:
    return f"{patient.hospital_number} ({patient.given_name[:1]}. {patient.family_name})"


def describe(row: Notification, *, named: bool = True) -> str:
    """One line of a staff message: which patient, what, and what to do next. `named=False`
    leaves the patient out, for a line under the patient's own heading (the digest)."""
    who = _patient_label(row.patient)
    for_who = f" for {who}" if named else ""
    if row.result_id:
        result = row.result
        sample = _day(result.sample_collected_on)
        if named:
            sample = f"{sample}, for {who}"
        what = f"{row.tier.upper()} {result.analyte.name} result, sample of {sample}"
        if row.kind == Kind.ESCALATION:
            what = f"ESCALATION: {what}, not acknowledged"
        return f"{what}. Next action: {result.next_action}"
    if row.kind == Kind.MONITORING_ENDED:
        ended = "routine monitoring has ended; the patient has been told."
        return f"{who}: {ended}" if named else ended.capitalize()
    if row.kind == Kind.SYMPTOM_REPORT:
        # Which symptom stays on the worklist: e-mail is not a private channel.
        reported = row.created_at.astimezone(row.patient.clinic.zone)
        return (
            f"{who if named else 'The patient'} reported a symptom through the patient portal at "
            f"{time_format(reported)} on {_day(reported)}. Call the patient today; the details "
            "and the urgent check are on your worklist."
        )
    if row.symptom_report_id and row.kind == Kind.ESCALATION:
        # As the nurse's alert: which symptom stays on the worklist.
        reported = row.symptom_report.created_at.astimezone(row.patient.clinic.zone)
        return (
            f"ESCALATION: {who} reported a symptom at {time_format(reported)} on "
            f"{_day(reported)} and nobody has acknowledged it yet. Call the patient today."
        )
    check = row.scheduled_check
    panel = check.get_panel_display()
    late = _day(check.overdue_after + timedelta(days=1))
    if row.kind == Kind.ESCALATION:
        return f"ESCALATION: {panel}{for_who}, overdue since {late} and still not done."
    return f"{panel}{for_who}, due {_day(check.due_date)}, overdue since {late}."


# The digest's summary line: what each kind of item is called, in the singular and plural.
DIGEST_SECTIONS = {
    Kind.SYMPTOM_REPORT: ("symptom report", "symptom reports"),
    Kind.ESCALATION: ("escalation", "escalations"),
    Kind.ABNORMAL_RESULT: ("result to acknowledge", "results to acknowledge"),
    Kind.OVERDUE: ("overdue check", "overdue checks"),
    Kind.DUE_SOON: ("check due soon", "checks due soon"),
    Kind.MONITORING_ENDED: ("patient whose monitoring ended", "patients whose monitoring ended"),
}


def counted(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _in_words(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _digest(rows: list[Notification]) -> dict:
    """The digest grouped by patient, most urgent patient first, with counts per section."""
    by_patient: dict[int, list[Notification]] = {}
    for row in sorted(rows, key=_urgency):
        by_patient.setdefault(row.patient_id, []).append(row)
    items: dict[str, set] = {}
    for row in rows:
        items.setdefault(row.kind, set()).add((row.scheduled_check_id, row.result_id))
    sections = [
        counted(len(items[kind]), *names)
        for kind, names in DIGEST_SECTIONS.items()
        if kind in items
    ]
    patients = counted(len(by_patient), "patient", "patients")
    return {
        "summary": f"{_in_words(sections)}, for {patients}" if sections else "",
        "patients": [
            {
                "label": _patient_label(group[0].patient),
                "lines": [describe(row, named=False) for row in group],
            }
            for group in by_patient.values()
        ],
    }


def _patient_line(row: Notification) -> str:
    """A window is quoted only while some of it is ahead: a reminder sent late, or read in
    December, must not offer August. A check past its window reads as overdue, whatever the
    kind of reminder it was queued as."""
    check = row.scheduled_check
    test = check.get_panel_display()
    today = row.patient.clinic.today()
    if row.kind == Kind.OVERDUE or check.overdue_after < today:
        return f"{test}: was due {_day(check.due_date)}. Please book it as soon as you can."
    due = f"{test}: due {_day(check.due_date)}"
    if check.window_opens == check.overdue_after:
        return f"{due}."
    if check.window_opens > today:
        return f"{due} (any day from {_day(check.window_opens)} to {_day(check.overdue_after)})."
    return f"{due} (any day until {_day(check.overdue_after)})."
