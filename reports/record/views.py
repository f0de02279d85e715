"""The monitoring record as a PDF: a staff screen (the portal shows a patient their own
schedule and results; the record with every nurse's note is the clinic's documentation)."""

from __future__ import annotations

import re

from django.http import HttpResponse
from django.utils import timezone
from django.views import View

from audit.access import record_access
from patients.access import StaffAccessMixin, patient_for

from .pdf import record_pdf
from .selectors import monitoring_record

# What a file name keeps of a hospital number: letters, digits, "-" and "_" (ASCII), the rest
# a "_", so no quote, slash, space or control character reaches the header or the disk.
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def record_file_name(hospital_number: str, day) -> str:
    safe = _UNSAFE.sub("_", hospital_number).strip("_")[:40] or "patient"
    return f"{safe}-monitoring-record-{day:%Y-%m-%d}.pdf"


class PatientRecordView(StaffAccessMixin, View):
    permission_required = ("reports.export_reports",)

    def get(self, request, pk):
        patient = patient_for(request, pk)
        now = timezone.now()
        today = patient.clinic.today(now)
        record = monitoring_record(patient, today=today)
        content = record_pdf(record, printed_at=now, zone=patient.clinic.zone)
        record_access(request, patient, "monitoring record (PDF)")
        response = HttpResponse(content, content_type="application/pdf")
        name = record_file_name(patient.hospital_number, today)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response
