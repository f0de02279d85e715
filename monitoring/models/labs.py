"""Lab reports and their results. Nothing here is ever deleted or silently overwritten: every
change is a new version in the history tables (django-simple-history) with who, when and why,
and a wrong entry is marked "entered in error" instead of being removed."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from monitoring.domain import flagging
from monitoring.models.catalogue import Analyte
from monitoring.models.schedule import Panel
from patients.validators import (
    NOTE_MAX_LENGTH,
    REASON_MAX_LENGTH,
    SINGLE_LINE_TEXT,
    note_rules,
)


class ResultImport(models.Model):
    """An uploaded CSV of results: kept as uploaded, previewed, then recorded in batches.

    Each batch is its own transaction, so the progress below is what is stored: a run that
    stops (a crash, a worker restart, the time budget) is resumed from it."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", "Previewed, not imported"
        IMPORTING = "importing", "Importing"
        FAILED = "failed", "Stopped before the end"
        IMPORTED = "imported", "Imported"

    clinic = models.ForeignKey("patients.Clinic", on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    content = models.TextField(help_text="The file as uploaded, decoded as UTF-8.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PREVIEWED)
    row_count = models.PositiveIntegerField(default=0)
    # How this file writes dates with slashes, when the uploader said; else the clinic's setting.
    date_order = models.CharField(
        max_length=3, blank=True, help_text="dmy, mdy or iso; empty: the clinic's setting."
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Progress: the results to record, those recorded so far (each batch adds its own in its
    # transaction), and the rows skipped because the same result was already stored.
    results_total = models.PositiveIntegerField(default=0)
    results_done = models.PositiveIntegerField(default=0)
    reports_done = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    progressed_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the last run stopped, if it failed.")

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def percent_done(self) -> int:
        if not self.results_total:
            return 100 if self.status == self.Status.IMPORTED else 0
        return self.results_done * 100 // self.results_total


class LabReport(models.Model):
    """One panel's results from one sample; or a check recorded as done without a lab value
    (a skin examination, a baseline at another hospital): then one result, the panel's
    outcome (normal or abnormal), with where or by whom it was done."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Entered by hand"
        CSV_IMPORT = "csv_import", "CSV import"
        HL7 = "hl7", "Lab message (HL7 v2)"
        FHIR = "fhir", "Lab message (FHIR)"

    class DoneBy(models.TextChoices):
        CLINIC = "clinic", "This clinic"
        GP = "gp", "GP"
        DERMATOLOGIST = "dermatologist", "Dermatologist"
        OTHER_HOSPITAL = "other_hospital", "Another hospital"
        OTHER = "other", "Other"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="lab_reports"
    )
    panel = models.CharField(max_length=24, choices=Panel.choices)
    sample_collected_on = models.DateField("sample collected")
    reported_on = models.DateField("reported", null=True, blank=True)
    lab_name = models.CharField(
        "laboratory", max_length=120, blank=True, validators=SINGLE_LINE_TEXT
    )
    notes = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH, validators=note_rules())
    # A check done without a lab value: where or by whom (required then), the name of the
    # practice, doctor or hospital, and a reference to the letter or file that reports it.
    done_by = models.CharField(
        "done where or by whom", max_length=16, choices=DoneBy.choices, blank=True
    )
    done_by_name = models.CharField(
        "name (practice, doctor, hospital)",
        max_length=120,
        blank=True,
        validators=SINGLE_LINE_TEXT,
    )
    document_reference = models.CharField(
        "document reference",
        max_length=200,
        blank=True,
        validators=SINGLE_LINE_TEXT,
        help_text="A letter number or a file name, to find the report it came in.",
    )
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    # The lab's own number for the order or report (HL7 OBR-3, FHIR DiagnosticReport.identifier):
    # how a later correction from the lab finds the result it corrects.
    lab_reference = models.CharField(
        "lab's reference", max_length=64, blank=True, validators=SINGLE_LINE_TEXT
    )
    result_import = models.ForeignKey(
        ResultImport, on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    # The file row of an imported report's first result: with the import, unique, so a batch
    # recorded again after a crash or by a second worker cannot store the report twice.
    import_row = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # A form carries a one-time key, so a double click or a resubmitted page stores one report.
    submission_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(auto_now_add=True)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_reason = models.TextField(
        blank=True, max_length=REASON_MAX_LENGTH, validators=note_rules(REASON_MAX_LENGTH)
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-sample_collected_on", "-entered_at"]
        permissions = [
            ("record_check_done", "Can record a check done without a lab value"),
        ]
        indexes = [
            models.Index(fields=["patient", "sample_collected_on"], name="report_patient_sample"),
            # The few reports entered in error, for LabResultQuerySet.current().
            models.Index(
                fields=["id"],
                condition=models.Q(entered_in_error_at__isnull=False),
                name="report_entered_in_error",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["result_import", "import_row"],
                condition=models.Q(import_row__isnull=False),
                name="report_one_per_import_row",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_panel_display()} of {self.sample_collected_on:%d %b %Y}"

    @property
    def is_entered_in_error(self) -> bool:
        return self.entered_in_error_at is not None

    @property
    def done_by_text(self) -> str:
        """Where or by whom, as a sentence part: "GP (Dr Okafor, Mill Lane)"."""
        if not self.done_by:
            return ""
        label = self.get_done_by_display()
        return f"{label} ({self.done_by_name})" if self.done_by_name else label


class LabResultQuerySet(models.QuerySet):
    def current(self):
        """Results that count: not entered in error, on a report not entered in error.

        "No report in error" is asked as NOT EXISTS against the few reports in error (a
        partial index holds just those), not as a join to every report: over a programme's
        hundreds of thousands of reports the join was most of the worklist's time."""
        reports_in_error = LabReport.objects.filter(
            pk=models.OuterRef("report_id"), entered_in_error_at__isnull=False
        )
        return self.filter(entered_in_error_at=None).exclude(models.Exists(reports_in_error))


TIER_CHOICES = [(tier.value, tier.value.capitalize()) for tier in flagging.Tier]


class ResultStatus(models.TextChoices):
    """What the lab said of the value: final, preliminary (a final one will follow and replace
    it), or corrected (a final value that replaced an earlier one). A preliminary value is
    flagged and alerted like any other, because a critical count cannot wait for the final
    report, but it completes no check: the final one does."""

    FINAL = "final", "Final"
    PRELIMINARY = "preliminary", "Preliminary"
    CORRECTED = "corrected", "Corrected"


class Comparator(models.TextChoices):
    """A value the lab gave only as a bound ("<5", ">1000"): kept with its comparator."""

    NONE = "", "="
    BELOW = "<", "<"
    AT_MOST = "<=", "≤"
    ABOVE = ">", ">"
    AT_LEAST = ">=", "≥"


class LabResult(models.Model):
    report = models.ForeignKey(LabReport, on_delete=models.PROTECT, related_name="results")
    # Copied from the report so trends and flag history read one table.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="lab_results"
    )
    sample_collected_on = models.DateField()
    analyte = models.ForeignKey(Analyte, on_delete=models.PROTECT, related_name="results")
    value_text = models.CharField("value as entered", max_length=32)
    unit = models.CharField("unit as entered", max_length=16, blank=True)
    canonical_value = models.DecimalField(max_digits=14, decimal_places=4)
    # With a comparator, value_text and canonical_value are the bound ("<5" keeps 5).
    comparator = models.CharField(max_length=2, choices=Comparator.choices, blank=True)
    status = models.CharField(
        max_length=12, choices=ResultStatus.choices, default=ResultStatus.FINAL
    )
    # The lab's own reference range, in the canonical unit; empty when the lab gave none.
    reference_low = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    tier = models.CharField(max_length=10, choices=TIER_CHOICES, default="normal")
    # The tier the value earned on its own, before an uncleared red platelet flag held it up.
    value_tier = models.CharField(max_length=10, choices=TIER_CHOICES, default="normal")
    reasons = models.JSONField(default=list, blank=True)
    next_action = models.CharField(max_length=255, blank=True)
    rationale = models.TextField(blank=True, help_text="Why the rules that fired exist.")
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_reason = models.TextField(
        blank=True, max_length=REASON_MAX_LENGTH, validators=note_rules(REASON_MAX_LENGTH)
    )
    # When the result took its current tier: the clock for acknowledgement and escalation.
    tier_since = models.DateTimeField(null=True, blank=True)
    # Amber or worse, current, and no acknowledgement at this tier: kept by the services that
    # flag, correct, acknowledge and mark in error, so the scans and the worklist read the few
    # waiting results through a partial index instead of anti-joining every flagged result
    # ever with the acknowledgements. Derived state, not part of the record: left out of the
    # history versions (an acknowledgement changes it without a new version of the result).
    awaits_acknowledgement = models.BooleanField(default=False, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["awaits_acknowledgement"])

    objects = LabResultQuerySet.as_manager()

    class Meta:
        ordering = ["-sample_collected_on", "analyte__display_order"]
        indexes = [
            models.Index(
                fields=["patient", "analyte", "sample_collected_on"],
                name="result_patient_analyte_date",
            ),
            # Results a nurse must acknowledge: the worklist and the two result scans. Only the
            # waiting results are in it (about a thousand among 145,000 flagged at 10,000
            # patients), and every column they read is too, so finding them is an index-only
            # scan of those rows alone.
            models.Index(
                fields=["tier_since", "id"],
                include=["tier", "patient", "report"],
                condition=models.Q(awaits_acknowledgement=True),
                name="result_awaiting_ack",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["report", "analyte"], name="one_result_per_analyte")
        ]

    def __str__(self) -> str:
        return f"{self.analyte}: {self.display_value}"

    @property
    def display_value(self) -> str:
        return f"{self.comparator}{self.value_text} {self.unit}".strip()

    @property
    def reference_range(self) -> tuple[Decimal | None, Decimal | None]:
        """(low, high) as the lab reported them; a limit the lab left out is the analyte's."""
        analyte = self.analyte
        low = self.reference_low if self.reference_low is not None else analyte.reference_low
        high = self.reference_high if self.reference_high is not None else analyte.reference_high
        return low, high

    @property
    def is_entered_in_error(self) -> bool:
        return self.entered_in_error_at is not None

    @property
    def tier_rank(self) -> int:
        return flagging.Tier(self.tier).rank
