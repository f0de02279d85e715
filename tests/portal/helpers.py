"""Builders shared by the portal tests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from monitoring.alerts.services import result_acknowledge
from monitoring.models import Analyte
from monitoring.results.entry import ResultInput
from monitoring.results.services import report_record
from patients.services import course_add


def two_courses(patient, *, first: date):
    """Course 1 on `first`, course 2 thirteen months later: the usual two-course patient."""
    course_add(
        patient=patient, first_infusion_date=first, daily_dose_mg=Decimal(12), status="given"
    )
    course_add(
        patient=patient,
        first_infusion_date=first + relativedelta(months=13),
        daily_dose_mg=Decimal(12),
        status="given",
    )


def platelet_count(patient, value, *, entered_by, days_ago: int = 3):
    """A platelet count of `value` (x10^9/L) from a sample `days_ago` days before today:
    250 normal, 120 amber, 80 red, 45 critical."""
    analyte = Analyte.objects.get(code="platelets")
    report = report_record(
        patient=patient,
        panel="blood_count",
        sample_collected_on=patient.clinic.today() - timedelta(days=days_ago),
        entries=[ResultInput(analyte, str(value), "10^9/L")],
        entered_by=entered_by,
    ).report
    return report.results.get()


def acknowledge(result, nurse, action="called_patient"):
    return result_acknowledge(
        result=result,
        action=action,
        note="Spoke to the patient; repeat count booked for tomorrow.",
        acknowledged_by=nurse,
        now=timezone.now(),
    )
