from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View
from django_otp import login as otp_login

from .middleware import PATIENT_SESSION_KEY
from .redirects import safe_next_url
from .second_factor import (
    TokenForm,
    confirmed_device_of,
    pending_device_of,
    qr_code_svg,
    secret_of,
)


def _step(name: str, request) -> str:
    return f"{reverse(name)}?{urlencode({'next': _next_url(request)})}"


def _next_url(request) -> str:
    return safe_next_url(request, reverse("home"))


class HomeView(LoginRequiredMixin, View):
    """Where each role starts the day: a patient on their portal, a clinic lead on the clinic
    overview, a nurse (whoever acknowledges results) on the worklist, other staff on the
    patient list."""

    def get(self, request):
        # Whether the user is a patient was decided at sign-in (patients.access_snapshot).
        if request.session.get(PATIENT_SESSION_KEY):
            return redirect("portal:home")
        if request.user.has_perms(("patients.change_clinic", "reports.view_overview")):
            return redirect("reports:overview")
        if request.user.has_perm("monitoring.add_acknowledgement"):
            return redirect("monitoring:worklist")
        return redirect("patients:list")


class TwoFactorSetupView(LoginRequiredMixin, View):
    template = "accounts/two_factor_setup.html"

    def _render(self, request, device, form):
        context = {
            "form": form,
            "qr_code": qr_code_svg(device),
            "secret": secret_of(device),
            "next": _next_url(request),
        }
        return render(request, self.template, context)

    def get(self, request):
        if confirmed_device_of(request.user):
            # Replacing a lost phone is done by a lead or an administrator removing the old one.
            return redirect(_step("accounts:two_factor_verify", request))
        device = pending_device_of(request.user)
        return self._render(request, device, TokenForm(device=device))

    def post(self, request):
        if confirmed_device_of(request.user):
            # A second press of "Confirm" after the first confirmed the app and signed the
            # session in with it: where the first one led. Otherwise, ask for a code.
            if request.user.is_verified():
                return redirect(_next_url(request))
            return redirect("accounts:two_factor_verify")
        device = pending_device_of(request.user)
        form = TokenForm(request.POST, device=device)
        if not form.is_valid():
            return self._render(request, device, form)
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        otp_login(request, device)
        return redirect(_next_url(request))


class TwoFactorVerifyView(LoginRequiredMixin, View):
    template = "accounts/two_factor_verify.html"

    def get(self, request):
        device = confirmed_device_of(request.user)
        if device is None:
            return redirect(_step("accounts:two_factor_setup", request))
        context = {"form": TokenForm(device=device), "next": _next_url(request)}
        return render(request, self.template, context)

    def post(self, request):
        device = confirmed_device_of(request.user)
        if device is None:
            return redirect("accounts:two_factor_setup")
        form = TokenForm(request.POST, device=device)
        if not form.is_valid():
            return render(request, self.template, {"form": form, "next": _next_url(request)})
        otp_login(request, device)
        return redirect(_next_url(request))
