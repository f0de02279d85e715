"""Signed-in sessions for the pages: staff with a verified second factor, as after the TOTP
step; the patient with their password alone. Stored in the database, so a gunicorn started
with the same SECRET_KEY accepts the cookie too."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice


def signed_in_client(user, *, second_factor: bool) -> Client:
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    if second_factor:
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name="Bench authenticator", defaults={"confirmed": True}
        )
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def session_cookie(client: Client) -> str:
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"
