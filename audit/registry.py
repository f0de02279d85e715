"""The records the audit trail follows, and how to tell whose record each one is.

Each audited model is registered with django-auditlog (its saves log CREATE and UPDATE entries
with old and new values) and says how to reach the patient it belongs to, so every entry can be
linked to a patient and a clinic (audit.models.EntrySubject).

To follow another model (the portal's, say), add an AuditedRecord to AUDITED_RECORDS: the model's
label, how to get its patient's id, and any fields too noisy to record. Writes that bypass
save() (queryset update, bulk_create) must go through audit.bulk to be recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from operator import attrgetter

from auditlog.registry import auditlog
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model

# Bookkeeping columns that change on every save and say nothing a reader of the trail needs:
# the entry's own timestamp already says when.
TIMESTAMPS = ("created_at", "updated_at")


@dataclass(frozen=True)
class AuditedRecord:
    model: str  # "app_label.ModelName"
    patient_id: Callable[[Model], int | None]
    exclude_fields: tuple[str, ...] = TIMESTAMPS


def _acknowledged_patient_id(acknowledgement) -> int | None:
    # An acknowledgement is about exactly one result or one check (a database constraint).
    about = acknowledgement.result if acknowledgement.result_id else acknowledgement.scheduled_check
    return about.patient_id if about is not None else None


AUDITED_RECORDS: list[AuditedRecord] = [
    AuditedRecord("patients.Patient", attrgetter("pk")),
    AuditedRecord("patients.InfusionCourse", attrgetter("patient_id")),
    # The submission key only stops a form being stored twice; it is not part of the record.
    AuditedRecord(
        "monitoring.LabReport", attrgetter("patient_id"), ("submission_key", "entered_at")
    ),
    # The rationale is the flag rules' fixed explanation, repeated on every result; the tier,
    # reasons and next action that decide what a nurse does are kept. Awaiting acknowledgement
    # follows from the tier and the acknowledgements, which have their own entries.
    AuditedRecord(
        "monitoring.LabResult",
        attrgetter("patient_id"),
        (*TIMESTAMPS, "rationale", "awaits_acknowledgement"),
    ),
    AuditedRecord("monitoring.Acknowledgement", _acknowledged_patient_id),
    # Checks: waivers, completions, moves and cancellations. Planned checks are created in bulk
    # without an entry each (see audit.bulk).
    AuditedRecord("monitoring.ScheduledCheck", attrgetter("patient_id")),
    # The portal: who invited whom and when, links replaced or used, calendar feeds made and
    # switched off, and the symptoms patients report. The secrets' hashes are left out.
    AuditedRecord("portal.Invitation", attrgetter("patient_id"), ("token_hash",)),
    AuditedRecord("portal.CalendarFeed", attrgetter("patient_id"), ("token_hash",)),
    AuditedRecord("monitoring.SymptomReport", attrgetter("patient_id"), ("submission_key",)),
]


@cache
def _records_by_model() -> dict[type[Model], AuditedRecord]:
    return {apps.get_model(record.model): record for record in AUDITED_RECORDS}


def audited_models_register() -> None:
    """Register every audited model with django-auditlog (from AuditConfig.ready)."""
    for model, record in _records_by_model().items():
        if not auditlog.contains(model):
            auditlog.register(model, exclude_fields=[*record.exclude_fields, *_not_columns(model)])


def _not_columns(model: type[Model]) -> list[str]:
    """The primary key (the entry names its object already) and the reverse relations, which
    auditlog would otherwise list on every CREATE entry as "None → app.Model.None"."""
    reverse = [field.name for field in model._meta.get_fields() if not field.concrete]
    return [model._meta.pk.name, *reverse]


def patient_id_of(instance: Model) -> int:
    record = _records_by_model().get(instance._meta.concrete_model)
    if record is None:
        raise LookupError(f"{instance._meta.label} is not an audited record.")
    patient_id = record.patient_id(instance)
    if patient_id is None:
        raise LookupError(f"{instance._meta.label} {instance.pk} belongs to no patient.")
    return patient_id


def clinic_ids_of(instances: Iterable[Model], patient_ids: list[int]) -> dict[int, int]:
    """The clinic of each patient, by patient id: from patients already loaded with the
    instances where possible, and the rest in one query."""
    from patients.models import Patient

    known: dict[int, int] = {}
    for instance in instances:
        if isinstance(instance, Patient):
            known[instance.pk] = instance.clinic_id
            continue
        try:
            field = instance._meta.get_field("patient")
        except FieldDoesNotExist:
            continue
        if field.is_cached(instance):
            known[instance.patient.pk] = instance.patient.clinic_id
    missing = set(patient_ids) - known.keys()
    if missing:
        known.update(Patient.objects.filter(pk__in=missing).values_list("pk", "clinic_id"))
    return known
