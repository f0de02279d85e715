"""Authenticator devices for the demo's staff accounts, so a newcomer can try the staff screens
without pairing a phone: `manage.py demo_code USERNAME` prints the current code."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

DEMO_DEVICE_NAME = "Demo authenticator (manage.py demo_code)"
DEMO_EMAIL_DOMAIN = "@demo.invalid"


def demo_device_ensure(user) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name=DEMO_DEVICE_NAME, defaults={"confirmed": True}
    )
    return device


def demo_code(user, *, at: float | None = None) -> str:
    """The current code of a demo account's demo device. Refused outside debug mode and for
    any account that is not the demo's, so it can never print a real person's code."""
    if not settings.DEBUG or not user.email.endswith(DEMO_EMAIL_DOMAIN):
        raise PermissionDenied("Codes are printed only for demo accounts in debug mode.")
    device = TOTPDevice.objects.get(user=user, name=DEMO_DEVICE_NAME, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = at if at is not None else time.time()
    return f"{totp.token():0{device.digits}d}"
