"""The records the audit trail follows, and how to tell whose record each one is.

Each audited model is registered with django-auditlog (its saves log CREATE and UPDATE entries
with old and new values) and says how to reach the patient it belongs to, so every entry can be
linked to a patient and a clinic (audit.models.EntrySubject).

Configuration (CONFIGURATION_RECORDS: clinic settings, protocols and their items, analytes,
flag rules) belongs to no patient: its entries are linked to the clinic it configures, or to no
clinic when it is shared by every clinic. A lead reads their own clinics' entries and the shared
ones, never another clinic's.

To follow another model (the portal's, say), add an AuditedRecord to AUDITED_RECORDS: the model's
label, how to get its patient's id, and any fields too noisy to record. Writes that bypass
save() (queryset update, bulk_create) must go through audit.bulk to be recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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


@dataclass(frozen=True)
class ConfigurationRecord:
    model: str  # "app_label.ModelName"
    # The clinic the configuration belongs to, or None when every clinic shares it.
    clinic_id: Callable[[Model], int | None]
    exclude_fields: tuple[str, ...] = TIMESTAMPS


def _shared(instance) -> None:
    return None


def _acknowledged_patient_id(acknowledgement) -> int | None:
    # An acknowledgement is about exactly one result, check or symptom report (a database
    # constraint).
    if acknowledgement.result_id:
        about = acknowledgement.result
    elif acknowledgement.symptom_report_id:
        about = acknowledgement.symptom_report
    else:
        about = acknowledgement.scheduled_check
    return about.patient_id if about is not None else None


def _dose_patient_id(dose) -> int:
    return dose.episode.patient_id


AUDITED_RECORDS: list[AuditedRecord] = [
    AuditedRecord("patients.Patient", attrgetter("pk")),
    AuditedRecord("patients.InfusionCourse", attrgetter("patient_id")),
    # Other therapies: an episode started, stopped or its start overridden; a dose planned, its
    # checklist answered, its gate overridden, recorded as given.
    AuditedRecord("patients.TherapyEpisode", attrgetter("patient_id")),
    AuditedRecord("patients.TherapyDose", _dose_patient_id),
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
    # Awaiting acknowledgement follows from the report's acknowledgement, which has its entry.
    AuditedRecord(
        "monitoring.SymptomReport",
        attrgetter("patient_id"),
        ("submission_key", "awaits_acknowledgement"),
    ),
    # Alerts and reminders are created and delivered in bulk (not one entry per row), but a
    # person withdrawing them (a patient marked deceased, say) is recorded, row by row.
    AuditedRecord(
        "monitoring.Notification",
        attrgetter("patient_id"),
        ("created_at", "claim_token", "message_ref", "claimed_at"),
    ),
]


CONFIGURATION_RECORDS: list[ConfigurationRecord] = [
    # The clinic's own settings: alert deadlines, quiet hours, its lead, its date format...
    ConfigurationRecord("patients.Clinic", attrgetter("pk")),
    # Shared by every clinic: one catalogue of analytes, one set of flag rules and protocols.
    ConfigurationRecord("monitoring.MonitoringProtocol", _shared),
    ConfigurationRecord("monitoring.ProtocolItem", _shared),
    ConfigurationRecord("monitoring.Analyte", _shared),
    ConfigurationRecord("monitoring.FlagRule", _shared),
    # Who may send results and read records electronically: made and revoked by a lead.
    ConfigurationRecord("labfeeds.LabConnection", attrgetter("clinic_id")),
    ConfigurationRecord(
        "labfeeds.ApiToken", attrgetter("clinic_id"), ("created_at", "digest", "last_used_at")
    ),
    # A result waiting for a person names no patient until it is matched (and a dismissed one
    # never does): its matching or dismissal is the clinic's entry; the results recorded by a
    # match are in the patient's own trail.
    ConfigurationRecord("labfeeds.WaitingResult", attrgetter("clinic_id"), ("received_at",)),
]


@cache
def _records_by_model() -> dict[type[Model], AuditedRecord | ConfigurationRecord]:
    return {
        apps.get_model(record.model): record
        for record in [*AUDITED_RECORDS, *CONFIGURATION_RECORDS]
    }


def audited_models_register() -> None:
    """Register every audited model with django-auditlog (from AuditConfig.ready)."""
    for model, record in _records_by_model().items():
        if not auditlog.contains(model):
            auditlog.register(model, exclude_fields=[*record.exclude_fields, *_not_columns(model)])
        if not hasattr(model, "get_additional_data"):
            # django-auditlog stores what this returns with each entry it writes from a save:
            # the reason the services give django-simple-history (`_change_reason`), so the
            # trail says why as well as who and what.
            model.get_additional_data = _change_reason


def _not_columns(model: type[Model]) -> list[str]:
    """The primary key (the entry names its object already) and the reverse relations, which
    auditlog would otherwise list on every CREATE entry as "None → app.Model.None"."""
    reverse = [field.name for field in model._meta.get_fields() if not field.concrete]
    return [model._meta.pk.name, *reverse]


def _change_reason(instance) -> dict | None:
    reason = getattr(instance, "_change_reason", None)
    return {"reason": str(reason)} if reason else None


def _record_of(instance: Model) -> AuditedRecord | ConfigurationRecord:
    record = _records_by_model().get(instance._meta.concrete_model)
    if record is None:
        raise LookupError(f"{instance._meta.label} is not an audited record.")
    return record


def subjects_of(instances: Sequence[Model]) -> list[tuple[int | None, int | None]]:
    """(clinic id, patient id) for each instance: a patient's record is linked to the patient
    and their clinic, configuration to its clinic (None when shared) and no patient."""
    records = [_record_of(instance) for instance in instances]
    patient_ids = [
        patient_id_of(instance) if isinstance(record, AuditedRecord) else None
        for instance, record in zip(instances, records, strict=True)
    ]
    clinics = clinic_ids_of(instances, [pk for pk in patient_ids if pk is not None])
    return [
        (clinics[patient_id], patient_id)
        if patient_id is not None
        else (record.clinic_id(instance), None)
        for instance, record, patient_id in zip(instances, records, patient_ids, strict=True)
    ]


def patient_id_of(instance: Model) -> int:
    record = _record_of(instance)
    if not isinstance(record, AuditedRecord):
        raise LookupError(f"{instance._meta.label} is configuration, not a patient's record.")
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
