"""The patient's private calendar feed: making and revoking its address, and the iCalendar
text a calendar app reads from it.

A calendar app cannot sign in, so the address itself is the key: 256 random bits, stored only
as a hash, shown to the patient once. The events say as little as a lock screen may show: the
kind of test ("Monitoring tests: blood and urine"), never an analyte, a result or a diagnosis.
One event per visit day, none on a past date: what is still open from earlier dates is one
"overdue" event on today.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from icalendar import Alarm, Calendar, Event, Timezone
from icalendar.prop import vDuration

from audit.bulk import update_recorded
from monitoring.models import ScheduledCheck
from patients.models import Clinic, Patient

from .models import CalendarFeed, new_secret, secret_hash
from .plain_words import calendar_summary, window_words

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
        # The reminder choice outlives the address: a new link for a lost phone keeps it.
        previous = (
            CalendarFeed.objects.select_for_update().filter(patient=patient).order_by("-pk").first()
        )
        calendar_feed_revoke(patient=patient, now=now)
        secret = new_secret()
        feed = CalendarFeed.objects.create(
            patient=patient,
            token_hash=secret_hash(secret),
            created_at=now,
            reminder_alarm=previous.reminder_alarm if previous else False,
        )
    return feed, secret


def calendar_feed_alarm_set(*, patient: Patient, reminder_alarm: bool) -> int:
    """Switch the day-before reminder of the patient's live feed on or off; calendar apps
    take it at their next fetch. Returns how many feeds changed (0: no live feed, or no
    change)."""
    live = (
        CalendarFeed.objects.live().filter(patient=patient).exclude(reminder_alarm=reminder_alarm)
    )
    return update_recorded(live, reminder_alarm=reminder_alarm)


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


def feed_checks(patient: Patient, *, today: date | None = None) -> list[ScheduledCheck]:
    """Every check still waiting for the patient, and the ones that left a visit still in the
    feed (done, waived or moved off a date from today on, or closed today): one query, in
    date order. The closed ones only date their visit's last change, so an event that lost a
    test is seen as changed. (A check moved to another date is seen by the visit it joins; the
    one it left is not told, but a re-plan moves a whole visit, whose old date then leaves the
    feed.) A visit two therapies share is one test in it: the check on another's visit is
    left out (shown), its host stands for both."""
    today = today or patient.clinic.today()
    start_of_today = datetime.combine(today, time(), tzinfo=patient.clinic.zone)
    return list(
        ScheduledCheck.objects.filter(patient=patient)
        .shown()
        .filter(
            Q(cancelled_at=None, waived_at=None, completed_on=None, before_tracking=False)
            | Q(due_date__gte=today, before_tracking=False)
            | Q(updated_at__gte=start_of_today, before_tracking=False)
        )
        .order_by("due_date", "pk")
    )


@dataclass
class Visit:
    """One event: the open checks a patient would do in one visit."""

    day: date
    checks: list[ScheduledCheck] = field(default_factory=list)
    # Folded onto today from earlier due dates.
    carried_over: bool = False
    # The latest change of its checks, and of those that left it.
    changed: datetime | None = None

    @property
    def overdue(self) -> bool:
        return any(check.overdue_after < self.day for check in self.checks)


def feed_visits(checks: Sequence[ScheduledCheck], *, today: date) -> list[Visit]:
    """The checks by visit day, one visit per date. A check due before today is no longer an
    appointment on its own date: everything still open from earlier dates, with whatever is due
    today, is one visit today (overdue or still in its window), so a feed never shows a past
    date and never two events on one day."""
    visits: dict[date, Visit] = {}
    for check in checks:
        if not check.is_open:
            continue
        day = max(check.due_date, today)
        visit = visits.setdefault(day, Visit(day=day))
        visit.checks.append(check)
        visit.carried_over = visit.carried_over or check.due_date < today
        visit.changed = max(visit.changed or check.updated_at, check.updated_at)
    for check in checks:
        # A check that left a visit still shown changed it.
        visit = None if check.is_open else visits.get(max(check.due_date, today))
        if visit is not None:
            visit.changed = max(visit.changed, check.updated_at)
    return sorted(visits.values(), key=lambda visit: visit.day)


def calendar_ical(
    *,
    feed: CalendarFeed,
    clinic: Clinic,
    checks: Sequence[ScheduledCheck],
    portal_url: str,
    today: date | None = None,
) -> bytes:
    """One all-day event per visit day. Due dates are the clinic's calendar dates, so the
    events are all-day dates (no clock time to shift across time zones); the clinic's zone is
    still named for apps that place new events by it. Each event's UID is the feed's and the
    date's (or "overdue" for the visit carried onto today), so a changed visit updates its
    event instead of adding a second one, and the overdue one moves day by day."""
    today = today or clinic.today()
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    visits = feed_visits(checks, today=today)
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
    calendar.add_component(_time_zone(clinic, [visit.day for visit in visits] or [today]))
    with translation.override(clinic.date_locale):
        # A calendar app fetches the feed with no session: the clinic's date format, named.
        for visit in visits:
            calendar.add_component(_event(visit, feed, clinic, host, portal_url, today))
    return calendar.to_ical()


def _time_zone(clinic: Clinic, days: Sequence[date]) -> Timezone:
    """The clinic's zone over the years the events span (not 1970 to 2038: a shorter
    definition keeps the feed small)."""
    first = date(min(days).year, 1, 1)
    last = date(max(days).year + 1, 12, 31)
    return Timezone.from_tzid(clinic.time_zone, first_date=first, last_date=last)


# SEQUENCE counts seconds from here to the event's last change: it grows with every change and
# stays inside the 32-bit integer some apps read it into until 2088.
_SEQUENCE_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)

# The reminder: 09:00 the day before, written as an offset from the all-day event's start
# (midnight of its date, in whatever zone the phone is in). This is how Apple Calendar writes
# its own "1 day before (9:00)" alert on all-day events, and the relative form is the one
# Apple, Thunderbird and Outlook's importer honour on a DATE event (an absolute DATE-TIME
# trigger would need a zone of its own). Google Calendar ignores alarms in subscribed feeds
# whatever their form, and uses its own notification settings instead (the page says so).
ALARM_BEFORE = timedelta(hours=15)


def _event(
    visit: Visit, feed: CalendarFeed, clinic: Clinic, host: str, portal_url: str, today: date
) -> Event:
    changed = visit.changed
    if visit.carried_over:
        # The event moves to each new today without any check changing: count that as a change.
        changed = max(changed, datetime.combine(today, time(), tzinfo=clinic.zone))
    opens = max(check.window_opens for check in visit.checks)
    closes = min(check.overdue_after for check in visit.checks)
    panels = [check.panel for check in visit.checks]
    if visit.overdue:
        was_due = min(check.due_date for check in visit.checks)
        when = f"It was due {date_format(was_due)}. Please book it as soon as you can."
    else:
        # Tests due the same day share the narrowest window, so one visit suits them all; a
        # window is only quoted while some of it is still ahead.
        when = window_words(opens=opens, closes=closes, today=today)
    uid_day = "overdue" if visit.carried_over else visit.day.isoformat()
    event = Event.new(
        uid=f"visit-{feed.pk}-{uid_day}@{host}",
        summary=calendar_summary(panels, overdue=visit.overdue),
        start=visit.day,
        end=visit.day + timedelta(days=1),
        stamp=changed,
        last_modified=changed,
        # Grows each time the visit changes, so apps that compare sequences take the update.
        sequence=max(0, int((changed - _SEQUENCE_EPOCH).total_seconds())),
        description=" ".join(
            part
            for part in (
                f"Routine monitoring tests with {clinic.name}.",
                when,
                f"Where to go and what they are for: {portal_url}",
            )
            if part
        ),
        transparency="TRANSPARENT",
    )
    if feed.reminder_alarm and not visit.carried_over:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", event["SUMMARY"])
        alarm.add("TRIGGER", -ALARM_BEFORE, parameters={"RELATED": "START"})
        event.add_component(alarm)
    return event
