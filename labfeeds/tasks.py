"""The lab feeds' periodic job: emptying lab messages past their clinic's retention period
(labfeeds.retention), daily from beat (config/settings/base.py, CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from labfeeds.retention import messages_purge


@shared_task(name="labfeeds.purge_messages")
def purge_messages() -> int:
    return messages_purge(now=timezone.now())
