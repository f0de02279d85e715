"""Two-factor sign-in for staff with an authenticator app (TOTP, django-otp).

A member of staff sets up their app once: the setup screen shows a QR code and the secret, and
the first code they type confirms the device. Every later sign-in asks for a current code. Codes
are throttled by django-otp: each failure doubles the wait before the next try.
"""

from __future__ import annotations

from base64 import b32encode

import segno
from django import forms
from django_otp.plugins.otp_totp.models import TOTPDevice


def confirmed_device_of(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_device_of(user) -> TOTPDevice:
    """The unconfirmed device being set up, made once and reused until it is confirmed, so
    reloading the setup page does not invalidate a QR code already scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def secret_of(device: TOTPDevice) -> str:
    """The key as an authenticator app asks for it when typed in: base32, in groups of four."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def qr_code_svg(device: TOTPDevice) -> str:
    return segno.make(device.config_url, error="m").svg_inline(scale=4, title="QR code to scan")


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
        min_length=6,
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def __init__(self, *args, device: TOTPDevice, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_token(self) -> str:
        token = self.cleaned_data["token"].replace(" ", "")
        allowed, _ = self.device.verify_is_allowed()
        if not allowed:
            raise forms.ValidationError("Too many wrong codes: wait a few seconds and try again.")
        if not token.isdigit() or not self.device.verify_token(token):
            raise forms.ValidationError("That code is not right, or has expired. Try the next one.")
        return token
