"""Recording changes to who belongs to a clinic: its staff and its nurse group.

django-auditlog records a clinic's own columns when it is saved; its many-to-many members are
written afterwards, by the admin's save_related, and auditlog's m2m entries are not linked to a
clinic. So the admin takes a snapshot before and records one UPDATE entry afterwards, with the
members before and after as the old and new values, linked to the clinic like its settings."""

from __future__ import annotations

from auditlog import get_logentry_model

from audit.entries import entries_store, new_entry

MEMBERSHIPS = ("staff", "nurses")


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def clinic_members(clinic) -> dict[str, str]:
    """Each membership of `clinic` as one line of names, sorted (empty for a new clinic)."""
    if clinic.pk is None:
        return dict.fromkeys(MEMBERSHIPS, "")
    return {
        name: ", ".join(sorted(_person(user) for user in getattr(clinic, name).all()))
        for name in MEMBERSHIPS
    }


def clinic_members_record(*, clinic, before: dict[str, str]) -> None:
    """Record what changed in `clinic`'s memberships since `before` (clinic_members), if any."""
    after = clinic_members(clinic)
    changes = {
        name: [before[name] or "None", after[name] or "None"]
        for name in MEMBERSHIPS
        if before[name] != after[name]
    }
    if changes:
        entry = new_entry(clinic, action=get_logentry_model().Action.UPDATE, changes=changes)
        entries_store([entry], [clinic])
