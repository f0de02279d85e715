"""Who may see which records. Every staff view goes through here.

Two separate questions, in this order:
- scope: a member of staff sees the patients of the clinics they belong to (`Clinic.staff`), and
  nothing else. A record outside that scope answers 404, the same as one that does not exist,
  and the attempt is logged.
- role: what the user may do there comes from their role groups (accounts/roles.py). A signed-in
  member of staff without the permission a screen needs gets 403.
Someone who is not staff at all (a patient) asking for a staff screen about a record gets 404 too,
so the answer never tells them whether that record exists.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from accounts.client_address import client_address

from .models import Clinic, InfusionCourse, Patient

security_log = logging.getLogger("security.access")


def clinic_ids_for(user) -> tuple[int, ...] | None:
    """The ids of the user's clinics when this request already knows them (the session's
    access snapshot, patients.access_snapshot), else None."""
    return getattr(user, "_clinic_ids", None)


def clinics_for(user) -> QuerySet[Clinic]:
    if not user.is_authenticated or not user.is_active:
        return Clinic.objects.none()
    known = clinic_ids_for(user)
    if known is not None:
        return Clinic.objects.filter(pk__in=known)
    if user.is_superuser:
        return Clinic.objects.all()
    return Clinic.objects.filter(staff=user)


def is_on_staff(user) -> bool:
    """Whether the user is on the staff of at least one clinic (no query once known)."""
    known = clinic_ids_for(user)
    if known is not None and user.is_authenticated and user.is_active:
        return bool(known)
    return clinics_for(user).exists()


def patients_for(user) -> QuerySet[Patient]:
    if user.is_superuser:
        return Patient.objects.all()
    known = clinic_ids_for(user)
    if known is not None and user.is_active:
        return Patient.objects.filter(clinic_id__in=known)
    return Patient.objects.filter(clinic__in=clinics_for(user))


def users_for(user) -> QuerySet:
    """The accounts a member of staff may see named: the staff, nurses and leads of their
    clinics, and the portal accounts of their clinics' patients (now, or linked at any time
    in a record's history). Never another clinic's people."""
    users = get_user_model().objects.all()
    if user.is_superuser:
        return users
    clinics = clinics_for(user)
    portal_accounts = (
        Patient.history.filter(clinic__in=clinics, user__isnull=False).values("user_id").distinct()
    )
    return users.filter(
        Q(pk__in=Clinic.staff.through.objects.filter(clinic__in=clinics).values("user_id"))
        | Q(pk__in=Clinic.nurses.through.objects.filter(clinic__in=clinics).values("user_id"))
        | Q(pk__in=clinics.exclude(lead=None).values("lead_id"))
        | Q(pk__in=portal_accounts)
    )


def staff_users_for(user) -> QuerySet:
    """The staff of the user's clinics: whom a lead may name as staff, nurse or lead."""
    users = get_user_model().objects.all()
    if user.is_superuser:
        return users
    members = Clinic.staff.through.objects.filter(clinic__in=clinics_for(user))
    return users.filter(pk__in=members.values("user_id"))


def access_refused(request, what: str) -> None:
    """Log a refused request: who, from where, for what. Never the record's contents."""
    user = request.user if request is not None else None
    security_log.warning(
        "refused %s to user %s from %s: %s",
        getattr(request, "path", "?"),
        getattr(user, "pk", None),
        client_address(request) if request is not None else "?",
        what,
    )


def in_scope_or_404(request, queryset: QuerySet, **lookup) -> Model:
    """The object matching `lookup` within `queryset` (already narrowed to what the user may
    see), or 404. A miss is logged, naming whether the object exists elsewhere."""
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist:
        exists = queryset.model._default_manager.filter(**lookup).exists()
        label = queryset.model._meta.label
        access_refused(request, f"{label} {lookup} {'out of scope' if exists else 'not found'}")
        raise Http404(f"No {queryset.model._meta.verbose_name} here.") from None


def patient_for(request, pk: int) -> Patient:
    patients = patients_for(request.user).select_related("clinic", "protocol", "named_nurse")
    return in_scope_or_404(request, patients, pk=pk)


def course_for(request, pk: int) -> InfusionCourse:
    """A course of one of the user's patients, or 404 as for the patient."""
    courses = InfusionCourse.objects.filter(patient__in=patients_for(request.user))
    return in_scope_or_404(request, courses.select_related("patient__clinic"), pk=pk)


class StaffAccessMixin(LoginRequiredMixin):
    """A staff screen: signed in, on the staff of at least one clinic, and holding every
    permission in `permission_required`. Each view states its own; tests/test_access.py fails
    for a view that states none."""

    permission_required: tuple[str, ...] = ()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not is_on_staff(request.user):
            access_refused(request, "not on the staff of any clinic")
            if kwargs:
                raise Http404("No such record here.")
            raise PermissionDenied("This screen is for clinic staff.")
        if not self.permission_required or not request.user.has_perms(self.permission_required):
            access_refused(request, f"lacks {', '.join(self.permission_required) or 'a role'}")
            raise PermissionDenied("Your role does not include this screen.")
        return super().dispatch(request, *args, **kwargs)
