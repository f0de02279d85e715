"""Reads for the onboarding screens."""

from __future__ import annotations

from patients.access import clinics_for, in_scope_or_404
from patients.models import Onboarding


def onboarding_for(request, pk: int) -> Onboarding:
    """One staged file of the user's clinics, or 404 (logged) for anything else."""
    staged = Onboarding.objects.filter(clinic__in=clinics_for(request.user))
    return in_scope_or_404(request, staged.select_related("clinic", "uploaded_by"), pk=pk)
