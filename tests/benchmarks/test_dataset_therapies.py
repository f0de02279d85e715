"""The benchmark's mix of therapies (benchmarks.dataset): the shares by patient number, and the
episodes, doses and flags stored in bulk, which the app's reconcile then plans."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.dataset import OTHER_THERAPIES, patients_create, therapy_mix
from monitoring.domain import therapies
from monitoring.models import MonitoringProtocol, ScheduledCheck
from monitoring.schedule.services import reconcile_in_batches
from patients.models import TherapyDose, TherapyEpisode
from tests.factories import ClinicFactory

TODAY = date(2026, 6, 15)


def test_the_mix_by_patient_number():
    mixes = [therapy_mix(n) for n in range(1200)]
    alone = sum(1 for mix in mixes if mix.alemtuzumab and not mix.therapy)
    later = sum(1 for mix in mixes if mix.alemtuzumab and mix.therapy)
    others = [mix for mix in mixes if not mix.alemtuzumab]
    assert (alone, later, len(others)) == (720, 120, 360)
    assert set(Counter(mix.therapy for mix in others)) == set(OTHER_THERAPIES)
    assert sum(mix.stopped for mix in others) == 90  # a quarter
    assert not any(mix.stopped for mix in mixes if mix.alemtuzumab)


@pytest.mark.django_db
def test_episodes_and_doses_are_stored_and_planned():
    clinic = ClinicFactory()
    protocol = MonitoringProtocol.objects.alemtuzumab().get(is_default=True)
    people = patients_create([clinic], protocol, None, 60, TODAY)
    episodes = TherapyEpisode.objects.filter(patient__clinic=clinic)
    with_episode = set(episodes.values_list("patient_id", flat=True))
    assert {p.pk for p in people if p.other_therapies} == with_episode
    assert len(with_episode) >= 20  # 18 alone, most of the 6 after alemtuzumab
    for n, patient in enumerate(people):
        assert patient.courses.exists() == therapy_mix(n).alemtuzumab, n
    stopped = episodes.exclude(stopped_on=None)
    assert stopped.exists() and all(e.stopped_on >= e.started_on for e in stopped)
    doses = TherapyDose.objects.filter(episode__patient__clinic=clinic)
    assert doses.filter(status="given", given_on__lte=TODAY).exists()
    for episode in episodes.filter(therapy__in=[therapies.NATALIZUMAB, therapies.OCRELIZUMAB]):
        planned = episode.doses.filter(status="planned")
        assert planned.count() == (0 if episode.stopped_on else 1), episode
    assert not doses.filter(episode__therapy=therapies.FINGOLIMOD).exists()  # taken at home

    reconcile_in_batches([p.pk for p in people])
    checks = ScheduledCheck.objects.filter(patient__clinic=clinic)
    assert set(checks.exclude(episode=None).values_list("patient_id", flat=True)) == with_episode
    after_stop = checks.filter(kind="after_stop", episode__in=stopped)
    stopped_with_items = {
        e.pk for e in stopped if e.protocol.items.filter(kind="after_stop").exists()
    }
    assert set(after_stop.values_list("episode_id", flat=True)) == stopped_with_items


@pytest.mark.django_db
def test_re_planning_the_mix_takes_the_same_queries_for_few_or_many_episodes():
    clinic = ClinicFactory()
    protocol = MonitoringProtocol.objects.alemtuzumab().get(is_default=True)
    ids = [p.pk for p in patients_create([clinic], protocol, None, 60, TODAY)]
    reconcile_in_batches(ids)
    counts = []
    for some in (ids[:10], ids):  # 3 episodes, then about 20
        with CaptureQueriesContext(connection) as queries:
            reconcile_in_batches(some)
        counts.append(len(queries))
    # Lock, courses, episodes (with their protocols), doses, items, stored checks, and the
    # transaction: nothing read an episode at a time.
    assert counts[0] == counts[1]
