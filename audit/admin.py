"""The audit trail in the Django admin: read only, for everyone, superusers included.

django-auditlog's own LogEntryAdmin refuses add and change, but allows a delete when it comes
from another admin page (a cascade). This one refuses every write and offers no actions, and
shows a member of staff only their own clinics' entries and the shared configuration's, as the
lead's pages do.
"""

from __future__ import annotations

from auditlog import get_logentry_model
from auditlog.admin import LogEntryAdmin
from django.contrib import admin
from django.db.models import Q

from patients.access import clinics_for
from patients.admin_scope import ScopedChoicesAdmin, ViewOnlyAdmin

LogEntry = get_logentry_model()


class ReadOnlyLogEntryAdmin(ScopedChoicesAdmin, ViewOnlyAdmin, LogEntryAdmin):
    list_display = [
        "created",
        "resource_url",
        "action",
        "msg_short",
        "user_url",
        "remote_addr",
    ]
    readonly_fields = [*LogEntryAdmin.readonly_fields, "remote_addr", "additional_data"]
    fieldsets = [
        (None, {"fields": ["created", "user_url", "remote_addr", "resource_url", "cid"]}),
        ("Changes", {"fields": ["action", "msg", "additional_data"]}),
    ]
    actions = None

    def get_queryset(self, request):
        entries = super().get_queryset(request)
        if request.user.is_superuser:
            return entries
        # Their clinics' entries, and those of the configuration every clinic shares.
        return entries.filter(
            Q(subject__clinic__in=clinics_for(request.user))
            | Q(subject__isnull=False, subject__clinic__isnull=True)
        )


if admin.site.is_registered(LogEntry):
    admin.site.unregister(LogEntry)
admin.site.register(LogEntry, ReadOnlyLogEntryAdmin)
