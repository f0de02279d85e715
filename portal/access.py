"""The patient portal's one rule: a signed-in patient sees their own record and nothing else.
No portal URL names a patient; the record is always the one linked to the signed-in user."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied

from patients.access import access_refused
from patients.models import Patient


class PatientPortalMixin(LoginRequiredMixin):
    """Sets `self.patient` to the signed-in user's own record; anyone without one gets 403."""

    patient: Patient

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        patient = (
            Patient.objects.select_related("clinic", "protocol").filter(user=request.user).first()
        )
        if patient is None:
            access_refused(request, "portal asked for by a user with no patient record")
            raise PermissionDenied("The portal is for patients.")
        self.patient = patient
        return super().dispatch(request, *args, **kwargs)
