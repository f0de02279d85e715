"""Audit entries are written once: not through the ORM, and on PostgreSQL not by any SQL."""

import pytest
from auditlog.models import LogEntry
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.test import RequestFactory

from audit.access import record_access
from audit.entries import AuditTrailImmutable
from audit.models import EntrySubject

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="The append-only trigger is PostgreSQL's; SQLite's test flush deletes rows, which "
    "a trigger would refuse, so SQLite relies on the ORM guard alone.",
)


def raw(sql: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_entries_cannot_be_changed_or_deleted_through_the_orm(patient):
    entry = LogEntry.objects.get_for_object(patient).get()

    entry.object_repr = "someone else"
    # Each attempt in its own savepoint: a refused write aborts the transaction it is in.
    with pytest.raises(AuditTrailImmutable), transaction.atomic():
        entry.save()
    # An entry is held by its subject's protecting foreign key, the subject by the guard.
    with pytest.raises(ProtectedError), transaction.atomic():
        entry.delete()
    with pytest.raises(ProtectedError), transaction.atomic():
        LogEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AuditTrailImmutable), transaction.atomic():
        EntrySubject.objects.filter(entry=entry).delete()
    assert LogEntry.objects.get(pk=entry.pk).object_repr == str(patient)


@pytest.mark.postgres
@on_postgresql
@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE auditlog_logentry SET object_repr = 'edited' WHERE id = %s",
        "UPDATE auditlog_logentry SET actor_id = NULL WHERE id = %s",
        "DELETE FROM auditlog_logentry WHERE id = %s",
        "UPDATE audit_entrysubject SET patient_id = patient_id WHERE entry_id = %s",
        "DELETE FROM audit_entrysubject WHERE entry_id = %s",
    ],
)
def test_on_postgresql_raw_sql_cannot_change_or_delete_an_entry(patient, sql):
    entry = LogEntry.objects.get_for_object(patient).get()

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        raw(sql, entry.pk)

    assert LogEntry.objects.filter(pk=entry.pk, object_repr=str(patient)).exists()


# Serialized like every transactional test, so the flush after it keeps the seeded data.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_committed_entries_stay_and_the_test_flush_still_empties_the_table(patient, staff_a):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5")
    request.user = staff_a
    with transaction.atomic():
        entry = record_access(request, patient, "patient page")

    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            raw("DELETE FROM auditlog_logentry WHERE id = %s", entry.pk)
    assert LogEntry.objects.filter(pk=entry.pk).exists()
    # After this test Django empties every table (TRUNCATE on PostgreSQL), which the row
    # triggers do not see; a trigger that refused it would fail this test's teardown.
