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
from monitoring.models import Acknowledgement, Notification
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
    the same tier and not acknowledged. One query, for the acknowledgements."""
    result_ids = [row.result_id for row in rows if row.result_id]
    acknowledged = set(
        Acknowledgement.objects.filter(result_id__in=result_ids).values_list("result_id", "tier")
        if result_ids
        else []
    )
    return [row for row in rows if _still_relevant(row, acknowledged)]


def _still_relevant(row: Notification, acknowledged: set) -> bool:
    if row.kind == Kind.MONITORING_ENDED:
        # Not once a new course has re-opened monitoring, nor after a status change.
        return row.patient.status == row.patient.Status.MONITORING_COMPLETE
    if not row.patient.is_planned:
        # Withdrawn, deceased or transferred: their queued rows were cancelled with the change
        # of status, and nothing created since (a late result) goes to them or about them.
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
    count = len({(row.kind, row.scheduled_check_id, row.result_id) for row in rows})
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
    }
    one = count == 1
    subject = SUBJECTS[delivery].format(
        count=count, s="" if one else "s", need="needs" if one else "need"
    )
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


def describe(row: Notification) -> str:
    """One line of a staff message: which patient, what, and what to do next."""
    who = _patient_label(row.patient)
    if row.result_id:
        result = row.result
        sample = _day(result.sample_collected_on)
        what = f"{row.tier.upper()} {result.analyte.name} result, sample of {sample}, for {who}"
        if row.kind == Kind.ESCALATION:
            what = f"ESCALATION: {what}, not acknowledged"
        return f"{what}. Next action: {result.next_action}"
    if row.kind == Kind.MONITORING_ENDED:
        return f"{who}: routine monitoring has ended; the patient has been told."
    if row.kind == Kind.SYMPTOM_REPORT:
        # Which symptom stays on the worklist: e-mail is not a private channel.
        reported = row.created_at.astimezone(row.patient.clinic.zone)
        return (
            f"{who} reported a symptom through the patient portal at "
            f"{time_format(reported)} on {_day(reported)}. Call the patient today; the details "
            "and the urgent check are on your worklist."
        )
    check = row.scheduled_check
    panel = check.get_panel_display()
    late = _day(check.overdue_after + timedelta(days=1))
    if row.kind == Kind.ESCALATION:
        return f"ESCALATION: {panel} for {who}, overdue since {late} and still not done."
    return f"{panel} for {who}, due {_day(check.due_date)}, overdue since {late}."


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
