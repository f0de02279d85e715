"""Who may see which patients. Every staff view goes through here, so a request for another
clinic's patient answers 404, the same as a patient that does not exist."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import Clinic, Patient


def clinics_for(user) -> QuerySet[Clinic]:
    if not user.is_authenticated or not user.is_active:
        return Clinic.objects.none()
    if user.is_superuser:
        return Clinic.objects.all()
    return Clinic.objects.filter(staff=user)


def patients_for(user) -> QuerySet[Patient]:
    if user.is_superuser:
        return Patient.objects.all()
    return Patient.objects.filter(clinic__in=clinics_for(user))


def patient_for(user, pk: int) -> Patient:
    return get_object_or_404(
        patients_for(user).select_related("clinic", "protocol", "named_nurse"), pk=pk
    )


class ClinicStaffRequiredMixin(LoginRequiredMixin):
    """Signed-in staff of at least one clinic; anyone else is sent to sign in or refused."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not clinics_for(request.user).exists():
            raise PermissionDenied("You are not on the staff of any clinic.")
        return super().dispatch(request, *args, **kwargs)
