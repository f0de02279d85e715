from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from monitoring.domain import panels, planning, therapies
from monitoring.domain.check_status import CheckStatus, check_status
from patients.validators import (
    LONG_TEXT_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    SINGLE_LINE_TEXT,
    note_rules,
)


class Panel(models.TextChoices):
    BLOOD_COUNT = panels.BLOOD_COUNT, "Blood count (CBC with differential)"
    KIDNEY = panels.KIDNEY, "Kidney (serum creatinine)"
    URINE = panels.URINE, "Urinalysis with microscopy"
    LIVER = panels.LIVER, "Liver (ALT, AST, bilirubin)"
    THYROID = panels.THYROID, "Thyroid (TSH)"
    SKIN = panels.SKIN, "Skin examination"
    CERVICAL = panels.CERVICAL, "Cervical screening"
    INFECTION_SCREEN = panels.INFECTION_SCREEN, "Infection screen (HIV, hepatitis B/C, VZV, TB)"
    JCV_ANTIBODY = panels.JCV_ANTIBODY, "JCV antibody index"
    IMMUNOGLOBULINS = panels.IMMUNOGLOBULINS, "Serum immunoglobulins (IgG, IgA, IgM)"
    HEPATITIS_B = panels.HEPATITIS_B, "Hepatitis B screen (HBsAg, anti-HBc)"
    CYP2C9 = panels.CYP2C9, "CYP2C9 genotype"
    MRI = panels.MRI, "MRI brain"
    EYE_EXAM = panels.EYE_EXAM, "Eye examination (macular oedema)"
    ECG = panels.ECG, "ECG"


# Short names for badges and timelines, where the full label does not fit.
PANEL_SHORT_NAMES = {
    Panel.BLOOD_COUNT: "Blood count",
    Panel.KIDNEY: "Creatinine",
    Panel.URINE: "Urine",
    Panel.LIVER: "Liver",
    Panel.THYROID: "Thyroid",
    Panel.SKIN: "Skin",
    Panel.CERVICAL: "Cervical",
    Panel.INFECTION_SCREEN: "Infection screen",
    Panel.JCV_ANTIBODY: "JCV",
    Panel.IMMUNOGLOBULINS: "Immunoglobulins",
    Panel.HEPATITIS_B: "Hepatitis B",
    Panel.CYP2C9: "CYP2C9",
    Panel.MRI: "MRI",
    Panel.EYE_EXAM: "Eye exam",
    Panel.ECG: "ECG",
}


THERAPY_CHOICES = therapies.CHOICES
# Alemtuzumab's protocols plan courses and follow-up; every other therapy's plan an episode.
ALEMTUZUMAB_KINDS = (planning.RECURRING, planning.PRE_COURSE, planning.AFTER_END)
MONTHS_KINDS = (planning.AT_MONTHS, planning.AFTER_DOSE, planning.AFTER_STOP)


class MonitoringProtocolQuerySet(models.QuerySet):
    def alemtuzumab(self):
        """The protocols a patient's courses follow (Patient.protocol)."""
        return self.filter(therapy=therapies.ALEMTUZUMAB)

    def default_for(self, therapy: str):
        return self.filter(therapy=therapy, is_default=True).first()


class MonitoringProtocol(models.Model):
    name = models.CharField(max_length=120, validators=SINGLE_LINE_TEXT)
    therapy = models.CharField(
        max_length=24, choices=THERAPY_CHOICES, default=therapies.ALEMTUZUMAB
    )
    slug = models.SlugField(max_length=40, unique=True, help_text="Used on the command line.")
    description = models.TextField(
        blank=True, max_length=LONG_TEXT_MAX_LENGTH, validators=note_rules(LONG_TEXT_MAX_LENGTH)
    )
    follow_up_months = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(240)],
        help_text="Alemtuzumab: months of follow-up after the last infusion of the latest "
        "course. Other therapies: how many months from the start a continuing therapy's checks "
        "are planned ahead.",
    )
    dose_interval_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(7), MaxValueValidator(730)],
        help_text="Therapies given in the clinic: days from one dose to the next, so the next "
        "dose is planned when one is given (28 for natalizumab, 182 for ocrelizumab).",
    )
    is_default = models.BooleanField(
        default=False,
        help_text="New patients (or new episodes of this therapy) follow the default protocol "
        "unless one is chosen.",
    )
    source = models.TextField(blank=True, help_text="Where the protocol's numbers come from.")
    history = HistoricalRecords()

    objects = MonitoringProtocolQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["therapy"],
                condition=models.Q(is_default=True),
                name="one_default_protocol_per_therapy",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.pk is None:
            return
        stored = MonitoringProtocol.objects.filter(pk=self.pk).values_list("therapy", flat=True)
        if (
            stored
            and stored[0] != self.therapy
            and (self.patients.exists() or self.episodes.exists())
        ):
            raise ValidationError(
                {
                    "therapy": "Patients follow this protocol for its therapy; add a protocol "
                    "for the other therapy instead."
                }
            )

    def as_plan_protocol(self, items=None) -> planning.Protocol:
        items = self.items.all() if items is None else items
        return planning.Protocol(
            follow_up_months=self.follow_up_months,
            items=tuple(item.as_plan_item() for item in items),
        )


class ProtocolItem(models.Model):
    class Kind(models.TextChoices):
        RECURRING = planning.RECURRING, "Recurring"
        PRE_COURSE = planning.PRE_COURSE, "Before each course"
        AFTER_END = planning.AFTER_END, "Check-in after the end of follow-up"
        ON_THERAPY = planning.ON_THERAPY, "Repeats while on therapy"
        AT_MONTHS = planning.AT_MONTHS, "At fixed months after the start"
        BEFORE_START = planning.BEFORE_START, "Before starting"
        BEFORE_DOSE = planning.BEFORE_DOSE, "Before every dose"
        AFTER_DOSE = planning.AFTER_DOSE, "At fixed months after each dose"
        AFTER_STOP = planning.AFTER_STOP, "At fixed months after stopping"

    class AppliesTo(models.TextChoices):
        ANY = planning.ANY_SEX, "Everyone"
        FEMALE = "F", "Women only"
        MALE = "M", "Men only"

    protocol = models.ForeignKey(MonitoringProtocol, on_delete=models.CASCADE, related_name="items")
    panel = models.CharField(max_length=24, choices=Panel.choices)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.RECURRING)
    tests = models.CharField(max_length=255, help_text="What is tested, as a clinician reads it.")
    interval_months = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Recurring, on-therapy and after-the-end items: 1 monthly, 3 quarterly, "
        "12 yearly.",
    )
    months = models.JSONField(
        default=list,
        blank=True,
        help_text="Fixed-month items: the months after the start, the dose or the stop at which "
        "the check is due, e.g. [1, 3, 6].",
    )
    first_month = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(240)],
        help_text="On-therapy items: the month of the first check when it is not one interval "
        "after the start (12, after fixed checks at months 1, 3 and 6).",
    )
    window_before_days = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(365)], help_text="The window opens this many days early."
    )
    grace_after_days = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(365)],
        help_text="Overdue this many days after the due date.",
    )
    applies_to_sex = models.CharField(
        max_length=3, choices=AppliesTo.choices, default=AppliesTo.ANY
    )
    from_baseline = models.BooleanField(
        default=False,
        help_text="Recurring items: first due at course 1's first infusion, not one interval on.",
    )
    first_course_only = models.BooleanField(
        default=False,
        help_text="Pre-course items: needed before course 1 only; before-dose items: before the "
        "first dose only.",
    )
    rationale = models.TextField(blank=True, help_text="Why, and the source, shown to clinicians.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["protocol", "kind", "interval_months", "panel"]
        constraints = [
            models.UniqueConstraint(
                fields=["protocol", "panel", "kind"], name="protocol_item_panel_kind_once"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=["recurring", "after_end"])
                | models.Q(interval_months__gte=1),
                name="recurring_item_has_interval",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.RECURRING:
            return f"{self.get_panel_display()} every {self.interval_months} month(s)"
        if self.kind == self.Kind.AFTER_END:
            return (
                f"{self.get_panel_display()} every {self.interval_months} month(s) after the "
                "end of follow-up"
            )
        if self.kind == self.Kind.PRE_COURSE:
            return f"{self.get_panel_display()} before each course"
        if self.kind == self.Kind.ON_THERAPY:
            return f"{self.get_panel_display()} every {self.interval_months} month(s) on therapy"
        if self.kind in MONTHS_KINDS:
            months = ", ".join(str(month) for month in self.months)
            return f"{self.get_panel_display()} {self.get_kind_display().lower()}: {months}"
        return f"{self.get_panel_display()}: {self.get_kind_display().lower()}"

    def clean(self) -> None:
        repeating = (self.Kind.RECURRING, self.Kind.AFTER_END, self.Kind.ON_THERAPY)
        if self.kind in repeating and not self.interval_months:
            raise ValidationError({"interval_months": "A repeating item needs an interval."})
        if self.kind not in repeating and self.interval_months:
            raise ValidationError(
                {"interval_months": "Only a repeating item has an interval; leave it empty."}
            )
        if self.kind in MONTHS_KINDS:
            months = self.months if isinstance(self.months, list) else None
            if not months or not all(
                isinstance(month, int) and 0 <= month <= 240 for month in months
            ):
                raise ValidationError(
                    {"months": "Give the months as a list of whole numbers from 0 to 240."}
                )
        elif self.months:
            raise ValidationError({"months": "Only a fixed-month item has months; leave it empty."})
        if self.protocol_id:
            alemtuzumab = self.protocol.therapy == therapies.ALEMTUZUMAB
            if alemtuzumab != (self.kind in ALEMTUZUMAB_KINDS):
                raise ValidationError(
                    {
                        "kind": "Alemtuzumab's protocols plan courses and follow-up (recurring, "
                        "before each course, after the end); other therapies' protocols plan "
                        "episodes (on therapy, fixed months, before starting, doses, stopping)."
                    }
                )

    def as_plan_item(self) -> planning.ProtocolItem:
        return planning.ProtocolItem(
            key=self.pk,
            panel=self.panel,
            kind=self.kind,
            interval_months=self.interval_months,
            window_before_days=self.window_before_days,
            grace_after_days=self.grace_after_days,
            applies_to_sex=self.applies_to_sex,
            from_baseline=self.from_baseline,
            first_course_only=self.first_course_only,
            months=tuple(self.months or ()),
            first_month=self.first_month,
        )


class ScheduledCheckQuerySet(models.QuerySet):
    def active(self):
        return self.filter(cancelled_at__isnull=True)

    def planned(self):
        """Checks that come from the plan: the only ones schedule_reconcile may touch."""
        return self.exclude(kind="urgent")

    def open(self):
        """Work: waiting for a result, neither completed, waived nor cancelled, not history
        from before the patient's tracking start, and each visit once (shown): what the
        worklist, the scans, the portal and the patient list count and list.

        Planning and results read pending() instead, which still holds the checks sharing a
        visit: reconcile moves them and a sample completes them. The partial indexes on open
        checks stay usable: this condition only adds to theirs."""
        return self.pending().filter(before_tracking=False).shown()

    def shown(self):
        """Each visit once: a check on another therapy's check's visit (shares_visit, on that
        check's dates, completed by the same sample) is left out, its host stands for both.
        Python twin: ScheduledCheck.is_shown."""
        return self.filter(shares_visit=False)

    def pending(self):
        """Waiting for a result, work or history: what a sample can still complete and what
        re-planning may still move or cancel."""
        return self.filter(cancelled_at__isnull=True, waived_at__isnull=True, completed_on=None)

    def with_therapy(self):
        """Annotate `episode_therapy`, the therapy of the check's episode (None for the
        alemtuzumab checks planned from the courses), which monitoring.schedule.visits reads
        instead of the episode. A lookup by the episode's key for each check: joined, the
        episodes of every patient were hashed for a page's ten checks (8 ms at 10,000
        patients)."""
        episodes = self.model._meta.get_field("episode").related_model.objects
        # No order: the episodes' default one (by patient name) would join the patients.
        therapy = episodes.filter(pk=models.OuterRef("episode_id")).order_by().values("therapy")
        return self.annotate(episode_therapy=models.Subquery(therapy[:1]))

    def with_status(self, today: date):
        """Annotate `status` in SQL with the rules of domain.check_status.check_status."""
        when = models.When
        return self.annotate(
            status=models.Case(
                when(cancelled_at__isnull=False, then=models.Value(CheckStatus.CANCELLED.value)),
                when(waived_at__isnull=False, then=models.Value(CheckStatus.WAIVED.value)),
                when(
                    completed_on__gt=models.F("overdue_after"),
                    then=models.Value(CheckStatus.COMPLETED_LATE.value),
                ),
                when(completed_on__isnull=False, then=models.Value(CheckStatus.COMPLETED.value)),
                when(before_tracking=True, then=models.Value(CheckStatus.BEFORE_TRACKING.value)),
                when(window_opens__gt=today, then=models.Value(CheckStatus.UPCOMING.value)),
                when(overdue_after__gte=today, then=models.Value(CheckStatus.DUE.value)),
                default=models.Value(CheckStatus.OVERDUE.value),
                output_field=models.CharField(),
            )
        )


class ScheduledCheck(models.Model):
    """One check of one panel for one patient. Never deleted: a check that leaves the plan is
    cancelled with a reason, and completed or waived checks are never re-planned.

    Most checks come from the plan (recurring or pre-course). An urgent check comes from a
    symptom the patient reported: it has no protocol item and no slot, and planning never
    moves or cancels it."""

    class Kind(models.TextChoices):
        RECURRING = planning.RECURRING, "Recurring"
        PRE_COURSE = planning.PRE_COURSE, "Before each course"
        AFTER_END = planning.AFTER_END, "Check-in after the end of follow-up"
        ON_THERAPY = planning.ON_THERAPY, "Repeats while on therapy"
        AT_MONTHS = planning.AT_MONTHS, "At fixed months after the start"
        BEFORE_START = planning.BEFORE_START, "Before starting"
        BEFORE_DOSE = planning.BEFORE_DOSE, "Before a dose"
        AFTER_DOSE = planning.AFTER_DOSE, "After a dose"
        AFTER_STOP = planning.AFTER_STOP, "After stopping"
        URGENT = "urgent", "Urgent, after a reported symptom"

    # No index of its own: check_patient_due (patient, due date) serves every lookup by patient,
    # and each index is a cost on every one of the hundreds of checks a plan inserts.
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="scheduled_checks",
        db_index=False,
    )
    protocol_item = models.ForeignKey(
        ProtocolItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scheduled_checks",
        help_text="The protocol item this check comes from; empty for an urgent check.",
    )
    panel = models.CharField(max_length=24, choices=Panel.choices)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    symptom_report = models.ForeignKey(
        "monitoring.SymptomReport",
        on_delete=models.PROTECT,
        db_index=False,  # almost always empty: a partial index in Meta
        null=True,
        blank=True,
        related_name="urgent_checks",
        help_text="For an urgent check: the symptom report that opened it.",
    )
    # Identity within the item: months from the anchor (recurring) or the course (pre-course).
    month_offset = models.PositiveSmallIntegerField(null=True, blank=True)
    course = models.ForeignKey(
        "patients.InfusionCourse",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pre_course_checks",
    )
    # The other therapies' checks: their episode, and the dose of a before- or after-dose check.
    # Empty on alemtuzumab's checks, planned from the courses as before episodes existed.
    # Read through the patient (check_patient_due), so no index of their own.
    episode = models.ForeignKey(
        "patients.TherapyEpisode",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="checks",
    )
    dose = models.ForeignKey(
        "patients.TherapyDose",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="checks",
    )
    # On the same visit as another therapy's check of the same panel (its dates are that
    # check's): one blood draw, shown once under that check, completed by the same result.
    shares_visit = models.BooleanField(default=False)
    due_date = models.DateField()
    window_opens = models.DateField()
    overdue_after = models.DateField()
    # Overdue before the patient's tracking start (Patient.tracked_from): history, not work.
    # Kept by schedule_reconcile; a result still completes such a check.
    before_tracking = models.BooleanField(default=False)
    completed_on = models.DateField(null=True, blank=True)
    completed_by = models.ForeignKey(
        "monitoring.LabReport",
        on_delete=models.PROTECT,
        db_index=False,  # empty until a result comes: a partial index in Meta
        null=True,
        blank=True,
        related_name="completed_checks",
        help_text="The report whose sample completed this check.",
    )
    waived_at = models.DateTimeField(null=True, blank=True)
    # Never looked up from the user's side (users are never deleted): no index.
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    waived_reason = models.TextField(
        blank=True, max_length=NOTE_MAX_LENGTH, validators=note_rules()
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScheduledCheckQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "panel"]
        permissions = [("waive_scheduledcheck", "Can waive a scheduled check")]
        indexes = [
            models.Index(fields=["patient", "due_date"], name="check_patient_due"),
            # The report's completed checks (entered in error: they re-open) and a symptom
            # report's urgent checks: only the rows that have one are indexed.
            models.Index(
                fields=["completed_by"],
                condition=models.Q(completed_by__isnull=False),
                name="check_completed_by",
            ),
            models.Index(
                fields=["symptom_report"],
                condition=models.Q(symptom_report__isnull=False),
                name="check_symptom_report",
            ),
            # The overdue, reminder and escalation scans read open checks only; with the
            # patient and the id in the index, counting and finding the overdue ones is an
            # index-only scan. open() also leaves out the checks sharing another's visit:
            # shares_visit is carried along (PostgreSQL's INCLUDE) so that test needs no
            # visit to the table either.
            models.Index(
                fields=["overdue_after", "patient", "id"],
                include=["shares_visit"],
                condition=models.Q(
                    completed_on=None, waived_at=None, cancelled_at=None, before_tracking=False
                ),
                name="check_open_overdue_after",
            ),
            models.Index(
                fields=["due_date"],
                condition=models.Q(
                    completed_on=None, waived_at=None, cancelled_at=None, before_tracking=False
                ),
                name="check_open_due",
            ),
            # "Has this patient anything overdue?": the worklist asks it of every patient it
            # counts or lists below the overdue section, a short range of this index each.
            # The patient list's next due date and overdue count per patient read the due
            # date and the id too: with them carried along, both are index-only scans.
            models.Index(
                fields=["patient", "overdue_after"],
                include=["due_date", "shares_visit", "id"],
                condition=models.Q(
                    completed_on=None, waived_at=None, cancelled_at=None, before_tracking=False
                ),
                name="check_open_patient_overdue",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "protocol_item", "month_offset"],
                condition=models.Q(
                    cancelled_at__isnull=True, month_offset__isnull=False, episode__isnull=True
                ),
                name="one_live_recurring_check_per_slot",
            ),
            models.UniqueConstraint(
                fields=["episode", "protocol_item", "month_offset"],
                condition=models.Q(
                    cancelled_at__isnull=True, episode__isnull=False, dose__isnull=True
                ),
                name="one_live_episode_check_per_slot",
            ),
            models.UniqueConstraint(
                fields=["dose", "protocol_item", "month_offset"],
                condition=models.Q(cancelled_at__isnull=True, dose__isnull=False),
                name="one_live_dose_check_per_slot",
            ),
            models.UniqueConstraint(
                fields=["patient", "protocol_item", "course"],
                condition=models.Q(cancelled_at__isnull=True, course__isnull=False),
                name="one_live_pre_course_check_per_slot",
            ),
            # A planned check has its protocol item and exactly one slot; an urgent one has
            # neither, so it can never collide with, or be taken for, a planned check.
            models.CheckConstraint(
                condition=(
                    ~models.Q(kind="urgent")
                    & models.Q(protocol_item__isnull=False)
                    & (
                        models.Q(month_offset__isnull=False, course__isnull=True)
                        | models.Q(month_offset__isnull=True, course__isnull=False)
                    )
                )
                | models.Q(
                    kind="urgent",
                    protocol_item__isnull=True,
                    month_offset__isnull=True,
                    course__isnull=True,
                ),
                name="check_planned_with_one_slot_or_urgent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_panel_display()} due {self.due_date:%d %b %Y}"

    @property
    def slot(self) -> tuple:
        if self.kind == self.Kind.URGENT:
            return ("urgent", self.pk)  # matches no planned slot
        return planning.check_slot(
            self.protocol_item_id,
            self.kind,
            self.month_offset,
            self.course_id,
            episode_key=self.episode_id,
            dose_key=self.dose_id,
        )

    @property
    def is_pending(self) -> bool:
        return self.cancelled_at is None and self.waived_at is None and self.completed_on is None

    @property
    def is_open(self) -> bool:
        """Pending and not history; a check sharing a visit is open too (it can be followed
        up or waived on its own), though the lists show it under its host (is_shown)."""
        return self.is_pending and not self.before_tracking

    @property
    def is_shown(self) -> bool:
        """The twin of ScheduledCheckQuerySet.shown()."""
        return not self.shares_visit

    def status_on(self, today: date) -> CheckStatus:
        return check_status(
            today=today,
            window_opens=self.window_opens,
            overdue_after=self.overdue_after,
            completed_on=self.completed_on,
            waived=self.waived_at is not None,
            cancelled=self.cancelled_at is not None,
            before_tracking=self.before_tracking,
        )
