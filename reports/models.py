"""The figures the scan keeps for each clinic, so the overview reads a few hundred rows instead
of aggregating millions of checks per request. Derived numbers, not records: each refresh
replaces a clinic's rows whole (reports.figures.refresh), and the lists behind them are always
read live."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from monitoring.domain import therapies
from monitoring.models import Panel
from monitoring.models.schedule import THERAPY_CHOICES


class ClinicFigures(models.Model):
    """One row per clinic: when its figures were computed, the patients by stage, and this
    month's visits."""

    clinic = models.OneToOneField(
        "patients.Clinic", on_delete=models.CASCADE, related_name="figures"
    )
    as_of = models.DateField(help_text="The clinic's date when the figures were computed.")
    refreshed_at = models.DateTimeField()
    before_first_course = models.PositiveIntegerField(default=0)
    in_treatment = models.PositiveIntegerField(default=0)
    in_follow_up = models.PositiveIntegerField(default=0)
    on_other_therapy = models.PositiveIntegerField(default=0)
    monitoring_complete = models.PositiveIntegerField(default=0)
    withdrawn = models.PositiveIntegerField(default=0)
    transferred = models.PositiveIntegerField(default=0)
    deceased = models.PositiveIntegerField(default=0)
    visits_done = models.PositiveIntegerField(default=0)
    visits_overdue = models.PositiveIntegerField(default=0)
    visits_due = models.PositiveIntegerField(default=0)
    visits_upcoming = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "clinic figures"
        # The overview and the exports are about a clinic, not one model: their permissions
        # live here, granted to nurses and leads (accounts.roles).
        permissions = [
            ("view_overview", "Can see the clinic overview"),
            ("export_reports", "Can export lists, reports and monitoring records"),
        ]

    def __str__(self) -> str:
        return f"Figures of {self.clinic} on {self.as_of:%d %b %Y}"


class AdherenceMonth(models.Model):
    """The checks of one clinic, test (panel) and month of due date, for the patients of one
    named nurse (empty: patients with none), of one therapy, by outcome
    (reports.figures.definitions). The checks on another therapy's visit (shares_visit) have
    rows of their own: they count for their therapy, but the draw is counted once in the
    tables by test, month and nurse."""

    clinic = models.ForeignKey("patients.Clinic", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The first day of the month the checks were due in.")
    panel = models.CharField(max_length=24, choices=Panel.choices)
    nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
    )
    # The therapy of the checks' protocol (ScheduledCheck.protocol_item.protocol.therapy).
    therapy = models.CharField(
        max_length=24, choices=THERAPY_CHOICES, default=therapies.ALEMTUZUMAB
    )
    shares_visit = models.BooleanField(default=False)
    on_time = models.PositiveIntegerField(default=0)
    late = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    waived = models.PositiveIntegerField(default=0)
    open = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["clinic", "month", "panel"]
        indexes = [models.Index(fields=["clinic", "month"], name="adherence_clinic_month")]

    def __str__(self) -> str:
        return f"{self.get_panel_display()} {self.month:%b %Y}"
