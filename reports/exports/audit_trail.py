"""The audit trail of a date range as rows, for a lead: the entries the trail's page would
show them (audit.selectors.trail_subjects, the same scope), oldest first, read in chunks.
Times are in each entry's clinic's zone (shared configuration: the lead's first clinic's, as
on the page); the changes and the entry's other data are the stored JSON, as text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC

from django.utils import timezone

from audit.display import ACTION_LABELS
from audit.selectors import TrailFilters, trail_subjects

CHUNK_SIZE = 2000
# Long enough for a year of a clinic's work, short enough that one export is not the whole
# programme's trail by accident.
MAX_DAYS = 366

HEADER = [
    "When (clinic time)",
    "Time zone",
    "Clinic",
    "Hospital number",
    "Who",
    "What happened",
    "Kind of record",
    "Record",
    "Changes (JSON)",
    "Details (JSON)",
    "From address",
]


def audit_trail_subjects(*, clinics, filters: TrailFilters):
    return (
        trail_subjects(clinics=clinics, filters=filters)
        .select_related("entry__actor", "entry__content_type", "clinic", "patient")
        .order_by("timestamp", "entry_id")
    )


def audit_trail_rows(subjects, *, shared_zone=UTC) -> Iterator[list]:
    yield HEADER
    for subject in subjects.iterator(chunk_size=CHUNK_SIZE):
        yield _row(subject, shared_zone)


def _row(subject, shared_zone) -> list:
    entry = subject.entry
    zone = subject.clinic.zone if subject.clinic is not None else shared_zone
    local = timezone.localtime(entry.timestamp, zone)
    model = entry.content_type.model_class()
    kind = model._meta.verbose_name if model is not None else entry.content_type.model
    actor = entry.actor
    who = (actor.get_full_name() or actor.get_username()) if actor else entry.actor_email
    return [
        local.replace(tzinfo=None),
        local.tzname(),
        subject.clinic.code if subject.clinic is not None else "all clinics",
        subject.patient.hospital_number if subject.patient is not None else None,
        who or "No signed-in user",
        ACTION_LABELS.get(entry.action, str(entry.action)),
        str(kind).capitalize(),
        entry.object_repr,
        _json(entry.changes),
        _json(entry.additional_data),
        entry.remote_addr,
    ]


def _json(value) -> str | None:
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)
