"""The Django admin follows the same scope as the staff screens: a clinic lead sees and edits
only their own clinics' patients, courses, checks, results and alerts. Superusers see all.
Protocols, analytes and flag rules are shared configuration, so they are not scoped.

The scope covers what a form offers as well as which rows are listed: every choice of a clinic,
a person or a patient (select, autocomplete, list filter) is drawn from the lead's clinics, and
because a form validates a posted id against the same choices, another clinic's id is refused
with a field error, not only hidden."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q

from .access import clinics_for, patients_for, users_for
from .models import Clinic, Patient


def scoped_choices(model, user):
    """The rows of `model` that `user` may be offered in the admin, or None when the model is
    not kept within clinic walls (shared configuration)."""
    if model is Clinic:
        return clinics_for(user)
    if model is Patient:
        return patients_for(user)
    if model is get_user_model():
        return users_for(user)
    return None


class ScopedChoicesAdmin:
    """Mix into every ModelAdmin (before it) whose forms or filters name clinics, people or
    patients: for anyone but a superuser, the choices are those of their own clinics."""

    def get_field_queryset(self, db, db_field, request):
        # The one hook Django's admin uses for the choices of a foreign key or many-to-many
        # field (selects, autocompletes), and so for what a posted id is validated against.
        queryset = super().get_field_queryset(db, db_field, request)
        if request.user.is_superuser:
            return queryset
        within = scoped_choices(db_field.related_model, request.user)
        if within is None:
            return queryset
        ordering = queryset.query.order_by if queryset is not None else ()
        return within.using(db).order_by(*ordering) if ordering else within.using(db)

    def get_list_filter(self, request):
        # A plain filter on a relation lists every row of the related table (every clinic);
        # RelatedOnlyFieldListFilter lists only those the user's own rows point to.
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [_related_only(self.model, item) for item in filters]


class ClinicScopedAdmin(ScopedChoicesAdmin):
    """Mix into a ModelAdmin and set `clinic_paths` to the lookups from the model to its
    clinic; a row is shown when any of them is one of the user's clinics, and its forms and
    filters offer only the user's clinics, people and patients."""

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


def _related_only(model, item):
    if not isinstance(item, str):
        return item
    field = None
    for part in item.split("__"):
        field = model._meta.get_field(part)
        if field.is_relation:
            model = field.related_model
    if field is not None and field.is_relation:
        return (item, admin.RelatedOnlyFieldListFilter)
    return item


class ViewOnlyAdmin:
    """Mix into a ModelAdmin (before it) for records the admin may show but never add, change
    or delete: they are written only by the services, which keep who, when and why."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
