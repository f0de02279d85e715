"""Parts of a patient's page kept drawn in the cache until the record changes. The patient
page keeps its whole body (everything below the navigation: the header, the overdue checks,
the therapies and courses, the charts, the results and the schedule's months), which changes
only when a result, an acknowledgement, a check, a course or the patient does; its statuses
also when the clinic's day turns, so the view puts the day in `vary`, with the patient row's
version and the names read with it (the named nurse, the protocol), which a rename changes
without touching the record. The portal's home page keeps its body the same way.

A part is stamped with the record's generation token (audit.record_changes: replaced by every
audit entry that changes the record, from any process) and the flag rules' (the charts draw
their limits; the results name their analytes), and keyed on everything else it depends on:
the patient (with the row's creation time, so a database restored under the same ids never
meets another's parts), the date format and clock, what the user may do there (the buttons
differ), and the address (links back to it). The tokens are read before the record, so a part
is never stamped newer than what it shows; without a usable cache the part is drawn every time.

Nothing here replaces the read's audit entry: the view writes it on every request.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

from accounts import generations
from audit.record_changes import record_key
from monitoring.results.rule_cache import RULES_KEY

log = logging.getLogger(__name__)


def page_parts(
    request, patient, draws: dict[str, Callable[[], str]], *, vary: tuple
) -> dict[str, SafeString]:
    """Each part named in `draws` of `patient`'s page for this request: kept, or drawn by its
    function and kept for settings.PAGE_PARTS_SECONDS (0: never kept). One read of the tokens
    and one of the parts, however many parts."""
    seconds = settings.PAGE_PARTS_SECONDS
    stamp = generations.tokens(record_key(patient.pk), RULES_KEY) if seconds else None
    if stamp is None:
        # The parts are rendered templates.
        return {name: mark_safe(draw()) for name, draw in draws.items()}  # noqa: S308
    user = request.user
    depends_on = (
        generations.code_stamp(),
        patient.pk,
        patient.created_at.isoformat(),
        stamp,
        translation.get_language(),
        timezone.get_current_timezone_name(),
        user.is_superuser,
        sorted(user.get_all_permissions()),
        request.get_full_path(),
        vary,
    )
    keys = {
        name: f"page-part:{hashlib.sha256(repr((name, *depends_on)).encode()).hexdigest()}"
        for name in draws
    }
    try:
        kept = cache.get_many(list(keys.values()))
    except Exception:
        log.warning("page parts: the cache could not be read", exc_info=True)
        kept = {}
    parts, drawn = {}, {}
    for name, key in keys.items():
        html = kept.get(key)
        if html is None:
            html = drawn[key] = draws[name]()
        parts[name] = mark_safe(html)  # noqa: S308
    if drawn:
        try:
            cache.set_many(drawn, timeout=seconds)
        except Exception:
            log.warning("page parts: the cache could not be written", exc_info=True)
    return parts
