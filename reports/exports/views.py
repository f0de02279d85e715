"""The export screens. Each answers a file when the address names a format (csv or xlsx), and
otherwise a small page to choose the options and the format. Every export is recorded in the
audit trail before its first byte is written; bad parameters are a 400 that says which."""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views import View

from audit.access import record_export
from audit.selectors import TrailFilters
from monitoring.worklist.selectors import clinics_of
from patients.access import StaffAccessMixin, clinics_for, in_scope_or_404, patient_for
from reports.figures.selectors import ALL_NURSES, NO_NAMED_NURSE, adherence_table

from .adherence import adherence_rows
from .audit_trail import MAX_DAYS, audit_trail_rows, audit_trail_subjects
from .results_grid import results_grid_rows
from .who_to_call import MINE, who_to_call_checks, who_to_call_rows
from .writers import FORMATS, Export, export_response

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# Ids longer than this are no id of ours (and would overflow the database's integers).
_MAX_ID_DIGITS = 18


class BadParameter(ValueError):
    """A parameter of the address that the export cannot use: said back in a 400."""


class ExportView(StaffAccessMixin, View):
    permission_required = ("reports.export_reports",)
    title = ""
    description = ""

    def get(self, request, **kwargs):
        try:
            fmt = _format(request)
            return self.answer(request, fmt, **kwargs)
        except BadParameter as problem:
            return render(request, "400.html", {"message": str(problem)}, status=400)

    def answer(self, request, fmt: str | None, **kwargs):
        raise NotImplementedError

    def page(self, request, fields: list[dict], back_url: str = ""):
        context = {
            "title": self.title,
            "description": self.description,
            "fields": fields,
            "back_url": back_url,
        }
        return render(request, "reports/exports/export.html", context)


def _format(request) -> str | None:
    fmt = request.GET.get("format")
    if fmt is None:
        return None
    if fmt not in FORMATS:
        raise BadParameter(f"The format must be csv or xlsx, not “{fmt[:20]}”.")
    return fmt


def _clinic(request):
    """The clinic the address names (its id, or its code), within the user's clinics (another
    clinic's: 404); none named: the user's first clinic."""
    clinics = clinics_for(request.user)
    value = request.GET.get("clinic", "").strip()
    if not value:
        return clinics.first()
    if value.isascii() and value.isdigit() and len(value) <= _MAX_ID_DIGITS:
        return in_scope_or_404(request, clinics, pk=int(value))
    return in_scope_or_404(request, clinics, code=value[:64])


def _clinic_field(request, clinic) -> list[dict]:
    choices = [(str(each.pk), each.name) for each in clinics_for(request.user)]
    return [_field("clinic", "Clinic", value=str(clinic.pk), choices=choices)]


class WhoToCallView(ExportView):
    title = "Who to call today"
    description = (
        "Patients with open checks overdue or due within 7 days, most overdue first: contact "
        "details, named nurse, how overdue, and which tests."
    )

    def answer(self, request, fmt):
        clinic = _clinic(request)
        nurse = request.GET.get("nurse", ALL_NURSES) or ALL_NURSES
        if nurse not in (ALL_NURSES, MINE):
            raise BadParameter("The nurse must be “mine” or “all”.")
        if fmt is None:
            choices = [(ALL_NURSES, "All the clinic's patients"), (MINE, "Whose alerts come to me")]
            nurse_field = _field("nurse", "Whose patients", value=nurse, choices=choices)
            fields = [*_clinic_field(request, clinic), nurse_field]
            return self.page(request, fields, reverse("monitoring:worklist"))
        now = timezone.now()
        today = clinic.today(now)
        mine_of = None
        if nurse == MINE:
            mine_of = (request.user, clinics_of(request.user, now)[clinic.pk])
        checks = who_to_call_checks(clinic=clinic, today=today, mine_of=mine_of)
        record_export(
            request,
            clinic=clinic,
            what="who to call today",
            fmt=fmt,
            filters={"nurse": nurse, "today": today.isoformat()},
        )
        rows = who_to_call_rows(checks, today=today)
        return export_response(Export(clinic.code, "who-to-call", today, "Who to call", rows), fmt)


class AdherenceView(ExportView):
    title = "Adherence"
    description = (
        "The overview's adherence figures: each month's checks by test (on time, late, missed, "
        "waived, window still open, adherence), and per named nurse."
    )

    def answer(self, request, fmt):
        clinic = _clinic(request)
        nurse = request.GET.get("nurse", ALL_NURSES) or ALL_NURSES
        names = _nurse_names(clinic)
        if nurse not in (ALL_NURSES, NO_NAMED_NURSE) and _staff_id(nurse) not in names:
            raise BadParameter(
                "The nurse must be “all”, “none” (no named nurse) or the id of one of the "
                "clinic's staff."
            )
        label = _nurse_label(nurse, names)
        if fmt is None:
            choices = [
                (ALL_NURSES, "All patients"),
                (NO_NAMED_NURSE, "No named nurse"),
                *((str(pk), name) for pk, name in names.items()),
            ]
            nurse_field = _field("nurse", "Patients", value=nurse, choices=choices)
            return self.page(request, [*_clinic_field(request, clinic), nurse_field])
        table = adherence_table(clinic, nurse=nurse)
        as_of = table.figures.as_of.isoformat() if table.figures else ""
        record_export(
            request,
            clinic=clinic,
            what="adherence",
            fmt=fmt,
            filters={"nurse": nurse, "as_of": as_of},
        )
        rows = adherence_rows(table, nurse_label=label)
        export = Export(clinic.code, "adherence", clinic.today(), "Adherence", rows)
        return export_response(export, fmt)


def _field(name: str, label: str, *, value: str, **options) -> dict:
    """One option of an export's page (templates/reports/exports/export.html)."""
    return {"name": name, "label": label, "value": value, **options}


def _staff_id(text: str) -> int | None:
    if text.isascii() and text.isdecimal() and len(text) <= _MAX_ID_DIGITS:
        return int(text)
    return None


def _nurse_names(clinic) -> dict[int, str]:
    staff = get_user_model().objects.filter(clinics=clinic).order_by("last_name", "first_name")
    return {user.pk: user.get_full_name() or user.get_username() for user in staff}


def _nurse_label(nurse: str, names: dict[int, str]) -> str:
    if nurse == ALL_NURSES:
        return "All patients"
    if nurse == NO_NAMED_NURSE:
        return "Patients with no named nurse"
    return f"Patients of {names[int(nurse)]}"


class ResultsGridView(ExportView):
    title = "Results grid"
    description = (
        "The patient's current results: a row per sample date, a column per analyte (in its "
        "own unit), and the worst flag of each date. Results entered in error are left out."
    )

    def answer(self, request, fmt, pk):
        patient = patient_for(request, pk)
        if fmt is None:
            return self.page(request, [], reverse("patients:detail", args=[patient.pk]))
        # An ACCESS entry about the patient: reading their results this way is a read of
        # their record like the patient page.
        record_export(request, clinic=patient.clinic, patient=patient, what="results grid", fmt=fmt)
        number = slugify(patient.hospital_number) or f"patient-{patient.pk}"
        export = Export(
            patient.clinic.code,
            f"results-{number}",
            patient.clinic.today(),
            "Results",
            results_grid_rows(patient),
        )
        return export_response(export, fmt)


class AuditTrailView(ExportView):
    permission_required = ("reports.export_reports", "auditlog.view_logentry")
    title = "Audit trail"
    description = (
        "Every entry of your clinics' trail between two dates (at most a year), oldest first: "
        "when (in the clinic's time), who, what happened, the record, its changes and the "
        "address."
    )

    def answer(self, request, fmt):
        clinics = list(clinics_for(request.user))
        given = {name: request.GET.get(name, "") for name in ("from", "to")}
        if fmt is None:
            fields = [
                _field("from", "From (inclusive)", value=given["from"], type="date", required=True),
                _field("to", "To (inclusive)", value=given["to"], type="date", required=True),
            ]
            return self.page(request, fields, reverse("audit:list"))
        date_from, date_to = _date_range(given["from"], given["to"])
        filters = TrailFilters(date_from=date_from, date_to=date_to)
        subjects = audit_trail_subjects(clinics=clinics, filters=filters)
        for clinic in clinics:
            record_export(
                request,
                clinic=clinic,
                what="audit trail",
                fmt=fmt,
                filters={"from": date_from.isoformat(), "to": date_to.isoformat()},
            )
        code = clinics[0].code if len(clinics) == 1 else "all-clinics"
        rows = audit_trail_rows(subjects, shared_zone=clinics[0].zone)
        export = Export(code, "audit-trail", clinics[0].today(), "Audit trail", rows)
        return export_response(export, fmt)


def _date_range(text_from: str, text_to: str) -> tuple[date, date]:
    date_from, date_to = _day(text_from, "from"), _day(text_to, "to")
    if date_from > date_to:
        raise BadParameter("The start date (from) is after the end date (to).")
    if (date_to - date_from).days >= MAX_DAYS:
        raise BadParameter(f"Export at most {MAX_DAYS} days at a time.")
    return date_from, date_to


def _day(text: str, name: str) -> date:
    if not text:
        raise BadParameter(f"Give the “{name}” date as YYYY-MM-DD.")
    try:
        if not _ISO_DATE.match(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"The “{name}” date must be a date written YYYY-MM-DD.") from None
    if not date(1990, 1, 1) <= day <= date.max - timedelta(days=2):
        raise BadParameter(f"The “{name}” date is out of range.")
    return day
