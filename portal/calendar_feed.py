"""The patient's private calendar feed: making and revoking its address, and the iCalendar
text a calendar app reads from it.

A calendar app cannot sign in, so the address itself is the key: 256 random bits, stored only
as a hash, shown to the patient once. The events say as little as a lock screen may show: the
kind of test ("Monitoring blood test"), never an analyte, a result or a diagnosis.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from icalendar import Calendar, Event, Timezone
from icalendar.prop import vDuration

from audit.bulk import update_recorded
from monitoring.models import ScheduledCheck
from patients.models import Clinic, Patient

from .models import CalendarFeed, new_secret, secret_hash
from .plain_words import calendar_summary

# Calendar apps poll; say how often is enough (they may poll more or less often anyway).
REFRESH_EVERY = timedelta(hours=6)
PRODID = "-//Safety monitoring tracker//Calendar feed//EN"


def feed_https_url(secret: str) -> str:
    path = reverse("portal:calendar_feed", kwargs={"token": secret})
    return settings.SITE_URL.rstrip("/") + path


def feed_webcal_url(secret: str) -> str:
    """The same address with the webcal scheme, which opens the subscribe dialog of most
    calendar apps."""
    url = feed_https_url(secret)
    return "webcal://" + url.split("://", 1)[1]


def calendar_feed_create(*, patient: Patient, now: datetime) -> tuple[CalendarFeed, str]:
    """A new address for the patient's calendar; the previous one stops working. Returns the
    feed and its secret, which is not stored and cannot be shown again."""
    with transaction.atomic():
        calendar_feed_revoke(patient=patient, now=now)
        secret = new_secret()
        feed = CalendarFeed.objects.create(
            patient=patient, token_hash=secret_hash(secret), created_at=now
        )
    return feed, secret


def calendar_feed_revoke(*, patient: Patient, now: datetime) -> int:
    """Stop the patient's feed; its address answers 404 from now on."""
    return update_recorded(CalendarFeed.objects.live().filter(patient=patient), revoked_at=now)


def live_feed(secret: str) -> CalendarFeed | None:
    """The live feed with this secret, with its patient and clinic (one query); None for an
    unknown or revoked one, or when the patient's portal account has been switched off."""
    feed = (
        CalendarFeed.objects.live()
        .select_related("patient__clinic", "patient__user")
        .filter(token_hash=secret_hash(secret))
        .first()
    )
    if feed is None or feed.patient.user is None or not feed.patient.user.is_active:
        return None
    return feed


def feed_checks(patient: Patient) -> list[ScheduledCheck]:
    """Every check still waiting for the patient: one query, in date order."""
    return list(ScheduledCheck.objects.open().filter(patient=patient).order_by("due_date", "pk"))


def calendar_ical(
    *, feed: CalendarFeed, clinic: Clinic, checks: Sequence[ScheduledCheck], portal_url: str
) -> bytes:
    """One all-day event per open check. Due dates are the clinic's calendar dates, so the
    events are all-day dates (no clock time to shift across time zones); the clinic's zone is
    still named for apps that place new events by it. Each event's UID is the check's own, so a
    check moved by a new course updates the event instead of adding a second one."""
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    calendar = Calendar.new(
        prodid=PRODID,
        name="Monitoring tests",
        description=f"Your monitoring tests with {clinic.name}.",
        refresh_interval=REFRESH_EVERY,
        # Stable across fetches, and unrelated to the secret.
        uid=uuid.uuid5(uuid.NAMESPACE_URL, f"https://{host}/calendar-feed/{feed.pk}"),
    )
    calendar.add("X-WR-TIMEZONE", clinic.time_zone)
    # The older name for REFRESH-INTERVAL, which Outlook and Apple Calendar still read.
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH_EVERY))
    calendar.add_component(_time_zone(clinic, checks))
    for check in checks:
        calendar.add_component(_event(check, clinic, host, portal_url))
    return calendar.to_ical()


def _time_zone(clinic: Clinic, checks: Sequence[ScheduledCheck]) -> Timezone:
    """The clinic's zone over the years the events span (not 1970 to 2038: a shorter
    definition keeps the feed small)."""
    days = [check.due_date for check in checks] or [clinic.today()]
    first = date(min(days).year, 1, 1)
    last = date(max(days).year + 1, 12, 31)
    return Timezone.from_tzid(clinic.time_zone, first_date=first, last_date=last)


def _event(check: ScheduledCheck, clinic: Clinic, host: str, portal_url: str) -> Event:
    window = ""
    if check.window_opens < check.due_date or check.overdue_after > check.due_date:
        # A calendar app fetches the feed with no session: the clinic's format, named here.
        with translation.override(clinic.date_locale):
            opens, closes = date_format(check.window_opens), date_format(check.overdue_after)
        window = f" Any day from {opens} to {closes} is fine."
    return Event.new(
        uid=f"check-{check.pk}@{host}",
        summary=calendar_summary(check.panel),
        start=check.due_date,
        end=check.due_date + timedelta(days=1),
        stamp=check.updated_at,
        last_modified=check.updated_at,
        # Grows each time the check changes, so apps that compare sequences take the update.
        sequence=max(0, int((check.updated_at - check.created_at).total_seconds())),
        description=(
            f"A routine monitoring test with {clinic.name}.{window} "
            f"Where to go and what it is for: {portal_url}"
        ),
        transparency="TRANSPARENT",
    )
