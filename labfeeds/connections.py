"""A lead's configuration of the labs that send results: connections made, their sender fields
changed, switched off and on, and how long the clinic keeps lab messages. Saved with save(), so
django-auditlog records each change as the clinic's configuration (audit.registry). Tokens are
made and revoked in labfeeds.tokens."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from labfeeds.models import LabConnection
from patients.models import Clinic

SENDER_TAKEN = (
    "Another lab connection already uses sending application “{application}” and sending "
    "facility “{facility}”: HL7 messages must name one connection. Check MSH-3 and MSH-4 "
    "with the lab."
)
SENDER_FIELDS = ("name", "hl7_sending_application", "hl7_sending_facility", "assigning_authority")


def _sender_taken(connection: LabConnection) -> ValidationError:
    return ValidationError(
        {
            "hl7_sending_facility": SENDER_TAKEN.format(
                application=connection.hl7_sending_application,
                facility=connection.hl7_sending_facility,
            )
        }
    )


def _sender_check(connection: LabConnection) -> None:
    """The unique constraint labconnection_one_hl7_sender, said in words before the save."""
    if not connection.hl7_sending_facility:
        return
    others = LabConnection.objects.filter(
        hl7_sending_application=connection.hl7_sending_application,
        hl7_sending_facility=connection.hl7_sending_facility,
    ).exclude(pk=connection.pk)
    if others.exists():
        raise _sender_taken(connection)


def _save(connection: LabConnection, **kwargs) -> LabConnection:
    for name in SENDER_FIELDS:
        setattr(connection, name, getattr(connection, name).strip())
    _sender_check(connection)
    try:
        with transaction.atomic():
            connection.save(**kwargs)
    except IntegrityError:
        # The same sender saved by someone else between the check and the save.
        raise _sender_taken(connection) from None
    return connection


def connection_create(
    *,
    clinic: Clinic,
    name: str,
    created_by,
    hl7_sending_application: str = "",
    hl7_sending_facility: str = "",
    assigning_authority: str = "",
) -> LabConnection:
    connection = LabConnection(
        clinic=clinic,
        name=name,
        hl7_sending_application=hl7_sending_application,
        hl7_sending_facility=hl7_sending_facility,
        assigning_authority=assigning_authority,
        created_by=created_by,
    )
    return _save(connection)


def connection_update(*, connection: LabConnection, **fields: str) -> LabConnection:
    """Change a connection's name and sender fields (SENDER_FIELDS)."""
    unknown = set(fields) - set(SENDER_FIELDS)
    if unknown:
        raise TypeError(f"Not a connection's sender field: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        connection = LabConnection.objects.select_for_update().get(pk=connection.pk)
        for name, value in fields.items():
            setattr(connection, name, value)
        return _save(connection, update_fields=list(fields))


def connection_switch(*, connection: LabConnection, active: bool) -> LabConnection:
    """Off: its messages are refused and its tokens too (labfeeds.tokens), until switched on."""
    with transaction.atomic():
        connection = LabConnection.objects.select_for_update().get(pk=connection.pk)
        if connection.is_active != active:
            connection.is_active = active
            connection.save(update_fields=["is_active"])
    return connection


def retention_set(*, clinic: Clinic, days: int) -> Clinic:
    """How many days the clinic keeps lab messages as sent (labfeeds.retention)."""
    with transaction.atomic():
        clinic = Clinic.objects.select_for_update().get(pk=clinic.pk)
        clinic.lab_message_retention_days = days
        others = [f.name for f in Clinic._meta.fields if f.name != "lab_message_retention_days"]
        clinic.clean_fields(exclude=others)
        clinic.save(update_fields=["lab_message_retention_days"])
    return clinic
