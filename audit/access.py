"""Recording who read a patient's record.

Every view that shows part of a patient's record calls record_access once per request, staff
screens and the portal alike. The entry is an ACCESS entry of django-auditlog: who (the signed-in
user, or nobody for a link opened without signing in, such as a calendar feed), from which
address, when, and what was shown, linked to the patient and their clinic like every change.
"""

from __future__ import annotations

from auditlog import get_logentry_model
from django.db.models import Model

from accounts.client_address import client_address
from audit.entries import entry_store, new_entry

# Longer descriptions are cut: this is a label, not a copy of what was shown.
WHAT_MAX_LENGTH = 200


def record_access(request, patient, what: str, *, record: Model | None = None):
    """Record that `request` showed `what` ("patient page", "result history", "portal home",
    "calendar feed"...) of `patient`'s record. `record` is the object shown when it is not the
    patient (a result, say); it must belong to `patient`."""
    log_entry = get_logentry_model()
    user = getattr(request, "user", None)
    actor = user if user is not None and user.is_authenticated else None
    entry = new_entry(
        record or patient,
        action=log_entry.Action.ACCESS,
        changes=None,
        actor=actor,
        actor_email=getattr(actor, "email", None) or None,
        # The same rule as the middleware that stamps change entries (our proxies only).
        remote_addr=client_address(request) or None,
        additional_data={"viewed": what[:WHAT_MAX_LENGTH]},
    )
    entry_store(entry, patient)
    return entry


def record_export(
    request_or_actor,
    *,
    clinic,
    patient=None,
    what: str,
    fmt: str,
    filters: dict[str, str] | None = None,
):
    """Record an export before it is written: who (the request's user, a user given directly,
    or nobody for a command run from the shell), what ("who to call today", "monitoring
    report"...), in which format and with which filters. It is an ACCESS entry about
    `patient` when the export is part of one patient's record (their results grid: a read of
    the record like any other), else about `clinic`, so it sits in that clinic's trail."""
    log_entry = get_logentry_model()
    request = request_or_actor if hasattr(request_or_actor, "META") else None
    user = getattr(request, "user", None) if request is not None else request_or_actor
    actor = user if user is not None and user.is_authenticated else None
    subject = patient if patient is not None else clinic
    entry = new_entry(
        subject,
        action=log_entry.Action.ACCESS,
        changes=None,
        actor=actor,
        actor_email=getattr(actor, "email", None) or None,
        remote_addr=(client_address(request) or None) if request is not None else None,
        additional_data={
            # "viewed" is what the trail's pages show for an ACCESS entry.
            "viewed": f"export: {what} ({fmt.upper()})"[:WHAT_MAX_LENGTH],
            "export": {"what": what, "format": fmt, "filters": dict(filters or {})},
        },
    )
    entry_store(entry, subject)
    return entry
