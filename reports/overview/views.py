"""The clinic overview: the stored figures of one of the user's clinics with the live counts
beside them, the chart, and the live lists behind each figure. Every screen takes the clinic
from ?clinic= among the user's clinics (the first by name without one; another clinic's is a
404) and the nurse filter from ?nurse=."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views import View

from monitoring.domain.tiers import ACKNOWLEDGE_TIERS
from monitoring.models import Panel
from patients.access import StaffAccessMixin, clinics_for, in_scope_or_404, users_for
from patients.models import Clinic
from reports.figures.definitions import (
    MONTHS_SHOWN,
    OUTCOME_LABELS,
    STAGE_LABELS,
    VISIT_LABELS,
    Counts,
    Outcome,
    Stage,
    VisitState,
    percent,
)
from reports.figures.refresh import figures_refresh
from reports.figures.selectors import (
    ALL_NURSES,
    NO_NAMED_NURSE,
    NO_NAMED_NURSE_LABEL,
    AdherenceTable,
    adherence_table,
)
from reports.models import ClinicFigures
from submissions.views import SubmitOnceMixin

from .behind import checks_behind, patients_in_stage, visits_in_state
from .chart import adherence_chart_svg
from .forms import RefreshForm, checks_wanted, id_of, nurse_of, stage_of, visit_state_of
from .selectors import AGE_LABELS, overview_page

VIEW = ("reports.view_overview",)
# Who may recompute a clinic's figures at once: its leads.
REFRESH_PERMISSION = "patients.change_clinic"
PAGE_SIZE = 50
# Past the next hourly refresh the chart's key has changed anyway; this only bounds the cache.
CHART_CACHE_SECONDS = 2 * 60 * 60
LIVE_NOTE = (
    "This list is read live; the overview's figures are recomputed every hour, so the two "
    "may differ by what changed since."
)
TIER_LABELS = {"amber": "Amber", "red": "Red", "critical": "Critical"}


def clinic_of(request) -> Clinic:
    """The clinic the address names among the user's, else the first of them by name."""
    clinics = clinics_for(request.user).order_by("name", "pk")
    raw = request.GET.get("clinic", "")
    if raw:
        clinic_id = id_of(raw)
        if clinic_id is not None:
            return in_scope_or_404(request, clinics, pk=clinic_id)
    clinic = clinics.first()
    if clinic is None:  # StaffAccessMixin lets no one here without a clinic
        raise PermissionDenied("This screen is for clinic staff.")
    return clinic


def _link(base: str, **params) -> str:
    """A list's address with its parameters; built as text, once per page, not per cell."""
    return f"{base}?{urlencode({k: v for k, v in params.items() if v not in (None, '')})}"


# The outcomes a cell names beside its share, when there are any.
_ASIDE = (Outcome.LATE, Outcome.MISSED, Outcome.WAIVED, Outcome.OPEN)
_LOWER = {outcome: escape(label.lower()) for outcome, label in OUTCOME_LABELS.items()}


def _cell(counts: Counts, link: str) -> dict:
    """One cell of an adherence table: its counts and its markup, "on time / counted = share"
    and the other outcomes in small text, each a link to the checks behind it. Drawn here as
    text rather than by a template include or format_html: a page has a few hundred cells, and
    those were most of its time. Only the link is escaped; the rest is numbers and our labels."""
    href = escape(link)
    aside = " ".join(
        f'<a class="link-secondary" href="{href}&amp;outcome={outcome.value}">'
        f"{_LOWER[outcome]} {counts.of(outcome)}</a>"
        for outcome in _ASIDE
        if counts.of(outcome)
    )
    title = ", ".join(f"{_LOWER[outcome]} {counts.of(outcome)}" for outcome in Outcome)
    share = percent(counts.adherence)
    html = (
        f'<td class="text-nowrap" title="{title}"><a href="{href}&amp;outcome=on_time">'
        f'{counts.on_time}</a> / <a href="{href}">{counts.counted}</a> = {share}'
        + (f'<br><small class="text-body-secondary">{aside}</small>' if aside else "")
        + "</td>"
    )
    return {"counts": counts, "percent": share, "href": link, "html": mark_safe(html)}  # noqa: S308


def _checks_link(clinic: Clinic, **params) -> Callable[..., str]:
    """The address of the checks behind a figure; the clinic's part encoded once a page."""
    base = f"{reverse('reports:overview_checks')}?clinic={clinic.pk}"

    def link(**more) -> str:
        wanted = {**params, **more}
        query = urlencode({k: v for k, v in wanted.items() if v not in (None, "")})
        return f"{base}&{query}" if query else base

    return link


def _adherence_rows(table: AdherenceTable, *, clinic: Clinic, nurse: str) -> dict:
    """The tests-by-month table as the template draws it, newest month first, each cell with
    the address of the checks behind it."""
    link = _checks_link(clinic, nurse=None if nurse == ALL_NURSES else nurse)
    rows = []
    for month in reversed(table.months):
        key = month.strftime("%Y-%m")
        cells = [
            _cell(table.cell(panel, month), link(panel=panel, month=key))
            for panel, _ in table.panels
        ]
        cells.append(_cell(table.by_month.get(month, Counts()), link(month=key)))
        rows.append({"month": month, "cells": cells})
    totals = [
        _cell(table.by_panel.get(panel, Counts()), link(panel=panel)) for panel, _ in table.panels
    ]
    totals.append(_cell(table.overall, link()))
    return {"rows": rows, "totals": totals}


def _nurse_rows(table: AdherenceTable, *, clinic: Clinic) -> list[dict]:
    link = _checks_link(clinic)
    return [
        {
            "name": row.name,
            **_cell(row.counts, link(nurse=str(row.nurse_id) if row.nurse_id else NO_NAMED_NURSE)),
        }
        for row in table.nurses
    ]


class OverviewView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = VIEW
    template = "reports/overview/overview.html"

    def _render(self, request, clinic: Clinic, form=None, status=200):
        nurse = nurse_of(request.GET)
        now = timezone.now()
        page = overview_page(clinic, nurse=nurse, now=now)
        table = page.table
        figures = table.figures
        patients = reverse("reports:overview_patients")
        worklist = reverse("monitoring:worklist")
        may_refresh = request.user.has_perm(REFRESH_PERMISSION)
        chart_params = {"clinic": clinic.pk, "nurse": None if nurse == ALL_NURSES else nurse}
        context = {
            "clinic": clinic,
            "clinics": clinics_for(request.user).order_by("name", "pk"),
            "figures": figures,
            "refreshed_at": (
                timezone.localtime(figures.refreshed_at, clinic.zone) if figures else None
            ),
            "refresh_form": (form or RefreshForm()) if may_refresh else None,
            "refresh_action": _link(reverse("reports:overview"), clinic=clinic.pk),
            "stages": [
                {
                    "label": STAGE_LABELS[stage],
                    "n": getattr(figures, stage.value) if figures else 0,
                    "href": _link(patients, clinic=clinic.pk, stage=stage.value),
                }
                for stage in Stage
            ],
            "visits": [
                {
                    "label": VISIT_LABELS[state],
                    "n": getattr(figures, f"visits_{state.value}") if figures else 0,
                    "href": _link(patients, clinic=clinic.pk, visits=state.value),
                }
                for state in VisitState
            ],
            "ages": list(AGE_LABELS.values()),
            "waiting": [
                {
                    "tier": tier,
                    "label": TIER_LABELS.get(tier, tier),
                    "href": _link(worklist, clinic=clinic.pk, tier=tier),
                    "ages": [page.waiting.of(tier, age) for age in AGE_LABELS],
                    "total": page.waiting.tier_total(tier),
                }
                for tier in ACKNOWLEDGE_TIERS
            ],
            "waiting_total": page.waiting.total,
            "undelivered": page.undelivered,
            "worklist_href": _link(worklist, clinic=clinic.pk),
            "table": table,
            "adherence": _adherence_rows(table, clinic=clinic, nurse=nurse),
            "nurse_rows": _nurse_rows(table, clinic=clinic),
            "therapy_rows": [
                {
                    "code": code,
                    "name": name,
                    "counts": table.by_therapy[code],
                    "percent": percent(table.by_therapy[code].adherence),
                }
                for code, name in table.therapies
            ],
            "nurse": nurse,
            "nurse_choices": [
                (str(row.nurse_id), row.name) for row in table.nurses if row.nurse_id
            ],
            "no_named_nurse": (NO_NAMED_NURSE, NO_NAMED_NURSE_LABEL),
            "chart_src": _link(reverse("reports:overview_chart"), **chart_params),
        }
        return render(request, self.template, context, status=status)

    def get(self, request):
        return self._render(request, clinic_of(request))

    def post(self, request):
        clinic = clinic_of(request)
        if not request.user.has_perm(REFRESH_PERMISSION):
            raise PermissionDenied("Only a clinic lead may refresh the figures.")

        def save(_data) -> str:
            figures_refresh(clinic=clinic)
            messages.success(request, f"The figures of {clinic.name} were refreshed.")
            return _link(reverse("reports:overview"), clinic=clinic.pk)

        def invalid(form):
            return self._render(request, clinic, form=form, status=400)

        return self.post_once(request, RefreshForm(request.POST), save=save, invalid=invalid)


class OverviewChartView(StaffAccessMixin, View):
    """The chart as an image of its own, cached until the figures are next refreshed."""

    permission_required = VIEW

    def get(self, request):
        clinic = clinic_of(request)
        nurse = nurse_of(request.GET)
        refreshed = (
            ClinicFigures.objects.filter(clinic=clinic)
            .values_list("refreshed_at", flat=True)
            .first()
        )
        stamp = refreshed.isoformat() if refreshed else "never"
        key = f"reports:overview-chart:{clinic.pk}:{nurse}:{stamp}"
        svg = cache.get(key)
        if svg is None:
            svg = adherence_chart_svg(adherence_table(clinic, nurse=nurse))
            cache.set(key, svg, CHART_CACHE_SECONDS)
        response = HttpResponse(svg, content_type="image/svg+xml")
        # The drawing's look is its own <style> element: allowed for this response alone,
        # which runs no script and loads nothing (the pages keep style-src 'self').
        response._csp_replace = {
            "default-src": ["'none'"],
            "style-src": ["'unsafe-inline'"],
            "script-src": ["'none'"],
            "img-src": ["'none'"],
        }
        return response


def _figures_date(clinic: Clinic):
    """The clinic's date when its figures were computed (None: never): a list behind a figure
    covers the months that figure does, its rows read live."""
    return ClinicFigures.objects.filter(clinic=clinic).values_list("as_of", flat=True).first()


def _patient_url() -> Callable[[int], str]:
    marker = "2147483647"
    prefix, _, suffix = reverse("patients:detail", args=[int(marker)]).partition(marker)
    return lambda pk: f"{prefix}{pk}{suffix}"


def _page(request, rows):
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


def _page_links(request, page) -> dict:
    params = request.GET.copy()
    links = {}
    if page.has_previous():
        params["page"] = page.previous_page_number()
        links["previous"] = f"?{params.urlencode()}"
    if page.has_next():
        params["page"] = page.next_page_number()
        links["next"] = f"?{params.urlencode()}"
    return links


class OverviewChecksView(StaffAccessMixin, View):
    """The checks behind a figure of the adherence table, live."""

    permission_required = VIEW
    template = "reports/overview/checks.html"

    def get(self, request):
        clinic = clinic_of(request)
        wanted = checks_wanted(request.GET)
        today = clinic.today()
        as_of = _figures_date(clinic) or today
        page = _page(request, checks_behind(clinic, wanted, today=today, as_of=as_of))
        patient_url = _patient_url()
        rows = [
            {
                "check": check,
                "patient_href": patient_url(check.patient_id),
                "outcome": OUTCOME_LABELS[Outcome(check.outcome)],
            }
            for check in page
        ]
        nurse_name = None
        if wanted.nurse == NO_NAMED_NURSE:
            nurse_name = NO_NAMED_NURSE_LABEL
        elif wanted.nurse != ALL_NURSES:
            user = users_for(request.user).filter(pk=int(wanted.nurse)).first()
            nurse_name = (user.get_full_name() or user.get_username()) if user else "nobody"
        context = {
            "clinic": clinic,
            "wanted": wanted,
            "panel_label": dict(Panel.choices).get(wanted.panel),
            "outcome_label": OUTCOME_LABELS[wanted.outcome] if wanted.outcome else None,
            "nurse_name": nurse_name,
            "months": MONTHS_SHOWN,
            "today": today,
            "page": page,
            "rows": rows,
            "pages": _page_links(request, page),
            "live_note": LIVE_NOTE,
            "overview_href": _link(reverse("reports:overview"), clinic=clinic.pk),
        }
        return render(request, self.template, context)


class OverviewPatientsView(StaffAccessMixin, View):
    """The patients of a stage, or this month's visits in one state, live."""

    permission_required = VIEW
    template = "reports/overview/patients.html"

    def get(self, request):
        clinic = clinic_of(request)
        stage = stage_of(request.GET)
        state = visit_state_of(request.GET) if stage is None else None
        today = clinic.today()
        month = (_figures_date(clinic) or today).replace(day=1)
        if stage is not None:
            rows, title = patients_in_stage(clinic, stage), f"Patients: {STAGE_LABELS[stage]}"
        elif state is not None:
            rows = visits_in_state(clinic, state, today=today, month=month)
            title = f"Visits due in {month:%B %Y}: {VISIT_LABELS[state]}"
        else:
            rows, title = [], "Patients behind the overview"
        page = _page(request, rows)
        patient_url = _patient_url()
        context = {
            "clinic": clinic,
            "title": title,
            "stage": stage,
            "state": state,
            "today": today,
            "month": month,
            "page": page,
            "rows": [
                {
                    "row": row,
                    "href": patient_url(row.pk if stage is not None else row["patient_id"]),
                }
                for row in page
            ],
            "pages": _page_links(request, page),
            "live_note": LIVE_NOTE,
            "overview_href": _link(reverse("reports:overview"), clinic=clinic.pk),
            "stage_links": [
                (STAGE_LABELS[s], _link(request.path, clinic=clinic.pk, stage=s.value))
                for s in Stage
            ],
            "visit_links": [
                (VISIT_LABELS[s], _link(request.path, clinic=clinic.pk, visits=s.value))
                for s in VisitState
            ],
        }
        return render(request, self.template, context)
