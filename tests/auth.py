"""Signing test users in as the app requires: staff with a verified second factor, patients with
their password alone. Tests of the sign-in steps themselves use the real forms instead."""

from __future__ import annotations

import time

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import Role, grant_role


def totp_device(user) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Test phone", confirmed=True)


def sign_in(client, user, *, second_factor: bool = True):
    """Sign `user` in on `client`; staff also pass their second factor unless told not to."""
    client.force_login(user)
    if second_factor:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
        session.save()
    return client


def staff_of(clinic, user, *roles: Role):
    """Make `user` a member of `clinic`'s staff holding `roles` (clinic staff by default)."""
    clinic.staff.add(user)
    grant_role(user, *(roles or (Role.CLINIC_STAFF,)))
    return user


def current_code(device: TOTPDevice) -> str:
    """What the user's authenticator app shows now."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"
