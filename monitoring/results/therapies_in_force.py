"""The therapy episodes the flag rules of one therapy read (monitoring.domain.therapy_rules),
for many patients in one query: each episode with its protocol's before-start and after-stop
items, joined in the same statement.

Only patients with a therapy other than alemtuzumab have episodes to read
(Patient.other_therapies); the others' one possible therapy, alemtuzumab, runs from course 1's
first infusion, which the flag data has already read with the courses, so they cost no query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

from django.db.models import FilteredRelation, Q

from monitoring.domain import therapies
from monitoring.domain.planning import AFTER_STOP, BEFORE_START
from monitoring.domain.therapy_rules import EpisodeSpan, after_stop_months, before_start_days
from patients.models import Patient, TherapyEpisode


def episodes_of(patients: Iterable[Patient]) -> dict[int, list[EpisodeSpan]]:
    """The episodes of those of `patients` that have other therapies, by patient id: one
    query (none when no patient has one). A patient without them is not in the answer."""
    ids = [patient.pk for patient in patients if patient.other_therapies]
    if not ids:
        return {}
    rows = (
        TherapyEpisode.objects.filter(patient_id__in=ids)
        .annotate(
            timed=FilteredRelation(
                "protocol__items", condition=Q(protocol__items__kind__in=[AFTER_STOP, BEFORE_START])
            )
        )
        .values_list(
            "pk",
            "patient_id",
            "therapy",
            "started_on",
            "stopped_on",
            "timed__kind",
            "timed__months",
            "timed__window_before_days",
        )
        .order_by("pk")
    )
    heads: dict[int, tuple] = {}
    items: dict[int, list[tuple]] = defaultdict(list)
    for pk, patient_id, therapy, started_on, stopped_on, kind, months, window in rows:
        heads[pk] = (patient_id, therapy, started_on, stopped_on)
        if kind:
            items[pk].append((kind, months or [], window or 0))
    found: dict[int, list[EpisodeSpan]] = defaultdict(list)
    for pk, (patient_id, therapy, started_on, stopped_on) in heads.items():
        timed = items[pk]
        found[patient_id].append(
            EpisodeSpan(
                therapy=therapy,
                started_on=started_on,
                stopped_on=stopped_on,
                after_stop_months=after_stop_months((kind, months) for kind, months, _ in timed),
                before_start_days=before_start_days((kind, days) for kind, _, days in timed),
            )
        )
    return dict(found)


def alemtuzumab_span(course_one: date | None) -> list[EpisodeSpan]:
    """The episode of a patient with alemtuzumab only: from course 1's first infusion, as
    schedule_reconcile keeps its start (none before a course is recorded)."""
    if course_one is None:
        return []
    return [EpisodeSpan(therapy=therapies.ALEMTUZUMAB, started_on=course_one)]


def spans_for(
    patient: Patient, course_one: date | None, episodes: dict[int, Sequence[EpisodeSpan]]
) -> list[EpisodeSpan]:
    """A patient's episodes: read ones if they have other therapies, else alemtuzumab's."""
    if patient.other_therapies:
        return list(episodes.get(patient.pk, ()))
    return alemtuzumab_span(course_one)
