"""Quiet hours, the daily digest and one e-mail a day, on the clinic's clock, across the two
nights a year the clock changes (Europe/London: 29 March and 25 October 2026)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitoring.domain.send_times import (
    AT_ONCE,
    NURSE_DIGEST,
    PATIENT_DAILY,
    SendPolicy,
    in_quiet_hours,
    next_send_at,
    outside_quiet_hours,
    retry_delay,
)

LONDON = ZoneInfo("Europe/London")
POLICY = SendPolicy(zone=LONDON, quiet_start=time(21), quiet_end=time(8), digest_time=time(8))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("clock", "quiet"),
    [
        (time(20, 59), False),
        (time(21, 0), True),
        (time(23, 30), True),
        (time(0, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_overnight_quiet_hours(clock, quiet):
    assert in_quiet_hours(clock, time(21), time(8)) is quiet


def test_daytime_quiet_hours_and_none():
    assert in_quiet_hours(time(13, 30), time(13), time(14))
    assert not in_quiet_hours(time(14), time(13), time(14))
    assert not in_quiet_hours(time(3), time(8), time(8))  # start == end: no quiet hours


def test_a_reminder_due_at_night_waits_until_eight_local_in_winter():
    late_evening = utc(2026, 11, 20, 22, 15)  # 22:15 GMT
    assert outside_quiet_hours(late_evening, POLICY) == utc(2026, 11, 21, 8, 0)


def test_a_reminder_due_at_night_waits_until_eight_local_in_summer():
    late_evening = utc(2026, 7, 1, 21, 15)  # 22:15 BST
    assert outside_quiet_hours(late_evening, POLICY) == utc(2026, 7, 2, 7, 0)


def test_the_night_the_clocks_go_forward_quiet_hours_end_at_eight_summer_time():
    # 28 March 22:00 GMT; the clocks jump from 01:00 to 02:00 that night. 08:00 BST = 07:00 UTC.
    assert outside_quiet_hours(utc(2026, 3, 28, 22, 0), POLICY) == utc(2026, 3, 29, 7, 0)
    # 07:30 UTC on the 29th is 08:30 BST: allowed, though the same UTC time was quiet the day
    # before (07:30 GMT).
    assert outside_quiet_hours(utc(2026, 3, 29, 7, 30), POLICY) == utc(2026, 3, 29, 7, 30)
    assert outside_quiet_hours(utc(2026, 3, 28, 7, 30), POLICY) == utc(2026, 3, 28, 8, 0)


def test_the_night_the_clocks_go_back_quiet_hours_end_at_eight_winter_time():
    # 24 October 21:30 BST; the clocks go back from 02:00 to 01:00. 08:00 GMT = 08:00 UTC.
    assert outside_quiet_hours(utc(2026, 10, 24, 20, 30), POLICY) == utc(2026, 10, 25, 8, 0)
    # 07:30 UTC on the 25th is 07:30 GMT: still quiet, though it was 08:30 BST the day before.
    assert outside_quiet_hours(utc(2026, 10, 25, 7, 30), POLICY) == utc(2026, 10, 25, 8, 0)
    assert outside_quiet_hours(utc(2026, 10, 24, 7, 30), POLICY) == utc(2026, 10, 24, 7, 30)


def test_urgent_messages_go_at_once_even_at_night():
    night = utc(2026, 11, 21, 2, 0)
    assert next_send_at(AT_ONCE, now=night, policy=POLICY, last_sent_at=night) == night


def test_the_digest_goes_at_the_digest_time_across_both_clock_changes():
    # Before 08:00 local, wait for it; the UTC instant moves with summer time.
    assert next_send_at(
        NURSE_DIGEST, now=utc(2026, 3, 29, 0, 30), policy=POLICY, last_sent_at=None
    ) == utc(2026, 3, 29, 7, 0)
    assert next_send_at(
        NURSE_DIGEST, now=utc(2026, 10, 25, 0, 30), policy=POLICY, last_sent_at=None
    ) == utc(2026, 10, 25, 8, 0)


def test_a_digest_already_sent_today_waits_for_tomorrows_digest_time():
    sent = utc(2026, 10, 24, 7, 0)  # 08:00 BST on the 24th
    now = utc(2026, 10, 24, 15, 0)
    # The next morning is GMT again: 08:00 local is 08:00 UTC, 25 hours after the last one.
    assert next_send_at(NURSE_DIGEST, now=now, policy=POLICY, last_sent_at=sent) == utc(
        2026, 10, 25, 8, 0
    )


def test_a_digest_not_yet_sent_today_goes_now_when_past_the_digest_time():
    now = utc(2026, 11, 21, 10, 0)
    yesterday = now - timedelta(days=1)
    assert next_send_at(NURSE_DIGEST, now=now, policy=POLICY, last_sent_at=yesterday) == now


def test_one_patient_email_a_day_and_the_next_day_not_before_quiet_hours_end():
    sent_this_morning = utc(2026, 11, 21, 8, 5)
    afternoon = utc(2026, 11, 21, 14, 0)
    assert next_send_at(
        PATIENT_DAILY, now=afternoon, policy=POLICY, last_sent_at=sent_this_morning
    ) == utc(2026, 11, 22, 8, 0)
    # Nothing sent yet today, in the afternoon: now.
    assert next_send_at(PATIENT_DAILY, now=afternoon, policy=POLICY, last_sent_at=None) == afternoon


def test_the_patients_day_is_the_clinics_local_day_not_the_utc_day():
    # 23:30 UTC on 28 March is 23:30 GMT, quiet; an e-mail sent at 08:00 GMT that day counts
    # as today's, so the next may go when quiet hours end on the 29th, at 08:00 BST.
    sent = utc(2026, 3, 28, 8, 0)
    assert next_send_at(
        PATIENT_DAILY, now=utc(2026, 3, 28, 23, 30), policy=POLICY, last_sent_at=sent
    ) == utc(2026, 3, 29, 7, 0)


def test_a_clinic_far_from_utc_uses_its_own_date():
    tokyo = SendPolicy(
        zone=ZoneInfo("Asia/Tokyo"), quiet_start=time(21), quiet_end=time(8), digest_time=time(9)
    )
    # 01:00 UTC on the 21st is 10:00 on the 21st in Tokyo; a digest sent at 00:00 UTC (09:00
    # Tokyo, same local day) means the next is tomorrow 09:00 Tokyo = 00:00 UTC on the 22nd.
    assert next_send_at(
        NURSE_DIGEST, now=utc(2026, 11, 21, 1, 0), policy=tokyo, last_sent_at=utc(2026, 11, 21)
    ) == utc(2026, 11, 22, 0, 0)


def test_retry_backoff_doubles_up_to_its_cap():
    delays = [retry_delay(n, base_seconds=60, max_seconds=600).total_seconds() for n in range(1, 7)]
    assert delays == [60, 120, 240, 480, 600, 600]
