"""Writing audit entries with their subjects, one at a time or in bulk.

django-auditlog writes an entry from each save() of an audited model. Writes that skip save()
(a queryset update, bulk_create) send no signal, so the services route them through
audit.bulk, which builds the same entries here and inserts them in two statements however many
rows changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from auditlog import get_logentry_model
from auditlog.cid import get_cid
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import connections, router
from django.db.models import Model
from django.db.models.signals import pre_save
from django.db.models.sql.subqueries import InsertQuery
from django.utils.encoding import smart_str

from audit.models import EntrySubject
from audit.record_changes import records_changed
from audit.registry import subjects_of


class AuditTrailImmutable(PermissionDenied):
    """Raised on any attempt to change or delete an audit entry through the ORM."""


def new_entry(instance: Model, *, action: int, changes: dict | None, **fields):
    """An unsaved entry about `instance`, filled as LogEntry.objects.log_create fills one."""
    return get_logentry_model()(
        content_type=ContentType.objects.get_for_model(instance),
        object_pk=smart_str(instance.pk),
        object_id=instance.pk if isinstance(instance.pk, int) else None,
        object_repr=smart_str(instance),
        action=action,
        changes=changes,
        cid=get_cid(),
        **fields,
    )


def entries_store(entries: Sequence, instances: Sequence[Model]) -> None:
    """Insert `entries` (each about the instance at the same position) and their subjects."""
    if not entries:
        return
    log_entry = get_logentry_model()
    for entry in entries:
        # bulk_create sends no pre_save. AuditlogMiddleware stamps the actor and the address on
        # each entry from a pre_save receiver, so send it just as a save would.
        pre_save.send(
            sender=log_entry, instance=entry, raw=False, using="default", update_fields=None
        )
    log_entry.objects.bulk_create(entries)
    subjects_store(entries, instances)


def entry_store(entry, instance: Model) -> None:
    """Insert one entry about `instance` with its subject. On PostgreSQL that is one statement
    (the entry's INSERT inside a WITH, the subject's taking its id), because every read of a
    record writes one and a request should not pay two round trips for it; elsewhere, two."""
    log_entry = get_logentry_model()
    pre_save.send(sender=log_entry, instance=entry, raw=False, using="default", update_fields=None)
    using = router.db_for_write(log_entry)
    connection = connections[using]
    if connection.vendor != "postgresql":
        log_entry.objects.bulk_create([entry])
        subjects_store([entry], [instance])
        return
    meta = log_entry._meta
    query = InsertQuery(log_entry)
    query.insert_values(
        [f for f in meta.local_concrete_fields if f is not meta.auto_field], [entry]
    )
    compiler = query.get_compiler(using=using)
    compiler.returning_fields = [meta.pk]
    ((insert, params),) = compiler.as_sql()
    ((clinic_id, patient_id),) = subjects_of([instance])
    quote = connection.ops.quote_name
    subject = EntrySubject._meta
    names = ("entry", "clinic", "patient", "timestamp")
    columns = ", ".join(quote(subject.get_field(name).column) for name in names)
    table, key = quote(subject.db_table), quote(subject.pk.column)
    # Table and column names from the models' meta; every value is a parameter.
    sql = (
        f"WITH entry AS ({insert}) INSERT INTO {table} ({columns}) "  # noqa: S608
        f"SELECT entry.{quote(meta.pk.column)}, %s, %s, %s FROM entry RETURNING {key}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, clinic_id, patient_id, entry.timestamp])
        entry.pk = cursor.fetchone()[0]
    entry._state.adding = False
    entry._state.db = using
    if patient_id is not None and entry.action != log_entry.Action.ACCESS:
        records_changed([patient_id])


def subjects_store(entries: Sequence, instances: Sequence[Model]) -> None:
    """Link stored entries to the patient and clinic of the instance each one is about (for
    configuration: its clinic, or none when shared)."""
    subjects = subjects_of(instances)
    EntrySubject.objects.bulk_create(
        EntrySubject(
            entry=entry,
            clinic_id=clinic_id,
            patient_id=patient_id,
            timestamp=entry.timestamp,
        )
        for entry, (clinic_id, patient_id) in zip(entries, subjects, strict=True)
    )
    access = get_logentry_model().Action.ACCESS
    records_changed(
        patient_id
        for entry, (_, patient_id) in zip(entries, subjects, strict=True)
        if patient_id is not None and entry.action != access
    )


def refuse_change(sender, instance, **kwargs) -> None:
    """pre_save receiver: a new entry may be written, an existing one never rewritten."""
    if not instance._state.adding:
        raise AuditTrailImmutable("Audit entries cannot be changed.")


def refuse_delete(sender, instance, **kwargs) -> None:
    """pre_delete receiver: no audit entry is ever deleted, alone or by a cascade."""
    raise AuditTrailImmutable("Audit entries cannot be deleted.")


def subject_link(sender, instance, log_entry=None, log_created=False, **kwargs) -> None:
    """post_log receiver: link each entry django-auditlog writes from a save to its subject."""
    if log_created and log_entry is not None:
        subjects_store([log_entry], [instance])
