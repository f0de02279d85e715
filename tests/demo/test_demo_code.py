"""`manage.py demo_code` prints a demo account's current code in debug mode, and nothing else."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from demo.devices import demo_device_ensure

pytestmark = pytest.mark.django_db


def _demo_code(username: str) -> str:
    out = io.StringIO()
    call_command("demo_code", username, stdout=out)
    return out.getvalue().strip()


def test_prints_the_code_of_a_demo_account_in_debug_mode():
    user = get_user_model().objects.create(username="nurse", email="nurse@demo.invalid")
    demo_device_ensure(user)
    with override_settings(DEBUG=True):
        code = _demo_code("nurse")
    assert code.isdigit() and len(code) == 6


def test_refuses_outside_debug_mode_and_for_other_accounts():
    demo = get_user_model().objects.create(username="nurse", email="nurse@demo.invalid")
    real = get_user_model().objects.create(username="real", email="real@hospital.example")
    demo_device_ensure(demo)
    demo_device_ensure(real)
    with pytest.raises(CommandError, match="only for demo accounts in debug mode"):
        _demo_code("nurse")
    with override_settings(DEBUG=True), pytest.raises(CommandError, match="only for demo"):
        _demo_code("real")
    with override_settings(DEBUG=True), pytest.raises(CommandError, match="no account"):
        _demo_code("nobody")
