"""Lab messages as sent are kept for the clinic's retention period
(Clinic.lab_message_retention_days), then emptied: the row stays, with its control ID, status,
counts and problems (the connections screen and a repeat's answer need them), and so does
everything recorded from it. Only the raw text and the answer sent back are removed."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from labfeeds.models import LabMessage
from patients.models import Clinic

# For a message that names no clinic (an unknown sender's, refused before it was read).
DEFAULT_RETENTION_DAYS = Clinic._meta.get_field("lab_message_retention_days").default


def messages_purge(*, now: datetime) -> int:
    """Empty the raw text and answer of every message older than its clinic's retention
    period; returns how many. One UPDATE per retention period in use (clinics sharing a period
    share the statement), on the index of messages still kept (labmessage_raw_kept)."""
    by_days: dict[int, list[int]] = {}
    for pk, days in Clinic.objects.values_list("pk", "lab_message_retention_days"):
        by_days.setdefault(days, []).append(pk)
    purged = 0
    with transaction.atomic():
        for days in sorted(by_days.keys() | {DEFAULT_RETENTION_DAYS}):
            clinics = Q(clinic_id__in=by_days.get(days, []))
            if days == DEFAULT_RETENTION_DAYS:
                clinics |= Q(clinic_id__isnull=True)
            purged += LabMessage.objects.filter(
                clinics, purged_at__isnull=True, received_at__lt=now - timedelta(days=days)
            ).update(raw="", answer="", purged_at=now)
    return purged
