"""Every absolute link the patient gets (the invitation e-mail, the calendar address, the
portal link inside the calendar's events) comes from SITE_URL, and scripts/run sets SITE_URL
from PORT: run with PORT=8123, the links point to http://127.0.0.1:8123/ (issue 17: they
pointed to localhost:8000, so the calendar download failed)."""

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from portal.invitations import invitation_send
from tests.builders import with_course_one
from tests.factories import PatientFactory
from tests.forms import keyed

ROOT = Path(__file__).resolve().parents[2]
PORT = 8123
# Prints the links the app makes, from the settings of the environment it runs in.
LINKS = """
from django.conf import settings
from portal.calendar_feed import feed_https_url, feed_webcal_url
from portal.invitations import invitation_url
from portal.views import portal_url
print(settings.SITE_URL)
print(feed_https_url("secret"))
print(feed_webcal_url("secret"))
print(invitation_url("secret"))
print(portal_url())
"""


def test_scripts_run_points_the_links_at_its_own_port():
    run = (ROOT / "scripts" / "run").read_text()
    # scripts/run takes its environment from the file this test runs.
    assert "source scripts/_env.sh" in run
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "DJANGO_SETTINGS_MODULE")}
    env["PORT"] = str(PORT)
    shell = 'source scripts/_env.sh && exec "$0" manage.py shell -c "$1"'

    finished = subprocess.run(
        ["bash", "-c", shell, sys.executable, LINKS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert finished.returncode == 0, finished.stderr
    # The last lines: django-axes may say hello first.
    site, https, webcal, invitation, portal = finished.stdout.split()[-5:]
    base = f"http://127.0.0.1:{PORT}"
    assert site == base
    for link in (https, invitation, portal):
        assert link.startswith(base + "/"), link
    assert webcal.startswith(f"webcal://127.0.0.1:{PORT}/")


def test_a_site_url_given_is_kept():
    env = {**os.environ, "PORT": str(PORT), "SITE_URL": "https://monitor.example.org"}

    finished = subprocess.run(
        ["bash", "-c", 'source scripts/_env.sh && echo "$SITE_URL $DJANGO_SETTINGS_MODULE"'],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert finished.stdout.split() == ["https://monitor.example.org", "config.settings.local"]


@pytest.mark.django_db
def test_the_invitation_the_calendar_and_its_events_link_to_site_url(
    settings, patient_client, patient, staff_a, clinic_a
):
    base = f"http://127.0.0.1:{PORT}"
    settings.SITE_URL = base
    with_course_one(patient, days_ago=10, given=True)
    invitee = PatientFactory(clinic=clinic_a, email="ines@example.org")

    invitation_send(patient=invitee, invited_by=staff_a, now=timezone.now())
    patient_client.post("/portal/calendar/", keyed({"action": "create"}))
    page = patient_client.get("/portal/calendar/")

    links = re.findall(r"https?://\S+", mail.outbox[-1].body)
    assert links and all(link.startswith(base + "/") for link in links)
    https_url = page.context["https_url"]
    assert https_url.startswith(base + "/portal/calendar/")
    assert page.context["webcal_url"].startswith(f"webcal://127.0.0.1:{PORT}/")
    feed = Client().get(urlsplit(https_url).path)
    events = Calendar.from_ical(feed.content).walk("VEVENT")
    assert events
    for event in events:
        found = re.findall(r"https?://\S+", str(event["DESCRIPTION"]))
        assert found == [f"{base}/portal/"]
