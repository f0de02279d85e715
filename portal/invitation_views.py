"""Inviting a patient (a staff screen, reached from the patient page) and accepting the
invitation (a public page: the secret link is the proof of who it is for)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from audit.access import record_access
from patients.access import StaffAccessMixin, patient_for
from submissions.views import SubmitOnceMixin

from .forms import InviteForm, SetPasswordForm, account_for
from .invitations import (
    LINK_VALID_FOR,
    invitation_accept,
    invitation_open,
    invitation_problems,
    invitation_send,
    username_for,
)
from .models import Invitation

# The messages for a link that no longer opens anything, and the status each one answers.
REFUSALS = {
    "unknown": (404, "This link is not valid. Check that the whole address was copied."),
    "used": (410, "This link has already been used to open your account. Sign in instead."),
    "superseded": (410, "A newer invitation was sent to you: please use the link in that e-mail."),
    "expired": (410, "This link has expired. Please ask your clinic to send a new invitation."),
}


class PatientInviteView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = ("patients.invite_patient",)
    template = "portal/invite.html"
    already_saved_message = "That invitation was already sent; it was not sent twice."

    def _render(self, request, patient, problems, form=None):
        record_access(request, patient, "portal invitation screen")
        context = {
            "patient": patient,
            "problems": problems,
            "form": form or InviteForm(),
            "invitations": Invitation.objects.filter(patient=patient).select_related("invited_by")[
                :5
            ],
            "valid_days": LINK_VALID_FOR.days,
        }
        return render(request, self.template, context)

    def get(self, request, pk):
        patient = patient_for(request, pk)
        problems = {field: [message] for field, message in invitation_problems(patient).items()}
        return self._render(request, patient, problems)

    def post(self, request, pk):
        patient = patient_for(request, pk)

        def save(data) -> str:
            invitation = invitation_send(
                patient=patient, invited_by=request.user, now=timezone.now()
            )
            messages.success(
                request,
                f"Invitation sent to {invitation.email}. The link works once, for "
                f"{LINK_VALID_FOR.days} days.",
            )
            return reverse("patients:detail", args=[patient.pk])

        return self.post_once(
            request,
            InviteForm(request.POST),
            save=save,
            invalid=lambda form: self._render(request, patient, form.errors, InviteForm()),
        )


class InvitationAcceptView(View):
    template = "portal/invitation_accept.html"

    def _refused(self, request, refusal):
        status, message = REFUSALS[refusal]
        return render(
            request, "portal/invitation_refused.html", {"message": message}, status=status
        )

    def _form(self, request, invitation):
        account = account_for(invitation.patient, username_for(invitation.email), invitation.email)
        return SetPasswordForm(request.POST or None, account=account)

    def get(self, request, token):
        opened = invitation_open(token, now=timezone.now())
        if opened.refusal:
            return self._refused(request, opened.refusal)
        invitation = opened.invitation
        context = {"invitation": invitation, "form": self._form(request, invitation)}
        return render(request, self.template, context)

    def post(self, request, token):
        now = timezone.now()
        opened = invitation_open(token, now=now)
        if opened.refusal == "used" and _opened_by(request, token, now):
            # A second press of "Open my account" (or the back button) by the patient whose
            # account the first press opened: where the first one led.
            return redirect("portal:home")
        if opened.refusal:
            return self._refused(request, opened.refusal)
        invitation = opened.invitation
        form = self._form(request, invitation)
        if form.is_valid():
            try:
                user = invitation_accept(
                    invitation=invitation, password=form.cleaned_data["password"], now=now
                )
            except ValidationError as error:
                if error.code == "used" and _opened_by(request, token, now):
                    return redirect("portal:home")
                if error.code in REFUSALS:
                    return self._refused(request, error.code)
                form.add_error(None, error)
            else:
                # The password was just set from a link only the patient received.
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(
                    request, f"Welcome. Next time, sign in as {user.username} with your password."
                )
                return redirect("portal:home")
        return render(request, self.template, {"invitation": invitation, "form": form})


def _opened_by(request, token: str, now) -> bool:
    """Whether the signed-in user is the account this (used) invitation opened."""
    invitation = invitation_open(token, now=now).invitation
    return (
        invitation is not None
        and request.user.is_authenticated
        and invitation.user_id == request.user.pk
    )
