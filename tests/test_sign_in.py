"""Signing in as the issue asks: lockout after repeated failures, a second factor for staff, a
new session id at sign-in, sign-out after inactivity, security headers, CSRF on every form,
error pages that leak nothing, and `check --deploy` clean with the production settings."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import Role
from tests.auth import current_code, sign_in, staff_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
PATIENT_LIST = reverse("patients:list")
SETUP = reverse("accounts:two_factor_setup")
VERIFY = reverse("accounts:two_factor_verify")


@pytest.fixture
def nurse(clinic_a):
    user = staff_of(clinic_a, UserFactory(username="nurse_a"), Role.NURSE, Role.CLINIC_STAFF)
    user.set_password(PASSWORD)
    user.save()
    return user


def password_sign_in(client, username, password=PASSWORD, address="127.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_five_wrong_passwords_lock_that_username_at_that_address(client, nurse):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert password_sign_in(client, "nurse_a", "wrong-guess").status_code == 200
    locked = password_sign_in(client, "nurse_a", "wrong-guess")
    assert locked.status_code == 429
    assert "Sign-in paused" in locked.content.decode()
    # Even the right password is refused while locked out...
    assert password_sign_in(client, "nurse_a").status_code == 429
    # ...but only for that address: the nurse can still sign in from the ward.
    assert password_sign_in(Client(), "nurse_a", address="10.1.2.3").status_code == 302


def test_staff_without_a_second_factor_reach_only_its_setup(client, nurse):
    assert password_sign_in(client, "nurse_a").status_code == 302
    for url in (PATIENT_LIST, reverse("monitoring:worklist"), reverse("admin:index")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(SETUP)

    setup = client.get(SETUP)
    assert b"<svg" in setup.content  # the QR code
    device = TOTPDevice.objects.get(user=nurse, confirmed=False)
    wrong = client.post(SETUP, {"token": "000000" if current_code(device) != "000000" else "1"})
    assert "That code is not right" in wrong.content.decode()
    assert client.get(PATIENT_LIST).status_code == 302
    # A wrong code makes the next try wait (1 s, doubling); this test does not wait.
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    device.throttle_reset()

    confirmed = client.post(SETUP, {"token": current_code(device), "next": PATIENT_LIST})
    assert confirmed["Location"] == PATIENT_LIST
    assert client.get(PATIENT_LIST).status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_staff_with_a_device_are_asked_for_a_code_at_every_sign_in(client, nurse):
    device = TOTPDevice.objects.create(user=nurse, name="Phone", confirmed=True)
    password_sign_in(client, "nurse_a")
    assert client.get(PATIENT_LIST)["Location"].startswith(VERIFY)
    assert client.post(VERIFY, {"token": "12345x"}).status_code == 200
    assert client.get(PATIENT_LIST).status_code == 302
    client.post(VERIFY, {"token": current_code(device)})
    assert client.get(PATIENT_LIST).status_code == 200


def test_sign_in_gives_a_new_session_id(client, nurse):
    session = client.session
    session["before"] = "anonymous visit"
    session.save()
    before = session.session_key
    password_sign_in(client, "nurse_a")
    assert client.session.session_key != before


def test_a_session_idle_past_the_limit_is_signed_out(client, nurse):
    sign_in(client, nurse)
    assert client.get(PATIENT_LIST).status_code == 200
    expiry = Session.objects.get(session_key=client.session.session_key).expire_date
    assert expiry - timezone.now() <= timedelta(minutes=settings.SESSION_IDLE_MINUTES)
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(PATIENT_LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_unchanged_session_is_written_at_most_once_a_minute(client, nurse):
    """Each page of a nurse's morning would otherwise cost an UPDATE and a COMMIT."""
    sign_in(client, nurse)
    key = client.session.session_key
    client.get(PATIENT_LIST)
    row = Session.objects.get(session_key=key)
    client.get(PATIENT_LIST)
    assert Session.objects.get(session_key=key).expire_date == row.expire_date
    # A minute and more later, the expiry moves on.
    Session.objects.filter(session_key=key).update(
        expire_date=row.expire_date - timedelta(seconds=61)
    )
    client.get(PATIENT_LIST)
    assert Session.objects.get(session_key=key).expire_date > row.expire_date - timedelta(seconds=1)


def test_a_request_that_changed_nothing_keeps_what_another_one_wrote_meanwhile(client, nurse):
    """The favicon request that started before "Continue" on the code page must not put the
    session from before the second factor back when it finishes after it."""
    from django.contrib.sessions.backends.base import UpdateError

    from accounts.sessions import SessionStore

    sign_in(client, nurse, second_factor=False)
    key = client.session.session_key
    # Last pushed on two minutes ago, so the slow request pushes it on again.
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() + timedelta(minutes=settings.SESSION_IDLE_MINUTES - 2)
    )
    slow, step = SessionStore(key), SessionStore(key)
    assert "otp_device_id" not in slow  # read before the second factor
    step["otp_device_id"] = "verified"
    step.save()
    slow.save()
    assert SessionStore(key)["otp_device_id"] == "verified"
    # ... and still keeps the session alive.
    expiry = Session.objects.get(session_key=key).expire_date
    assert expiry > timezone.now() + timedelta(minutes=settings.SESSION_IDLE_MINUTES - 1)
    # One that outlives a sign-out does not bring the session back: neither one that read it
    # just after it was pushed on (it writes nothing) nor one due to push it on.
    recent = SessionStore(key)
    assert recent["otp_device_id"] == "verified"
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() + timedelta(minutes=settings.SESSION_IDLE_MINUTES - 2)
    )
    late = SessionStore(key)
    assert late["otp_device_id"] == "verified"
    SessionStore(key).delete()
    recent.save()
    with pytest.raises(UpdateError):
        late.save()
    assert not Session.objects.filter(session_key=key).exists()


def test_security_headers_and_no_caching_of_signed_in_pages(client, nurse):
    page = client.get(reverse("login"))
    csp = page["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"
    assert page["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in page["Permissions-Policy"]
    sign_in(client, nurse)
    assert "no-store" in client.get(PATIENT_LIST)["Cache-Control"]


def test_a_form_posted_without_its_csrf_token_is_refused(nurse):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("login"), {"username": "nurse_a", "password": PASSWORD})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


def test_every_posting_form_in_the_templates_carries_a_csrf_token():
    forms = []
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = template.read_text()
        for form in re.findall(r"<form\b[^>]*>.*?</form>", text, flags=re.S | re.I):
            if re.search(r'method="post"', form, flags=re.I):
                # Jinja2 templates (templates/jinja2) write the token as {{ csrf_input }}.
                tokens = ("{% csrf_token %}", "{{ csrf_input }}")
                forms.append((template.name, any(token in form for token in tokens)))
    assert forms, "no forms found: the pattern above is wrong"
    assert [name for name, has_token in forms if not has_token] == []


def test_error_pages_say_what_happened_and_nothing_more(client, nurse, patient_b):
    sign_in(client, nurse)
    missing = client.get(reverse("patients:detail", args=[patient_b.pk]))
    assert missing.status_code == 404
    text = missing.content.decode()
    assert "Page not found" in text
    assert patient_b.family_name not in text and "Traceback" not in text

    patient_user = UserFactory(username="just_a_patient")
    sign_in(client, patient_user, second_factor=False)
    refused = client.get(PATIENT_LIST)
    assert refused.status_code == 403
    assert "You cannot open this page" in refused.content.decode()


def test_the_500_page_stands_alone(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_check_deploy_reports_nothing_with_the_production_settings(tmp_path):
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "monitor.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy-check.sqlite3'}",
        "SITE_URL": "https://monitor.example.org",
    }
    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues" in checked.stdout


def test_the_client_address_trusts_only_our_own_proxies(rf, settings):
    from accounts.client_address import client_address

    forged = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.1")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(forged) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(forged) == "203.0.113.9"


def test_no_template_has_inline_script_or_style_which_the_csp_would_block():
    offending = []
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\sstyle=", text):
            offending.append(template.name)
        if re.search(r"\son[a-z]+=", text):
            offending.append(f"{template.name} (event handler attribute)")
    assert offending == []


def test_times_are_shown_on_the_clinic_clock(client, rf, clinic_a):
    from django.http import HttpResponse
    from django.utils import timezone as tz

    from accounts.middleware import ClinicTimeZoneMiddleware
    from tests.factories import ClinicFactory

    auckland = ClinicFactory(code="auckland", time_zone="Pacific/Auckland")
    nurse = staff_of(auckland, UserFactory(username="kiwi_nurse"), Role.NURSE)
    sign_in(client, nurse)
    response = client.get(reverse("monitoring:worklist"))
    assert client.session["clinic_time_zone"] == "Pacific/Auckland"
    assert response.status_code == 200
    assert tz.get_current_timezone_name() == settings.TIME_ZONE  # reset after the request

    request = rf.get("/")
    request.session = {"clinic_time_zone": client.session["clinic_time_zone"]}
    middleware = ClinicTimeZoneMiddleware(lambda r: HttpResponse(tz.get_current_timezone_name()))
    assert middleware(request).content == b"Pacific/Auckland"
