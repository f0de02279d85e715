"""The Django admin follows the same scope as the staff screens: a clinic lead sees and edits
only their own clinics' patients, courses, checks, results and alerts. Superusers see all.
Protocols, analytes and flag rules are shared configuration, so they are not scoped."""

from __future__ import annotations

from django.db.models import Q

from .access import clinics_for


class ClinicScopedAdmin:
    """Mix into a ModelAdmin and set `clinic_paths` to the lookups from the model to its
    clinic; a row is shown when any of them is one of the user's clinics."""

    clinic_paths: tuple[str, ...] = ()

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        clinics = clinics_for(request.user)
        in_scope = Q()
        for path in self.clinic_paths:
            in_scope |= Q(**{f"{path}__in": clinics})
        return rows.filter(in_scope)


class ViewOnlyAdmin:
    """Mix into a ModelAdmin (before it) for records the admin may show but never add, change
    or delete: they are written only by the services, which keep who, when and why."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
