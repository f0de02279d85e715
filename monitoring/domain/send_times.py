"""When a message may be sent: quiet hours, the daily digest, one e-mail a day, retry backoff.

Pure functions over aware datetimes and a clinic's time zone; no ORM. Instants are UTC; the
clinic's zone decides only the local clock (quiet hours, the digest time) and what "today" is,
so a change to or from summer time moves the UTC instant, never the local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

AT_ONCE = "at_once"
NURSE_DIGEST = "digest"
PATIENT_DAILY = "daily"


@dataclass(frozen=True)
class SendPolicy:
    zone: ZoneInfo
    quiet_start: time
    quiet_end: time
    digest_time: time


def local_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The instant the local clock reads `clock` on `day`. A time skipped by a spring-forward
    change is read with the offset before the change, i.e. as the first instant after it."""
    return datetime.combine(day, clock, tzinfo=zone)


def in_quiet_hours(clock: time, start: time, end: time) -> bool:
    if start == end:
        return False  # no quiet hours
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end  # overnight, e.g. 21:00-08:00


def outside_quiet_hours(moment: datetime, policy: SendPolicy) -> datetime:
    """`moment` itself if the clinic's local clock is outside quiet hours then, otherwise the
    instant quiet hours end."""
    local = moment.astimezone(policy.zone)
    if not in_quiet_hours(local.time(), policy.quiet_start, policy.quiet_end):
        return moment
    end_day = local.date()
    if local.time() >= policy.quiet_end:  # evening part of an overnight stretch
        end_day += timedelta(days=1)
    return local_instant(end_day, policy.quiet_end, policy.zone)


def local_day_start(moment: datetime, zone: ZoneInfo) -> datetime:
    return local_instant(moment.astimezone(zone).date(), time(0, 0), zone)


def next_send_at(
    delivery: str, *, now: datetime, policy: SendPolicy, last_sent_at: datetime | None
) -> datetime:
    """The earliest instant, not before `now`, at which a message of this delivery kind may
    go to a recipient whose last message of that kind went at `last_sent_at`.

    - at once: now;
    - nurse digest: once per local day, at or after the clinic's digest time;
    - patient daily: once per local day, never in quiet hours.
    """
    if delivery == AT_ONCE:
        return now
    local_today = now.astimezone(policy.zone).date()
    sent_today = last_sent_at is not None and last_sent_at >= local_day_start(now, policy.zone)
    if delivery == NURSE_DIGEST:
        if sent_today:
            return local_instant(local_today + timedelta(days=1), policy.digest_time, policy.zone)
        return max(now, local_instant(local_today, policy.digest_time, policy.zone))
    if delivery == PATIENT_DAILY:
        earliest = now
        if sent_today:
            earliest = local_instant(local_today + timedelta(days=1), time(0, 0), policy.zone)
        return outside_quiet_hours(earliest, policy)
    raise ValueError(f"Unknown delivery {delivery!r}")


def retry_delay(attempts: int, *, base_seconds: int, max_seconds: int) -> timedelta:
    """Exponential backoff after the `attempts`-th failed attempt: base, 2x base, 4x base..."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(0, attempts - 1)))
