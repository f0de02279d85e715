"""The clinic lead's view of the audit trail: read only, GET only, their own clinics only."""

from __future__ import annotations

from datetime import UTC

from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.views import View

from audit.access import record_access
from audit.display import trail_rows
from audit.forms import TrailFilterForm
from audit.selectors import Position, TrailFilters, trail_page
from patients.access import StaffAccessMixin, clinics_for, patient_for


class TrailView(StaffAccessMixin, View):
    """Every entry about the patients and the configuration of the lead's clinics, and about
    the configuration all clinics share."""

    permission_required = ("auditlog.view_logentry",)

    def get(self, request):
        return _trail_response(request, patient=None)


class PatientTrailView(StaffAccessMixin, View):
    """One patient's entries. The trail shows the record's values, so reading it is itself
    recorded as a read of the record."""

    permission_required = ("auditlog.view_logentry",)

    def get(self, request, pk):
        patient = patient_for(request, pk)
        record_access(request, patient, "audit trail")
        return _trail_response(request, patient=patient)


def _trail_response(request, *, patient):
    clinics = list(clinics_for(request.user))
    form = TrailFilterForm(request.GET or None, for_one_patient=patient is not None)
    page = rows = None
    if not form.is_bound or form.is_valid():
        filters = form.filters() if form.is_bound else TrailFilters()
        page = trail_page(
            clinics=clinics,
            patient=patient,
            filters=filters,
            before=Position.decode(request.GET.get("before", "")),
        )
        rows = trail_rows(page.subjects, shared_zone=clinics[0].zone if clinics else UTC)
    context = {
        "form": form,
        "patient": patient,
        "rows": rows,
        "newest_url": _url_with(request, before=None),
        "older_url": _url_with(request, before=page.older.encode()) if page and page.older else "",
        "paged": bool(request.GET.get("before")),
        "usernames": _usernames(clinics),
        "clinic_count": len(clinics),
    }
    return render(request, "audit/trail.html", context)


def _url_with(request, *, before: str | None) -> str:
    """This page's address with its filters kept and the position changed."""
    query = request.GET.copy()
    query.pop("before", None)
    if before:
        query["before"] = before
    return f"?{query.urlencode()}" if query else "?"


def _usernames(clinics) -> list[str]:
    """Suggestions for the user-name filter: the staff of these clinics."""
    users = get_user_model().objects.filter(clinics__in=clinics).distinct()
    return list(users.order_by("username").values_list("username", flat=True))
