"""The staff screen for onboarding: upload a spreadsheet, see every row's problem and what
would be recorded, then record all of it or nothing."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from patients.access import StaffAccessMixin, clinics_for
from submissions.views import SubmitOnceMixin

from .forms import OnboardingConfirmForm, OnboardingUploadForm
from .selectors import onboarding_for
from .services import OnboardingRejected, onboarding_preview, onboarding_record, onboarding_stage

PERMISSIONS = ("patients.add_patient", "patients.add_infusioncourse")
# Every row with a problem is listed, and the first rows of the rest.
PREVIEW_ROWS = 500


def _too_many(preview) -> str:
    """Why the screen will not record this file while the user waits, or ""."""
    limit = settings.ONBOARDING_SCREEN_MAX_PATIENTS
    count = len(preview.plans)
    if count <= limit:
        return ""
    return (
        f"This file has {count:,} patients; this screen records up to {limit:,} at a time, "
        "so that the page answers before the web server gives up. Split the file, or record "
        "it with the command manage.py onboard_patients."
    )


class OnboardingUploadView(StaffAccessMixin, View):
    permission_required = PERMISSIONS
    template = "patients/onboarding_upload.html"

    def get(self, request):
        form = OnboardingUploadForm(clinics=clinics_for(request.user))
        return render(request, self.template, {"form": form})

    def post(self, request):
        form = OnboardingUploadForm(request.POST, request.FILES, clinics=clinics_for(request.user))
        if not form.is_valid():
            return render(request, self.template, {"form": form})
        upload = form.cleaned_data["file"]
        staged, preview = onboarding_stage(
            clinic=form.cleaned_data["clinic"],
            content=upload.read(),
            file_name=upload.name,
            uploaded_by=request.user,
            tracking_from=form.cleaned_data["tracking_from"],
            date_order=form.cleaned_data["date_order"],
        )
        if staged is None:
            return render(request, self.template, {"form": form, "preview": preview})
        return redirect("patients:onboarding_preview", pk=staged.pk)


class OnboardingPreviewView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = PERMISSIONS
    template = "patients/onboarding_preview.html"

    def _page(self, request, staged, form=None):
        preview = onboarding_preview(onboarding=staged)
        listed = [
            plan
            for number, plan in enumerate(preview.plans)
            if number < PREVIEW_ROWS or plan.row.problems
        ]
        context = {
            "staged": staged,
            "preview": preview,
            "too_many": _too_many(preview),
            "listed": listed,
            "unlisted": len(preview.plans) - len(listed),
            "form": form or OnboardingConfirmForm(),
        }
        return render(request, self.template, context)

    def get(self, request, pk):
        return self._page(request, onboarding_for(request, pk))

    def post(self, request, pk):
        staged = onboarding_for(request, pk)
        form = OnboardingConfirmForm(request.POST)

        def save(data) -> str:
            if message := _too_many(onboarding_preview(onboarding=staged)):
                raise ValidationError(message)
            try:
                outcome = onboarding_record(onboarding=staged, recorded_by=request.user)
            except OnboardingRejected as rejected:
                count = len(rejected.problems)
                raise ValidationError(
                    f"Nothing was recorded: the file has {count} problem{'s' * (count != 1)}."
                ) from rejected
            messages.success(
                request,
                f"Onboarded: {outcome.created} patients created, {outcome.updated} updated "
                f"({outcome.unchanged} unchanged), {outcome.courses} courses added, tracked "
                f"from {outcome.tracking_from:%d %b %Y}.",
            )
            return reverse("patients:list")

        return self.post_once(
            request, form, save=save, invalid=lambda form: self._page(request, staged, form)
        )
