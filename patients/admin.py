"""Admin for clinics, patients and courses.

Nothing here deletes a medical record: patients change status, courses are cancelled, and every
edit asks for a reason that is kept with the old version in the history.
"""

from django import forms
from django.contrib import admin
from django.db import transaction
from simple_history.admin import SimpleHistoryAdmin

from monitoring.models import ScheduledCheck
from monitoring.schedule.services import schedule_reconcile

from .admin_scope import ClinicScopedAdmin
from .models import Clinic, InfusionCourse, Patient


class ReasonForChangeForm(forms.ModelForm):
    """Adds a required reason when an existing record is edited."""

    reason_for_change = forms.CharField(
        required=False,
        max_length=255,
        help_text="Required when changing an existing record; kept in its history.",
    )

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.has_changed() and not cleaned.get("reason_for_change"):
            self.add_error("reason_for_change", "Say why this record is being changed.")
        return cleaned


class ReasonForChangeAdmin(SimpleHistoryAdmin):
    form = ReasonForChangeForm

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj._change_reason = form.cleaned_data.get("reason_for_change") or None
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            self.after_save(request, obj, form)

    def after_save(self, request, obj, form):
        """Re-plan the schedule in the same transaction as the change."""


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin, SimpleHistoryAdmin):
    clinic_paths = ("pk",)
    list_display = ["name", "code", "time_zone", "date_locale", "lead"]
    list_select_related = ["lead"]
    search_fields = ["name", "code"]
    filter_horizontal = ["staff", "nurses"]
    fieldsets = [
        (None, {"fields": ["name", "code", "time_zone", "date_locale", "staff"]}),
        ("Patient portal", {"fields": ["test_instructions"]}),
        (
            "Alerts",
            {
                "fields": [
                    "nurses",
                    "lead",
                    ("critical_escalation_hours", "red_escalation_hours"),
                    "overdue_escalation_days",
                    ("quiet_hours_start", "quiet_hours_end"),
                    "digest_time",
                ],
                "description": "Who is alerted, when an unanswered alert goes to the lead, "
                "and the clinic's local times for patient reminders and nurse digests.",
            },
        ),
    ]

    def has_delete_permission(self, request, obj=None):
        return False


class CourseInline(admin.TabularInline):
    model = InfusionCourse
    fields = ["number", "first_infusion_date", "days", "daily_dose_mg", "status"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # courses are added on their own page, where the rules are explained


class ScheduleInline(admin.TabularInline):
    model = ScheduledCheck
    verbose_name_plural = "Schedule (live checks)"
    fields = ["due_date", "panel", "kind", "window_opens", "overdue_after", "status"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).active().select_related("patient__clinic")

    @admin.display(description="status")
    def status(self, check):
        return check.status_on(check.patient.clinic.today()).label


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdmin, ReasonForChangeAdmin):
    clinic_paths = ("clinic",)
    list_display = ["hospital_number", "family_name", "given_name", "clinic", "status", "protocol"]
    list_filter = ["clinic", "status", "protocol"]
    search_fields = ["hospital_number", "family_name", "given_name"]
    list_select_related = ["clinic", "protocol"]
    inlines = [CourseInline, ScheduleInline]

    def after_save(self, request, obj, form):
        schedule_reconcile(patient=obj)


@admin.register(InfusionCourse)
class InfusionCourseAdmin(ClinicScopedAdmin, ReasonForChangeAdmin):
    clinic_paths = ("patient__clinic",)
    list_display = ["patient", "number", "first_infusion_date", "days", "daily_dose_mg", "status"]
    list_filter = ["status", "patient__clinic"]
    search_fields = ["patient__hospital_number", "patient__family_name"]
    list_select_related = ["patient"]
    autocomplete_fields = ["patient"]
    readonly_fields = ["override_recorded_by"]

    def save_model(self, request, obj, form, change):
        if {"days_reason", "spacing_override_reason"} & set(form.changed_data):
            obj.override_recorded_by = request.user
        super().save_model(request, obj, form, change)

    def after_save(self, request, obj, form):
        schedule_reconcile(patient=obj.patient)
