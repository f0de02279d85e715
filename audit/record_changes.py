"""Telling every web process that a patient's record changed, so that what it keeps of the
record's pages (patients.page_parts) is drawn again.

Every change to a patient's record writes an audit entry linked to the patient, whether made by
a save (django-auditlog) or in bulk (audit.bulk): both pass through audit.entries.subjects_store,
which calls records_changed for the patients of the entries that are changes, not reads. The
record's generation token (accounts.generations) is replaced, and a part stamped with the old
one is never served again.
"""

from __future__ import annotations

from collections.abc import Iterable

from accounts import generations


def record_key(patient_id: int) -> str:
    return f"record-generation:{patient_id}"


def records_changed(patient_ids: Iterable[int]) -> None:
    generations.replace(*(record_key(pk) for pk in sorted(set(patient_ids))))
