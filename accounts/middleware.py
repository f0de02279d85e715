"""Request-wide rules for signed-in users: staff pass a second factor before anything else, and
no page shown to a signed-in user is kept in a browser or proxy cache."""

from __future__ import annotations

import zoneinfo
from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers

from .roles import is_staff_member
from .second_factor import confirmed_device_of

TIME_ZONE_SESSION_KEY = "clinic_time_zone"
DATE_LOCALE_SESSION_KEY = "clinic_date_locale"
PATIENT_SESSION_KEY = "is_patient"

# Reachable before the second factor: the steps of signing in, and signing out.
_OPEN_URL_NAMES = ("login", "logout", "accounts:two_factor_setup", "accounts:two_factor_verify")


class SecondFactorRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._open_paths: frozenset[str] | None = None

    def _is_open(self, path: str) -> bool:
        if self._open_paths is None:
            self._open_paths = frozenset(reverse(name) for name in _OPEN_URL_NAMES)
        return path in self._open_paths or path.startswith(settings.STATIC_URL)

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()
            and not self._is_open(request.path_info)
            and is_staff_member(user)
        ):
            step = "verify" if confirmed_device_of(user) else "setup"
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse(f'accounts:two_factor_{step}')}?{query}")
        return self.get_response(request)


class NoStoreForSignedInMiddleware:
    """Health records must not linger in a shared computer's cache or a proxy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.user.is_authenticated:
            add_never_cache_headers(response)
        return response


class ClinicTimeZoneMiddleware:
    """Show times on the clock of the user's clinic (a patient's own clinic; for staff, the first
    of their clinics), and dates in its format (its language, settings.LANGUAGES), both chosen
    at sign-in and kept in the session with the user's access (patients.access_snapshot), so
    they cost no query. Everyone else, and a
    session from before the clinic had a format, gets settings.LANGUAGE_CODE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session or {}
        zone_name = session.get(TIME_ZONE_SESSION_KEY)
        if zone_name:
            timezone.activate(zoneinfo.ZoneInfo(zone_name))
        else:
            timezone.deactivate()
        # Both are thread-wide: activated for every request and undone after it, so one user's
        # clinic never leaks into the next request the thread serves.
        translation.activate(session.get(DATE_LOCALE_SESSION_KEY) or settings.LANGUAGE_CODE)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
            translation.deactivate()
