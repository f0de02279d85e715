"""Admin for protocols (edited by a clinic lead) and read-only views of scheduled checks, results,
acknowledgements and the notification outbox."""

from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from patients.admin import REASON, ReasonForChangeAdmin, ReasonForChangeForm, ServiceWriteAdmin
from patients.admin_scope import ClinicScopedAdmin, ScopedChoicesAdmin, ViewOnlyAdmin

from .models import (
    Acknowledgement,
    Analyte,
    FlagRule,
    LabReport,
    LabResult,
    MonitoringProtocol,
    Notification,
    ProtocolItem,
    ScheduledCheck,
)
from .schedule.protocols import BATCH, protocol_replan


class ProtocolItemInline(admin.StackedInline):
    model = ProtocolItem
    extra = 0
    fields = [
        ("panel", "kind"),
        "tests",
        ("interval_months", "window_before_days", "grace_after_days"),
        ("months", "first_month"),
        ("applies_to_sex", "from_baseline", "first_course_only"),
        "rationale",
    ]


@admin.register(MonitoringProtocol)
class MonitoringProtocolAdmin(ScopedChoicesAdmin, ServiceWriteAdmin, SimpleHistoryAdmin):
    """A protocol and its items are stored by one call to protocol_replan, which keeps who and
    why in their history and queues the re-planning of every patient who follows the protocol
    on a worker: a programme's schedules are too many to re-plan inside this request."""

    form = ReasonForChangeForm
    list_display = ["name", "therapy", "slug", "follow_up_months", "is_default"]
    list_filter = ["therapy"]
    inlines = [ProtocolItemInline]
    actions = ["replan"]

    def save_model(self, request, obj, form, change):
        """Nothing yet: save_related stores the protocol with its items."""

    def save_related(self, request, form, formsets, change):
        items, deleted = [], []
        for formset in formsets:
            items += formset.save(commit=False)
            deleted += formset.deleted_objects
        if change and not (form.has_changed() or items or deleted):
            return  # saved unchanged: nothing to record, nothing to re-plan
        count = protocol_replan(
            protocol=form.instance,
            reason=form.cleaned_data.get(REASON, ""),
            changed_by=request.user,
            items=items,
            deleted_items=deleted,
        )
        if change:
            self.message_user(request, _queued(count))

    @admin.action(description="Re-plan the schedules of every patient on these protocols")
    def replan(self, request, queryset):
        count = sum(
            protocol_replan(
                protocol=protocol,
                reason="Re-planning asked for from the admin.",
                changed_by=request.user,
            )
            for protocol in queryset
        )
        self.message_user(request, _queued(count), messages.SUCCESS)


def _queued(count: int) -> str:
    return (
        f"Re-planning the schedules of {count} patient(s) was queued; a worker does it "
        f"{BATCH} patients at a time, so schedules may take a few minutes to follow."
    )


@admin.register(ScheduledCheck)
class ScheduledCheckAdmin(ClinicScopedAdmin, ViewOnlyAdmin, admin.ModelAdmin):
    """Checks come from the plan, never by hand; completion and waivers arrive with results and
    the nurse worklist."""

    clinic_paths = ("patient__clinic",)
    list_display = ["patient", "panel", "kind", "due_date", "overdue_after", "completed_on"]
    list_filter = ["panel", "kind", "patient__clinic"]
    search_fields = ["patient__hospital_number", "patient__family_name"]
    list_select_related = ["patient"]
    date_hierarchy = "due_date"


@admin.register(Analyte)
class AnalyteAdmin(ScopedChoicesAdmin, ReasonForChangeAdmin):
    list_display = ["name", "code", "loinc", "panel", "canonical_unit", "plausible_max"]
    list_filter = ["panel"]


@admin.register(FlagRule)
class FlagRuleAdmin(ScopedChoicesAdmin, ReasonForChangeAdmin):
    """Clinic leads tune the rules here. A change applies to results recorded from then on;
    results already flagged keep the flag they were given, with its reasons."""

    list_display = [
        "analyte",
        "tier",
        "condition",
        "threshold",
        "with_analyte",
        "therapy",
        "min_months_on_therapy",
        "is_active",
    ]
    list_filter = ["tier", "therapy", "analyte", "is_active"]
    list_select_related = ["analyte", "with_analyte"]
    fields = [
        ("analyte", "tier", "is_active"),
        ("condition", "threshold"),
        ("with_analyte", "with_condition", "with_threshold"),
        ("therapy", "min_months_on_therapy"),
        "next_action",
        "rationale",
        "reason_for_change",
    ]


class ReadOnlyAdmin(ViewOnlyAdmin, SimpleHistoryAdmin):
    """Results change only through the staff screens, which keep who, when and why."""


@admin.register(LabReport)
class LabReportAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    clinic_paths = ("patient__clinic",)
    list_display = ["patient", "panel", "sample_collected_on", "source", "entered_by"]
    list_filter = ["panel", "source"]
    list_select_related = ["patient", "entered_by"]
    search_fields = ["patient__hospital_number", "patient__family_name"]


@admin.register(LabResult)
class LabResultAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    clinic_paths = ("patient__clinic",)
    list_display = ["patient", "analyte", "display_value", "status", "tier", "sample_collected_on"]
    list_filter = ["tier", "analyte"]
    list_select_related = ["patient", "analyte"]
    search_fields = ["patient__hospital_number", "patient__family_name"]


class ServiceWrittenAdmin(ViewOnlyAdmin, admin.ModelAdmin):
    """Written only by the services: acknowledgements are append-only and the outbox belongs to
    the delivery workers, so the admin shows them and changes nothing."""


@admin.register(Acknowledgement)
class AcknowledgementAdmin(ClinicScopedAdmin, ServiceWrittenAdmin):
    clinic_paths = (
        "result__patient__clinic",
        "scheduled_check__patient__clinic",
        "symptom_report__patient__clinic",
    )
    list_display = ["acknowledged_at", "about", "tier", "action", "acknowledged_by"]
    list_filter = ["action", "tier"]
    list_select_related = [
        "result__patient",
        "result__analyte",
        "scheduled_check__patient",
        "symptom_report__patient",
        "acknowledged_by",
    ]
    search_fields = [
        "result__patient__hospital_number",
        "scheduled_check__patient__hospital_number",
        "symptom_report__patient__hospital_number",
        "note",
    ]
    date_hierarchy = "acknowledged_at"

    @admin.display(description="about")
    def about(self, ack):
        if ack.result_id:
            return f"{ack.result.patient}: {ack.result.analyte}"
        if ack.symptom_report_id:
            return f"{ack.symptom_report.patient}: {ack.symptom_report}"
        return f"{ack.scheduled_check.patient}: {ack.scheduled_check}"


@admin.register(Notification)
class NotificationAdmin(ClinicScopedAdmin, ServiceWrittenAdmin):
    clinic_paths = ("patient__clinic",)
    list_display = [
        "created_at",
        "kind",
        "delivery",
        "patient",
        "recipient",
        "tier",
        "status",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "kind", "delivery", "channel"]
    list_select_related = ["patient", "recipient_user", "recipient_patient"]
    search_fields = ["patient__hospital_number", "patient__family_name", "key", "sent_to"]
    date_hierarchy = "created_at"

    @admin.display(description="to")
    def recipient(self, notification):
        return notification.recipient_user or notification.recipient_patient
