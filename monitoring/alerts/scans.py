"""The periodic scans that turn the passing of time into outbox rows.

Each scan is a fixed number of set-based queries, whatever the number of patients: clinics are
grouped by what "today" is in their time zone (at most a few dates at any instant) and by their
escalation settings, and each group becomes one OR-ed condition of a single query. The query
returns only the rows that have no notification yet, and the insert skips keys that exist, so
two scans at once store each alert once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from monitoring.alerts.follow_up_end import follow_up_end_scan
from monitoring.alerts.rules import (
    any_of,
    awaiting_acknowledgement,
    check_escalated,
    check_overdue,
    clinic_ids_by,
    open_checks_of_planned_patients,
    result_escalated,
    symptom_awaiting,
    symptom_escalated,
)
from monitoring.models import (
    URGENT_TIERS,
    LabResult,
    Notification,
    SymptomReport,
)
from monitoring.outbox.store import notification_row, notifications_store
from patients.models import Clinic, Patient

Kind = Notification.Kind
Delivery = Notification.Delivery


@dataclass(frozen=True)
class ClinicAlerting:
    pk: int
    today: date
    nurse_ids: list[int]
    lead_id: int | None
    critical_hours: int
    red_hours: int
    overdue_days: int

    def nurses_of(self, named_nurse_id: int | None) -> list[int]:
        return [named_nurse_id] if named_nurse_id else self.nurse_ids

    @property
    def escalation_ids(self) -> list[int]:
        """The clinic lead; a clinic with no lead set escalates to its nurse group."""
        return [self.lead_id] if self.lead_id else self.nurse_ids


@dataclass
class ScanCounts:
    created: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.created.values())


def clinics_alerting(now: datetime) -> dict[int, ClinicAlerting]:
    """Every clinic's local date and alert settings: two queries."""
    nurses = defaultdict(list)
    for clinic_id, user_id in Clinic.nurses.through.objects.values_list("clinic_id", "user_id"):
        nurses[clinic_id].append(user_id)
    return {
        clinic.pk: ClinicAlerting(
            pk=clinic.pk,
            today=clinic.today(now),
            nurse_ids=sorted(nurses[clinic.pk]),
            lead_id=clinic.lead_id,
            critical_hours=clinic.critical_escalation_hours,
            red_hours=clinic.red_escalation_hours,
            overdue_days=clinic.overdue_escalation_days,
        )
        for clinic in Clinic.objects.only(
            "time_zone",
            "lead_id",
            "critical_escalation_hours",
            "red_escalation_hours",
            "overdue_escalation_days",
        )
    }


def _unordered_open_checks():
    # Unordered: a scan needs every row, and sorting tens of thousands of them (the model's
    # default ordering) cost more than finding them.
    return open_checks_of_planned_patients().order_by()


def _has_notification(kind: str, **about) -> Exists:
    return Exists(Notification.objects.filter(kind=kind, **about))


def overdue_scan(*, now: datetime, clinics: dict[int, ClinicAlerting]) -> int:
    """Checks that have become overdue: one row per nurse for the daily digest, and one for the
    patient's daily e-mail."""
    groups = clinic_ids_by(clinics, lambda clinic: clinic.today)
    checks = (
        _unordered_open_checks()
        .filter(any_of(check_overdue(clinic_ids=ids, today=today) for today, ids in groups.items()))
        .exclude(_has_notification(Kind.OVERDUE, scheduled_check=OuterRef("pk")))
        .values_list(
            "pk",
            "patient_id",
            "patient__clinic_id",
            "patient__named_nurse_id",
            "patient__email_reminders",
            "patient__email",
        )
    )
    rows = []
    for check_id, patient_id, clinic_id, named_nurse_id, reminders, email in checks:
        about = {"kind": Kind.OVERDUE, "patient_id": patient_id, "check_id": check_id, "now": now}
        rows += [
            notification_row(delivery=Delivery.NURSE_DIGEST, user_id=nurse_id, **about)
            for nurse_id in clinics[clinic_id].nurses_of(named_nurse_id)
        ]
        if reminders and email:
            rows.append(
                notification_row(
                    delivery=Delivery.PATIENT_DAILY, recipient_patient_id=patient_id, **about
                )
            )
    notifications_store(rows)
    return len(rows)


def due_soon_scan(*, now: datetime, clinics: dict[int, ClinicAlerting]) -> int:
    """Reminders to patients at the lead times they chose: one query per lead time on offer."""
    groups = clinic_ids_by(clinics, lambda clinic: clinic.today)
    rows = []
    for lead in Patient.REMINDER_LEAD_DAYS:
        window = any_of(
            [
                Q(
                    patient__clinic_id__in=ids,
                    due_date__gte=today,
                    due_date__lte=today + timedelta(days=lead),
                )
                for today, ids in groups.items()
            ]
        )
        checks = (
            _unordered_open_checks()
            .filter(
                window,
                patient__email_reminders=True,
                patient__reminder_leads__in=Patient.lead_choices_with(lead),
            )
            .exclude(patient__email="")
            .exclude(
                _has_notification(Kind.DUE_SOON, scheduled_check=OuterRef("pk"), lead_days=lead)
            )
            .values_list("pk", "patient_id")
        )
        rows += [
            notification_row(
                kind=Kind.DUE_SOON,
                delivery=Delivery.PATIENT_DAILY,
                patient_id=patient_id,
                recipient_patient_id=patient_id,
                check_id=check_id,
                lead_days=lead,
                now=now,
            )
            for check_id, patient_id in checks
        ]
    notifications_store(rows)
    return len(rows)


def unacknowledged_scan(*, now: datetime, clinics: dict[int, ClinicAlerting]) -> int:
    """The safety net for results: any amber-or-worse result nobody has acknowledged and no
    nurse has been told about (a nurse group that was empty when it was saved, say)."""
    results = (
        LabResult.objects.filter(awaiting_acknowledgement())
        .order_by()
        .exclude(
            _has_notification(Kind.ABNORMAL_RESULT, result=OuterRef("pk"), tier=OuterRef("tier"))
        )
        .values_list("pk", "tier", "patient_id", "patient__clinic_id", "patient__named_nurse_id")
    )
    rows = [
        notification_row(
            kind=Kind.ABNORMAL_RESULT,
            delivery=Delivery.AT_ONCE if tier in URGENT_TIERS else Delivery.NURSE_DIGEST,
            patient_id=patient_id,
            user_id=nurse_id,
            result_id=result_id,
            tier=tier,
            now=now,
        )
        for result_id, tier, patient_id, clinic_id, named_nurse_id in results
        for nurse_id in clinics[clinic_id].nurses_of(named_nurse_id)
    ]
    notifications_store(rows)
    return len(rows)


def _escalations(clinics: dict[int, ClinicAlerting], now: datetime, items) -> list:
    """An at-once escalation row to each escalation recipient of the clinic, for every
    (what it is about, patient, clinic) in `items`."""
    return [
        notification_row(
            kind=Kind.ESCALATION,
            delivery=Delivery.AT_ONCE,
            patient_id=patient_id,
            user_id=user_id,
            now=now,
            **about,
        )
        for about, patient_id, clinic_id in items
        for user_id in clinics[clinic_id].escalation_ids
    ]


def escalation_scan(*, now: datetime, clinics: dict[int, ClinicAlerting]) -> int:
    """To the clinic lead: red and critical results unacknowledged past the clinic's deadline,
    symptom reports nobody has acknowledged by the red deadline, and checks still overdue the
    clinic's number of days after they became overdue."""
    late_results = any_of(
        result_escalated(clinic_ids=ids, now=now, critical_hours=critical, red_hours=red)
        for (critical, red), ids in clinic_ids_by(
            clinics, lambda clinic: (clinic.critical_hours, clinic.red_hours)
        ).items()
    )
    results = (
        LabResult.objects.filter(awaiting_acknowledgement())
        .order_by()
        .filter(late_results)
        .exclude(_has_notification(Kind.ESCALATION, result=OuterRef("pk"), tier=OuterRef("tier")))
        .values_list("pk", "tier", "patient_id", "patient__clinic_id")
    )
    rows = _escalations(
        clinics,
        now,
        (
            ({"result_id": pk, "tier": tier}, patient, clinic)
            for pk, tier, patient, clinic in results
        ),
    )
    late_reports = any_of(
        symptom_escalated(clinic_ids=ids, now=now, red_hours=red)
        for red, ids in clinic_ids_by(clinics, lambda clinic: clinic.red_hours).items()
    )
    reports = (
        SymptomReport.objects.filter(symptom_awaiting())
        .order_by()
        .filter(late_reports)
        .exclude(_has_notification(Kind.ESCALATION, symptom_report=OuterRef("pk")))
        .values_list("pk", "patient_id", "patient__clinic_id")
    )
    rows += _escalations(
        clinics,
        now,
        (({"symptom_report_id": pk}, patient, clinic) for pk, patient, clinic in reports),
    )
    long_overdue = any_of(
        check_escalated(clinic_ids=ids, today=today, overdue_days=days)
        for (today, days), ids in clinic_ids_by(
            clinics, lambda clinic: (clinic.today, clinic.overdue_days)
        ).items()
    )
    checks = (
        _unordered_open_checks()
        .filter(long_overdue)
        .exclude(_has_notification(Kind.ESCALATION, scheduled_check=OuterRef("pk")))
        .values_list("pk", "patient_id", "patient__clinic_id")
    )
    rows += _escalations(
        clinics, now, (({"check_id": pk}, patient, clinic) for pk, patient, clinic in checks)
    )
    notifications_store(rows)
    return len(rows)


SCANS = {
    # First: a patient who has finished is complete before the others look at them.
    "follow_up_end": follow_up_end_scan,
    "overdue": overdue_scan,
    "due_soon": due_soon_scan,
    "unacknowledged": unacknowledged_scan,
    "escalation": escalation_scan,
}


def scans_run(*, now: datetime) -> ScanCounts:
    """Every scan once, each in its own transaction so one failing does not undo the others."""
    clinics = clinics_alerting(now)
    counts = ScanCounts()
    for name, scan in SCANS.items():
        with transaction.atomic():
            counts.created[name] = scan(now=now, clinics=clinics)
    return counts
