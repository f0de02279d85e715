"""The lab feeds in the Django admin, within the admin user's clinics (patients.admin_scope) as
every clinic record is.

Connections may be edited here. Tokens are made only on the lab connections screen, which
shows the secret once, and their digest is never shown. Messages and waiting results are
read-only: the intake writes the first, the waiting results screen handles the second."""

from __future__ import annotations

from django.contrib import admin

from patients.admin_scope import ClinicScopedAdmin, ViewOnlyAdmin

from .models import ApiToken, LabConnection, LabMessage, WaitingResult


class TokenInline(ViewOnlyAdmin, admin.TabularInline):
    model = ApiToken
    fields = ["name", "scope", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(LabConnection)
class LabConnectionAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    clinic_paths = ("clinic",)
    list_display = [
        "name",
        "clinic",
        "hl7_sending_application",
        "hl7_sending_facility",
        "assigning_authority",
        "is_active",
    ]
    list_filter = ["clinic", "is_active"]
    list_select_related = ["clinic"]
    search_fields = ["name", "hl7_sending_application", "hl7_sending_facility"]
    readonly_fields = ["created_by", "created_at"]
    inlines = [TokenInline]

    def has_delete_permission(self, request, obj=None):
        # Its messages and tokens point at it: switch it off instead.
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(ClinicScopedAdmin, ViewOnlyAdmin, admin.ModelAdmin):
    clinic_paths = ("clinic",)
    # Never the digest: it would let anyone who reads it test guesses offline.
    fields = [
        "name",
        "clinic",
        "connection",
        "scope",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    readonly_fields = fields
    list_display = ["name", "prefix", "clinic", "connection", "scope", "last_used_at", "revoked_at"]
    list_filter = ["clinic", "scope"]
    list_select_related = ["clinic", "connection"]
    search_fields = ["name", "prefix"]


@admin.register(LabMessage)
class LabMessageAdmin(ClinicScopedAdmin, ViewOnlyAdmin, admin.ModelAdmin):
    clinic_paths = ("clinic",)
    list_display = [
        "received_at",
        "connection",
        "protocol",
        "control_id",
        "status",
        "results_recorded",
        "results_waiting",
        "purged_at",
    ]
    list_filter = ["status", "protocol", "connection"]
    list_select_related = ["connection"]
    search_fields = ["control_id"]
    date_hierarchy = "received_at"
    exclude = ["reports"]
    readonly_fields = [
        "connection",
        "clinic",
        "protocol",
        "control_id",
        "message_type",
        "received_at",
        "status",
        "answer_code",
        "problems",
        "results_recorded",
        "results_waiting",
        "purged_at",
        "raw",
        "answer",
    ]


@admin.register(WaitingResult)
class WaitingResultAdmin(ClinicScopedAdmin, ViewOnlyAdmin, admin.ModelAdmin):
    clinic_paths = ("clinic",)
    list_display = [
        "received_at",
        "clinic",
        "hospital_number",
        "code",
        "value",
        "unit",
        "reason",
        "state",
    ]
    list_filter = ["state", "reason", "clinic"]
    list_select_related = ["clinic"]
    search_fields = ["hospital_number", "patient_name", "code"]
