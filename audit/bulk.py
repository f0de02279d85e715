"""Audited versions of the writes that bypass save(), for the services to call.

A queryset update or a bulk_create sends no model signal, so django-auditlog never sees it.
Each function here does the write and records the same entries a save() would have (old and new
values per field), built in memory and inserted in one statement: no query per row.

Deliberately not recorded: the checks schedule_reconcile creates when it plans a schedule
(hundreds per patient). They follow mechanically from the courses and the protocol, whose own
changes are recorded, and an entry each would bury the human actions a lead looks for. Every
later change to a check (waived, completed, moved, cancelled) is recorded.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from auditlog import get_logentry_model
from auditlog.diff import model_instance_diff
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.db.models import Model, QuerySet

from audit.entries import entries_store, new_entry


def record_created(objs: Sequence[Model]) -> None:
    """Record CREATE entries for objects just stored with bulk_create (their pks set)."""
    if not objs:
        return
    action = get_logentry_model().Action.CREATE
    entries = [
        new_entry(obj, action=action, changes=model_instance_diff(None, obj)) for obj in objs
    ]
    entries_store(entries, objs)


def update_recorded(queryset: QuerySet, **values) -> int:
    """`queryset.update(**values)`, recording an UPDATE entry for each row it changes.

    The rows are read and locked first, then exactly those rows are updated, so the entries
    describe what was written even when another transaction races this one. Returns the number
    of rows updated, as update() does. Values must be plain values or model instances: an
    expression (F(), Now()) has no value to record until the database computes it.
    """
    for name, value in values.items():
        if hasattr(value, "resolve_expression"):
            raise TypeError(f"{name}: give a value, not an expression, to record it.")
    model = queryset.model
    with transaction.atomic(savepoint=False):
        before = list(_with_patient(queryset).select_for_update(of=("self",)))
        if not before:
            return 0
        updated = model._base_manager.filter(pk__in=[obj.pk for obj in before]).update(**values)
        after = []
        for obj in before:
            new = copy.copy(obj)
            for name, value in values.items():
                setattr(new, name, value)
            after.append(new)
        _record_changes(before, after, fields=list(values))
    return updated


def bulk_update_recorded(
    objs: Sequence[Model],
    fields: Sequence[str],
    *,
    system_actor: str = "",
    before: Sequence[Model] | None = None,
) -> None:
    """`Model.objects.bulk_update(objs, fields)`, recording an UPDATE entry for each object
    whose stored values change: the old values are read, and locked, in one query first,
    unless the caller gives them (`before`, in the order of `objs`: copies it read under a
    lock that keeps them as they are, the patient's). `system_actor` names the job that made
    the change when no person did (the trail shows it where it would show a person)."""
    if not objs:
        return
    model = type(objs[0])
    with transaction.atomic(savepoint=False):
        manager = model._base_manager
        if before is None:
            rows = _with_patient(manager.all()).select_for_update(of=("self",))
            stored = rows.in_bulk([obj.pk for obj in objs])
        else:
            stored = {old.pk: old for old in before}
        manager.bulk_update(objs, fields)
        _record_changes(
            [stored[obj.pk] for obj in objs], objs, fields=list(fields), system_actor=system_actor
        )


def _with_patient(queryset: QuerySet) -> QuerySet:
    """Join the patient in, when the rows have one, so linking the entries to the patient's
    clinic needs no further query."""
    try:
        queryset.model._meta.get_field("patient")
    except FieldDoesNotExist:
        return queryset
    return queryset.select_related("patient")


def _record_changes(
    before: Sequence[Model],
    after: Sequence[Model],
    *,
    fields: list[str],
    system_actor: str = "",
):
    action = get_logentry_model().Action.UPDATE
    actor = {"actor_email": system_actor} if system_actor else {}
    entries, instances = [], []
    for old, new in zip(before, after, strict=True):
        changes = model_instance_diff(old, new, fields_to_check=fields)
        if changes:
            entries.append(new_entry(new, action=action, changes=changes, **actor))
            instances.append(new)
    entries_store(entries, instances)
