"""Turning stored audit entries into rows a clinic lead can read.

django-auditlog stores each change as text, as {field: [old, new]}: "None" for empty, a choice's
code, a foreign key's id, a time in naive UTC. Here each becomes what the screens show: the
choice's label, the name of the nurse or analyte, a time in the clinic's own zone. Names behind
foreign keys are fetched once per kind of record for the whole page, never once per row.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from auditlog import get_logentry_model
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

from monitoring.models import Analyte, MonitoringProtocol
from patients.models import Clinic, Patient

EMPTY = "—"
WHEN_FORMAT = "%d %b %Y %H:%M:%S"

ACTION_LABELS = {
    get_logentry_model().Action.CREATE: "Created",
    get_logentry_model().Action.UPDATE: "Changed",
    get_logentry_model().Action.DELETE: "Deleted",
    get_logentry_model().Action.ACCESS: "Viewed",
}


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


# Records a foreign key may point to whose name a reader needs; any other is shown as its kind
# and number ("lab report #12"), since its own trail is one filter away.
NAMED_TARGETS = {
    get_user_model(): _person,
    Analyte: lambda analyte: analyte.name,
    MonitoringProtocol: lambda protocol: protocol.name,
    Clinic: lambda clinic: clinic.name,
    Patient: lambda patient: patient.hospital_number,
}


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class TrailRow:
    entry_id: int
    when: str  # in the clinic's time zone, with the zone's abbreviation
    who: str
    address: str
    action: str
    record: str
    patient: object  # None for configuration
    clinic: object  # None for configuration every clinic shares
    viewed: str
    changes: list[Change]
    reason: str = ""  # why, when the change was made with a reason

    @property
    def is_configuration(self) -> bool:
        return self.patient is None


def trail_rows(subjects, *, shared_zone=UTC) -> list[TrailRow]:
    """One row per EntrySubject (with its entry, actor, content type, clinic and patient
    loaded), in the same order. Shared configuration has no clinic: its times are shown in
    `shared_zone` (the reader's clinic's). Queries: at most one per kind of named foreign key
    target."""
    names = _target_names(subjects)
    return [_row(subject, names, shared_zone) for subject in subjects]


def _row(subject, names, shared_zone) -> TrailRow:
    entry = subject.entry
    zone = subject.clinic.zone if subject.clinic is not None else shared_zone
    local = timezone.localtime(entry.timestamp, zone)
    model = entry.content_type.model_class()
    return TrailRow(
        entry_id=entry.pk,
        when=f"{local:{WHEN_FORMAT}} {local.tzname()}",
        who=_person(entry.actor) if entry.actor else (entry.actor_email or "No signed-in user"),
        address=entry.remote_addr or EMPTY,
        action=ACTION_LABELS.get(entry.action, str(entry.action)),
        record=f"{_kind(model, entry)}: {entry.object_repr}",
        patient=subject.patient,
        clinic=subject.clinic,
        viewed=_extra(entry).get("viewed", ""),
        changes=_changes(model, entry.changes or {}, zone, names),
        reason=_extra(entry).get("reason", ""),
    )


def _extra(entry) -> dict:
    extra = entry.additional_data
    return extra if isinstance(extra, dict) else {}


def _kind(model, entry) -> str:
    if model is None:  # a model since removed from the code
        return entry.content_type.model
    return str(model._meta.verbose_name).capitalize()


def _changes(model, changes: dict, zone, names) -> list[Change]:
    fields = _fields_by_name(model)
    order = {name: index for index, name in enumerate(fields)}
    shown = []
    for name in sorted(changes, key=lambda name: order.get(name, len(order))):
        old, new = changes[name]
        field = fields.get(name)
        old, new = _value(field, old, zone, names), _value(field, new, zone, names)
        if old != new:  # on creation auditlog lists empty fields too: "None" → ""
            shown.append(Change(_label(field, name), old, new))
    return shown


def _fields_by_name(model) -> dict[str, models.Field]:
    if model is None:
        return {}
    return {
        field.name: field for field in [*model._meta.concrete_fields, *model._meta.many_to_many]
    }


def _label(field, name: str) -> str:
    return str(field.verbose_name).capitalize() if field is not None else name


def _value(field, stored, zone, names) -> str:
    if stored is None or stored in ("None", ""):
        return EMPTY
    stored = str(stored)
    if field is None:
        return stored
    if field.many_to_many:
        return stored  # already names (audit.memberships), not ids
    if field.is_relation:
        target = field.related_model
        label = names.get((target, stored))
        return label or f"{target._meta.verbose_name} #{stored}"
    if field.choices:
        return str(dict(field.flatchoices).get(stored, stored))
    if isinstance(field, models.DecimalField):
        return _number(stored)
    if isinstance(field, models.BooleanField):
        return {"True": "yes", "False": "no"}.get(stored, stored)
    if isinstance(field, models.DateTimeField):
        return _local_time(stored, zone)
    if isinstance(field, models.DateField):
        return _day(stored)
    if isinstance(field, models.JSONField):
        return _listed(stored)
    return stored


def _number(stored: str) -> str:
    """A stored 45.0000 and a freshly entered 45 are the same number: show both as 45."""
    try:
        return f"{Decimal(stored).normalize():f}"
    except InvalidOperation:
        return stored


def _local_time(stored: str, zone) -> str:
    try:
        moment = datetime.fromisoformat(stored)
    except ValueError:
        return stored
    if timezone.is_naive(moment):  # auditlog stores instants as naive UTC
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return f"{local:{WHEN_FORMAT}} {local.tzname()}"


def _day(stored: str) -> str:
    try:
        return f"{date.fromisoformat(stored):%d %b %Y}"
    except ValueError:
        return stored


def _listed(stored: str) -> str:
    try:
        value = json.loads(stored)
    except ValueError:
        return stored
    if isinstance(value, list):
        return "; ".join(str(item) for item in value) or EMPTY
    return stored


def _target_names(subjects) -> dict[tuple[type, str], str]:
    """The names of every named record a change on this page points to, by (model, id)."""
    wanted: dict[type, set[str]] = defaultdict(set)
    for subject in subjects:
        model = subject.entry.content_type.model_class()
        fields = _fields_by_name(model)
        for name, values in (subject.entry.changes or {}).items():
            field = fields.get(name)
            if field is None or field.many_to_many or field.related_model not in NAMED_TARGETS:
                continue
            wanted[field.related_model].update(
                str(value) for value in values if value not in (None, "None")
            )
    names = {}
    for target, ids in wanted.items():
        describe = NAMED_TARGETS[target]
        valid = [int(pk) for pk in ids if pk.isdigit()]
        for obj in target._base_manager.filter(pk__in=valid):
            names[(target, str(obj.pk))] = describe(obj)
    return names
