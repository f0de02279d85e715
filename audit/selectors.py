"""Reading the trail for a clinic lead: one clinic's (or one patient's) entries, newest first.

The whole trail also holds the configuration entries a lead may read: their own clinics'
settings, and the configuration every clinic shares (entries with no clinic).

Pages are cut by position (keyset), not by offset: "older than this entry" is an index range
scan on (clinic, timestamp) however long the trail grows, and needs no COUNT of the whole
trail. A page is one query, with the entry, its actor and content type, the clinic and the
patient joined in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q

from audit.models import EntrySubject
from monitoring.domain.input_rules import hospital_number_key

PAGE_SIZE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TrailFilters:
    hospital_number: str = ""
    actor: str = ""  # a username
    action: int | None = None
    date_from: date | None = None  # in each clinic's own calendar, inclusive
    date_to: date | None = None


@dataclass(frozen=True)
class Position:
    """Where a page ends: entries strictly older than this one come next."""

    timestamp: datetime
    entry_id: int

    def encode(self) -> str:
        return f"{(self.timestamp - _EPOCH) // timedelta(microseconds=1)}-{self.entry_id}"

    @classmethod
    def decode(cls, text: str) -> Position | None:
        """The position a link carried, or None when it is not one (then: the newest page)."""
        micros, _, entry_id = text.partition("-")
        if not (micros.isdigit() and entry_id.isdigit()):
            return None
        try:
            timestamp = _EPOCH + timedelta(microseconds=int(micros))
        except OverflowError:
            return None
        return cls(timestamp, int(entry_id))


@dataclass(frozen=True)
class TrailPage:
    subjects: list[EntrySubject]
    older: Position | None  # where the next (older) page starts; None on the last page


def trail_page(
    *,
    clinics,
    filters: TrailFilters,
    patient=None,
    before: Position | None = None,
    size: int = PAGE_SIZE,
) -> TrailPage:
    """The newest `size` entries about `clinics`' patients and configuration, with the shared
    configuration's (or about `patient` alone), that match `filters`, older than `before`.
    `clinics` is a list of Clinic: their time zones turn the date range into instants."""
    subjects = trail_subjects(clinics=clinics, filters=filters, patient=patient)
    if before is not None:
        subjects = subjects.filter(
            Q(timestamp__lt=before.timestamp)
            | Q(timestamp=before.timestamp, entry_id__lt=before.entry_id)
        )
    rows = list(
        subjects.select_related(
            "entry__actor", "entry__content_type", "clinic", "patient"
        ).order_by("-timestamp", "-entry_id")[: size + 1]
    )
    older = None
    if len(rows) > size:
        rows = rows[:size]
        older = Position(rows[-1].timestamp, rows[-1].entry_id)
    return TrailPage(subjects=rows, older=older)


def trail_subjects(*, clinics, filters: TrailFilters, patient=None):
    """Every EntrySubject the trail shows for `clinics` (or `patient`) and `filters`, unordered:
    the page above reads one page of it, the export (reports.exports) all of it."""
    ours = Q(clinic__in=[clinic.pk for clinic in clinics])
    if patient is not None:
        subjects = EntrySubject.objects.filter(ours, patient=patient)
    elif clinics:
        subjects = EntrySubject.objects.filter(ours | Q(clinic__isnull=True))
    else:
        subjects = EntrySubject.objects.none()
    if filters.hospital_number:
        key = hospital_number_key(filters.hospital_number)
        subjects = subjects.filter(patient__hospital_number_key=key)
    if filters.actor:
        subjects = subjects.filter(entry__actor__username=filters.actor)
    if filters.action is not None:
        subjects = subjects.filter(entry__action=filters.action)
    if filters.date_from or filters.date_to:
        subjects = subjects.filter(_within_dates(clinics, filters.date_from, filters.date_to))
    return subjects


def _within_dates(clinics, date_from: date | None, date_to: date | None) -> Q:
    """Entries whose clinic-local date is within the range: a day starts and ends at local
    midnight in each clinic's own zone (a 23- or 25-hour day when the clocks change). Shared
    configuration's entries count when they are within the range in any of the clinics."""
    within = Q(pk__in=[])
    for clinic in clinics:
        here = Q(clinic=clinic) | Q(clinic__isnull=True)
        if date_from:
            here &= Q(timestamp__gte=datetime.combine(date_from, time(), tzinfo=clinic.zone))
        if date_to:
            next_day = date_to + timedelta(days=1)
            here &= Q(timestamp__lt=datetime.combine(next_day, time(), tzinfo=clinic.zone))
        within |= here
    return within
